// The live event feed: the frames of `/ws` (server-wide: QR codes, statuses,
// plugin errors) and of `/api/listen/{id}` for every instance (messages,
// receipts, group events), newest first, filterable by instance and kind.
// At most MAX entries are kept, in memory and in the page. A message can be
// reacted to from its entry (compose.js).

import { liveSocket, seg } from "./api.js";
import { reactions } from "./compose.js";
import { $, h, time } from "./dom.js";
import { bus, publish } from "./store.js";

const MAX = 500;

/** The kinds docs/API.md lists, offered in the filter before any has been seen. */
const KINDS = [
  "incoming_message", "message.undecryptable", "message.receipt", "group.participants", "group.update", "poll.vote",
  "chat.state", "call.offer", "call.missed", "call.ended", "instance.offline",
  "qr", "instance.status", "instance.paired", "instance.logged_out", "plugin.error", "system", "queue.job",
];

/** Newest last. */
let entries = [];
/** One `/api/listen/{id}` socket per instance. */
const listeners = new Map();

export function init() {
  const kinds = $("#feed-kind");
  for (const kind of KINDS) kinds.append(h("option", { value: kind }, kind));
  $("#feed-instance").addEventListener("change", rerender);
  kinds.addEventListener("change", rerender);
  $("#feed-clear").addEventListener("click", () => {
    entries = [];
    rerender();
  });
  bus.addEventListener("frame", (event) => add(event.detail.frame));
  bus.addEventListener("instances", (event) => sync(event.detail));
  count();
}

export function show() {}

export function stop() {
  for (const socket of listeners.values()) socket.close();
  listeners.clear();
  entries = [];
  rerender();
}

/** Listens to exactly the instances that exist. */
function sync(list) {
  const ids = new Set(list.map((i) => i.instance_id));
  for (const [id, socket] of listeners) {
    if (!ids.has(id)) {
      socket.close();
      listeners.delete(id);
    }
  }
  for (const id of ids) {
    if (!listeners.has(id)) {
      listeners.set(id, liveSocket(`/api/listen/${seg(id)}`, { onFrame: (frame) => publish(frame, id) }));
    }
  }
  const select = $("#feed-instance");
  const chosen = select.value;
  select.replaceChildren(h("option", { value: "" }, "all"), ...[...ids].map((id) => h("option", { value: id }, id)));
  // A filter on an instance that is gone still applies to its old entries.
  if (chosen && !ids.has(chosen)) select.append(h("option", { value: chosen }, chosen));
  select.value = chosen;
}

function add(frame) {
  if (!frame || typeof frame.event !== "string") return;
  const entry = { frame, instance: frame.data?.instance_id ?? "", kind: frame.event };
  entries.push(entry);
  if (entries.length > MAX) entries.splice(0, entries.length - MAX);
  const kinds = $("#feed-kind");
  if (![...kinds.options].some((o) => o.value === entry.kind)) kinds.append(h("option", { value: entry.kind }, entry.kind));
  if (matches(entry)) {
    const list = $("#feed-list");
    list.prepend(item(entry));
    while (list.children.length > MAX) list.lastElementChild.remove();
  }
  count();
}

function matches(entry) {
  const instance = $("#feed-instance").value;
  const kind = $("#feed-kind").value;
  return (!instance || entry.instance === instance) && (!kind || entry.kind === kind);
}

function rerender() {
  const shown = entries.filter(matches).reverse();
  $("#feed-list").replaceChildren(...shown.map(item));
  count();
}

function count() {
  const shown = $("#feed-list").children.length;
  $("#feed-count").textContent = `${shown} shown, ${entries.length} kept (at most ${MAX})`;
}

function item(entry) {
  const { frame } = entry;
  return h(
    "li",
    { class: "event", "data-kind": entry.kind, "data-instance": entry.instance },
    h("time", { datetime: frame.timestamp ?? "" }, time(frame.timestamp)),
    h("span", { class: "instance" }, entry.instance || "server"),
    h("span", { class: "kind" }, entry.kind),
    h("span", { class: "summary" }, summary(frame)),
    // Only a message has something to react to; its id and instance are in the frame's data.
    entry.kind === "incoming_message" ? reactions(entry, frame.data?.instance_id, frame.data?.message_id) : null,
    h("details", {}, h("summary", {}, "JSON"), h("pre", {}, JSON.stringify(frame, null, 2))),
  );
}

/** One line about a frame, from the fields docs/API.md gives each kind. */
function summary({ event, data = {} }) {
  switch (event) {
    case "incoming_message": {
      const who = data.push_name || data.from;
      const where = data.is_group ? ` in ${data.from}` : "";
      return `${data.from_me ? "(sent) " : ""}${who}${where}: ${data.message || "(no text)"}`;
    }
    case "qr":
      return `new QR code, valid until ${time(data.expires_at)}`;
    case "instance.status":
      return `${data.previous} → ${data.status}`;
    case "instance.paired":
      return `linked as +${data.phone_number}${data.push_name ? ` (${data.push_name})` : ""}`;
    case "instance.logged_out":
      return `logged out: ${data.reason}`;
    case "message.receipt":
      return `${data.receipt_type} by ${data.sender}: ${(data.ids ?? []).length} message(s)`;
    case "group.participants":
      return `${data.action} in ${data.group}: ${(data.jids ?? []).join(", ")}`;
    case "group.update": {
      const what = data.text != null ? `: ${data.text}` : data.enabled != null ? ` ${data.enabled ? "on" : "off"}` : "";
      return `${data.change} changed in ${data.group}${what}${data.author ? ` by ${data.author}` : ""}`;
    }
    case "poll.vote": {
      const who = data.push_name || data.sender;
      const picked = (data.selected_options ?? []).join(", ") || "(vote withdrawn)";
      const totals = (data.totals ?? []).map((t) => `${t.option} ${t.votes}`).join(" · ");
      return `${who} voted ${picked} on poll ${data.poll_id}; totals: ${totals}`;
    }
    case "chat.state":
      return `${data.sender} ${data.state === "paused" ? "stopped" : `is ${data.state}`}${data.is_group ? ` in ${data.chat}` : ""}`;
    case "plugin.error":
      return `${data.plugin}: ${data.error}`;
    case "system":
      return data.message ?? "";
    default:
      return JSON.stringify(data);
  }
}
