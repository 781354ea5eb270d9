// The webhooks view, per instance: set the primary webhook or add another,
// list and delete them; the deliveries of the instance's events with their
// status, and a retry of a failed one.

import { del, get, post, seg } from "./api.js";
import { $, act, dateTime, h, say } from "./dom.js";
import { bus } from "./store.js";

const message = () => $("#webhooks-message");
const chosen = () => $("#webhook-instance").value;

export function init() {
  $("#webhook-instance").addEventListener("change", load);
  $("#webhook-form").addEventListener("submit", save);
  $("#webhook-kind").addEventListener("change", (event) => {
    $("#webhook-events").disabled = event.currentTarget.value === "primary";
  });
  $("#webhook-events").disabled = true;
  $("#delivery-status").addEventListener("change", loadDeliveries);
  $("#delivery-refresh").addEventListener("click", loadDeliveries);
  bus.addEventListener("instances", (event) => pick(event.detail));
}

export function show() {
  load();
}

/** Fills the instance picker, keeping the choice while it exists. */
function pick(list) {
  const select = $("#webhook-instance");
  const before = select.value;
  select.replaceChildren(...list.map((i) => h("option", { value: i.instance_id }, i.instance_id)));
  if (list.length === 0) select.append(h("option", { value: "" }, "no instances yet"));
  if (list.some((i) => i.instance_id === before)) select.value = before;
  if (select.value !== before && !$("#view-webhooks").hidden) load();
}

function load() {
  loadWebhooks();
  loadDeliveries();
}

async function loadWebhooks() {
  const body = $("#webhook-table tbody");
  const id = chosen();
  $("#webhook-form button").disabled = !id;
  if (!id) {
    body.replaceChildren(emptyRow(5, "Create an instance first."));
    return;
  }
  try {
    const { webhooks } = await get(`/api/instances/${seg(id)}/webhooks`);
    if (id !== chosen()) return;
    body.replaceChildren(...(webhooks.length ? webhooks.map((w) => webhookRow(id, w)) : [emptyRow(5, "No webhooks.")]));
  } catch (e) {
    say(message(), e.message, true);
  }
}

function webhookRow(id, webhook) {
  return h(
    "tr",
    { "data-webhook": webhook.id },
    h("td", { class: "wrap" }, webhook.url),
    h("td", {}, webhook.format),
    h("td", {}, webhook.primary ? `primary: ${webhook.events.join(", ")}` : webhook.events.length ? webhook.events.join(", ") : "all"),
    h("td", {}, webhook.enabled ? "enabled" : "disabled"),
    h("td", {}, h("button", {
      type: "button",
      class: "danger",
      "aria-label": `Delete webhook ${webhook.url}`,
      onclick: async (event) => {
        if (!confirm(`Delete the webhook to ${webhook.url}?`)) return;
        await act(event.currentTarget, message(), () => del(`/api/instances/${seg(id)}/webhooks/${seg(webhook.id)}`), "Webhook deleted.");
        loadWebhooks();
      },
    }, "Delete")),
  );
}

async function save(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const id = chosen();
  if (!id) return;
  const url = form.url.value.trim();
  const secret = form.secret.value;
  const kind = form.kind.value;
  let action;
  if (kind === "primary") {
    action = () => post(`/api/instances/${seg(id)}/webhook-setconfig`, { url, ...(secret ? { secret } : {}) });
  } else {
    const events = form.events.value.split(/[\s,]+/).filter(Boolean);
    action = () => post(`/api/instances/${seg(id)}/webhooks`, { url, format: kind, events, ...(secret ? { secret } : {}) });
  }
  const answer = await act(form.querySelector("button[type=submit]"), message(), action);
  if (!answer) return;
  form.url.value = "";
  form.secret.value = "";
  form.events.value = "";
  // The secret is shown by the server this once: the receiver needs it to check signatures.
  say(message(), `Webhook set for ${id}. Its signing secret (shown once): ${answer.secret}`);
  loadWebhooks();
}

async function loadDeliveries() {
  const body = $("#delivery-table tbody");
  const id = chosen();
  if (!id) {
    body.replaceChildren(emptyRow(7, "Create an instance first."));
    return;
  }
  const query = new URLSearchParams({ instance_id: id });
  const status = $("#delivery-status").value;
  if (status) query.set("status", status);
  try {
    const { deliveries } = await get(`/api/deliveries?${query}`);
    if (id !== chosen()) return;
    body.replaceChildren(...(deliveries.length ? deliveries.map(deliveryRow) : [emptyRow(7, "No deliveries.")]));
  } catch (e) {
    say(message(), e.message, true);
  }
}

function deliveryRow(delivery) {
  const retry = delivery.status === "failed"
    ? h("button", {
      type: "button",
      "aria-label": `Retry delivery ${delivery.id}`,
      onclick: async (event) => {
        await act(event.currentTarget, message(), () => post(`/api/deliveries/${seg(delivery.id)}/retry`), "Delivery queued again.");
        loadDeliveries();
      },
    }, "Retry")
    : null;
  return h(
    "tr",
    { "data-delivery": delivery.id, "data-status": delivery.status },
    h("td", {}, dateTime(delivery.created_at)),
    h("td", {}, delivery.event_kind),
    h("td", {}, delivery.format),
    h("td", {}, h("span", { class: "badge", "data-status": delivery.status }, delivery.status)),
    h("td", {}, String(delivery.attempts)),
    h("td", { class: "wrap" }, delivery.last_error ?? ""),
    h("td", {}, retry),
  );
}

function emptyRow(columns, text) {
  return h("tr", {}, h("td", { colspan: columns, class: "muted" }, text));
}
