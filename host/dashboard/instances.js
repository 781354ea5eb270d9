// The instances view: one card per instance, kept in place as frames change
// its status (so focus stays where it was), with create, delete, log out,
// reconnect, linking by QR code or by phone code, and, once linked, sending
// a text (compose.js).

import { del, post, request, seg } from "./api.js";
import { sendForm } from "./compose.js";
import { pollForm } from "./poll.js";
import { groupsPanel } from "./groups.js";
import { $, act, h, say } from "./dom.js";
import { bus, refreshInstances } from "./store.js";

/** Statuses in which the instance waits to be linked to a phone. */
const UNLINKED = new Set(["qr_required", "pairing", "logged_out"]);

/** Cards by instance id. */
const cards = new Map();
/** Instances whose QR code is on screen, with the blob URL of the image. */
const qrs = new Map();
/** The latest QR request per instance: rotations can overtake each other. */
const tickets = new Map();

export function init() {
  $("#instance-create").addEventListener("submit", create);
  bus.addEventListener("instances", (event) => render(event.detail));
  bus.addEventListener("frame", (event) => onFrame(event.detail.frame));
}

export function show() {
  refreshInstances().catch((e) => say(message(), e.message, true));
}

export function stop() {
  for (const id of [...qrs.keys()]) hideQr(id);
}

const message = () => $("#instances-message");

async function create(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const body = {};
  if (form.instance_id.value.trim()) body.instance_id = form.instance_id.value.trim();
  if (form.name.value.trim()) body.name = form.name.value.trim();
  const button = form.querySelector("button");
  const created = await act(button, message(), () => post("/api/instances", body));
  if (!created) return;
  form.reset();
  say(message(), `Created ${created.instance_id}. Its instance token (shown once): ${created.token}`);
  await refreshInstances().catch(() => {});
  // A new instance is there to be linked: show its QR code straight away.
  showQr(created.instance_id);
  cards.get(created.instance_id)?.querySelector("h3")?.focus();
}

function onFrame(frame) {
  const data = frame.data ?? {};
  const id = data.instance_id;
  if (!id) return;
  switch (frame.event) {
    case "qr":
      // WhatsApp rotated the code: fetch the new image.
      if (qrs.has(id)) loadQr(id);
      break;
    case "instance.paired":
      hideQr(id);
      refreshInstances().catch(() => {});
      break;
    case "instance.status":
      if (data.status === "online") hideQr(id);
      refreshInstances().catch(() => {});
      break;
    case "instance.logged_out":
      refreshInstances().catch(() => {});
      break;
  }
}

function render(list) {
  const container = $("#instance-list");
  const seen = new Set();
  for (const info of list) {
    seen.add(info.instance_id);
    let card = cards.get(info.instance_id);
    if (!card) {
      card = newCard(info.instance_id);
      cards.set(info.instance_id, card);
    }
    container.append(card); // keeps the server's order; moves, never clones
    update(card, info);
  }
  for (const [id, card] of cards) {
    if (!seen.has(id)) {
      hideQr(id);
      card.remove();
      cards.delete(id);
    }
  }
  if (list.length === 0) container.replaceChildren(h("p", { class: "muted" }, "No instances yet: create one above."));
  else container.querySelector(":scope > p.muted")?.remove();
}

function newCard(id) {
  const titleId = `instance-${id}-title`;
  const card = h(
    "article",
    { class: "card", "data-instance": id, "aria-labelledby": titleId },
    h("header", { class: "card-head" }, h("h3", { id: titleId, tabindex: "-1" }), h("span", { class: "badge", "data-field": "status" })),
    h("p", { class: "linked", "data-field": "linked", role: "status" }),
    h("p", { class: "health", "data-field": "health", role: "status", hidden: true }),
    h("dl", { class: "facts", "data-field": "facts" }),
    h("div", { class: "qr", "data-field": "qr", hidden: true },
      h("img", { alt: `QR code to link ${id}: on the phone, WhatsApp → Linked devices → Link a device`, width: 264, height: 264 }),
      h("p", { class: "muted" }, "Scan it with WhatsApp on the phone: Linked devices → Link a device. It refreshes as WhatsApp rotates it.")),
    h("div", { class: "link-actions", "data-field": "link" },
      h("button", { type: "button", "data-field": "show-qr", onclick: () => showQr(id) }, "Show QR code"),
      pairCodeForm(id),
      h("p", { class: "code", "data-field": "code", role: "status" })),
    sendForm(id),
    pollForm(id),
    groupsPanel(id),
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: (e) => reconnect(id, e.currentTarget) }, "Reconnect"),
      h("button", { type: "button", onclick: (e) => downloadContacts(id, e.currentTarget) }, "Contacts (CSV)"),
      h("button", { type: "button", onclick: (e) => logout(id, e.currentTarget) }, "Log out"),
      h("button", { type: "button", class: "danger", onclick: (e) => remove(id, e.currentTarget) }, "Delete")),
  );
  return card;
}

function pairCodeForm(id) {
  const inputId = `pair-${id}`;
  return h(
    "form",
    {
      class: "row",
      onsubmit: async (event) => {
        event.preventDefault();
        const form = event.currentTarget;
        const phone = form.phone.value.trim();
        const answer = await act(form.querySelector("button"), message(), () =>
          post(`/api/instances/${seg(id)}/pair-code`, { phone }),
        );
        if (answer) {
          const line = cards.get(id)?.querySelector('[data-field="code"]');
          if (line) line.textContent = `On the phone (${phone}): Linked devices → Link with phone number, then type ${answer.code}`;
        }
      },
    },
    h("label", { for: inputId }, "Phone number"),
    h("input", { id: inputId, name: "phone", inputmode: "numeric", placeholder: "6281234567890", required: true }),
    h("button", { type: "submit" }, "Get pairing code"),
  );
}

function update(card, info) {
  const field = (name) => card.querySelector(`[data-field="${name}"]`);
  card.querySelector("h3").textContent = info.name && info.name !== info.instance_id ? `${info.name} (${info.instance_id})` : info.instance_id;
  const badge = field("status");
  badge.textContent = info.status;
  badge.dataset.status = info.status;
  card.dataset.status = info.status;
  const linked = field("linked");
  linked.textContent = info.phone_number && info.status !== "logged_out"
    ? `Linked as +${info.phone_number}${info.push_name ? ` (${info.push_name})` : ""}`
    : "Not linked";
  // A ban says why and until when; otherwise the last connection error, if any.
  const health = field("health");
  if (info.ban) {
    health.textContent = `Banned by WhatsApp: ${info.ban.reason}. Reconnects by itself at ${new Date(info.ban.expires_at).toLocaleString()}.`;
  } else if (info.last_error && info.status !== "online") {
    health.textContent = `Last connection error: ${info.last_error.message}`;
  } else {
    health.textContent = "";
  }
  health.hidden = !health.textContent;
  const stats = info.stats ?? {};
  field("facts").replaceChildren(
    ...fact("Created", info.created_at),
    ...fact("Connected", info.connected_at),
    ...fact("Last seen", info.last_seen),
    ...fact("Last inbound", stats.last_inbound_at),
    ...count("Reconnects", stats.reconnects),
    ...count("Send failures", stats.send_failures),
  );
  const unlinked = UNLINKED.has(info.status);
  field("link").hidden = !unlinked;
  // Linked but not online (connecting, disconnected) keeps the form: a send
  // then fails with the server's 503, whose message says why.
  field("send").hidden = unlinked;
  field("poll").hidden = unlinked;
  field("groups").hidden = unlinked;
  if (!unlinked) {
    hideQr(info.instance_id);
    field("code").textContent = "";
  }
}

/** A counter since the server started, shown once it is above zero. */
function count(label, value) {
  if (!value) return [];
  return [h("dt", {}, label), h("dd", {}, String(value))];
}

function fact(label, value) {
  if (!value) return [];
  return [h("dt", {}, label), h("dd", {}, h("time", { datetime: value }, new Date(value).toLocaleString()))];
}

function showQr(id) {
  if (!qrs.has(id)) qrs.set(id, null);
  loadQr(id);
}

/** Fetches the QR image with the token (an <img src> could not send it). */
async function loadQr(id) {
  const card = cards.get(id);
  const ticket = (tickets.get(id) ?? 0) + 1;
  tickets.set(id, ticket);
  try {
    const response = await request("GET", `/api/instances/${seg(id)}/qr?format=png`, { raw: true });
    const blob = await response.blob();
    if (!qrs.has(id)) return; // linked or hidden meanwhile
    if (tickets.get(id) !== ticket) return; // a newer code is on its way: never show an older one after it
    const old = qrs.get(id);
    const url = URL.createObjectURL(blob);
    qrs.set(id, url);
    if (old) URL.revokeObjectURL(old);
    const box = card?.querySelector('[data-field="qr"]');
    if (box) {
      box.querySelector("img").src = url;
      box.hidden = false;
      // Relabelled, not hidden: the keyboard focus may be on it.
      card.querySelector('[data-field="show-qr"]').textContent = "Fetch the QR code again";
    }
  } catch (e) {
    if (tickets.get(id) !== ticket) return;
    hideQr(id);
    // 409: linked in the meantime, which the status frame shows anyway.
    if (e.status !== 409) say(message(), `QR code of ${id}: ${e.message}`, true);
  }
}

function hideQr(id) {
  const url = qrs.get(id);
  if (url) URL.revokeObjectURL(url);
  qrs.delete(id);
  const box = cards.get(id)?.querySelector('[data-field="qr"]');
  if (box) {
    box.hidden = true;
    box.querySelector("img").removeAttribute("src");
    cards.get(id).querySelector('[data-field="show-qr"]').textContent = "Show QR code";
  }
}

async function reconnect(id, button) {
  await act(button, message(), () => post(`/api/instances/${seg(id)}/reconnect`), `${id}: reconnecting.`);
  refreshInstances().catch(() => {});
}

/** Saves the instance's contacts as CSV: fetched with the token, saved from a blob. */
async function downloadContacts(id, button) {
  await act(button, message(), async () => {
    const response = await request("GET", `/api/contacts/${seg(id)}/export.csv`, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const link = h("a", { href: url, download: `contacts-${id}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    URL.revokeObjectURL(url);
  }, `${id}: contacts saved.`);
}

async function logout(id, button) {
  if (!confirm(`Log ${id} out? Its device keys are wiped; it can be linked again.`)) return;
  await act(button, message(), () => post(`/api/instances/${seg(id)}/logout`), `${id} logged out.`);
  refreshInstances().catch(() => {});
}

async function remove(id, button) {
  if (!confirm(`Delete ${id}? It is logged out and removed for good.`)) return;
  await act(button, message(), () => del(`/api/instances/${seg(id)}`), `${id} deleted.`);
  refreshInstances().catch(() => {});
}
