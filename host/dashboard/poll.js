// A poll sent through an instance from the dashboard (`POST /api/send/{id}/poll`),
// from the instance's card: a question, one option per line, and whether a
// voter may pick several. The votes come back as `poll_vote` events in the
// feed. The outcome is said next to the form, as for a text.

import { post, seg } from "./api.js";
import { failure } from "./compose.js";
import { h, say, time } from "./dom.js";

/** WhatsApp's bounds on a poll's options. */
const MIN_OPTIONS = 2;
const MAX_OPTIONS = 12;

/** The form that sends a poll as instance `id`, for its card. */
export function pollForm(id) {
  const toId = `poll-${id}-to`;
  const nameId = `poll-${id}-name`;
  const optionsId = `poll-${id}-options`;
  const manyId = `poll-${id}-many`;
  const titleId = `poll-${id}-title`;
  const hintId = `poll-${id}-hint`;
  const line = h("p", { class: "message", "data-field": "poll-message", role: "status", "aria-live": "polite" });
  return h(
    "form",
    { class: "compose", "data-field": "poll", "aria-labelledby": titleId, onsubmit: (event) => send(event, id, line) },
    h("h4", { id: titleId }, "Send a poll"),
    h("label", { for: toId }, "Send the poll to"),
    h("input", { id: toId, name: "to", required: true, spellcheck: "false", autocomplete: "off", placeholder: "6281234567890" }),
    h("label", { for: nameId }, "Question"),
    h("input", { id: nameId, name: "question", required: true, autocomplete: "off" }),
    h("label", { for: optionsId }, "Options"),
    h("textarea", { id: optionsId, name: "options", rows: 3, required: true, "aria-describedby": hintId }),
    h("p", { id: hintId, class: "hint muted" }, `One option per line, ${MIN_OPTIONS} to ${MAX_OPTIONS}, each different.`),
    h("label", { class: "check" }, h("input", { id: manyId, type: "checkbox", name: "many" }), " Voters may pick several options"),
    h("div", { class: "row" }, h("button", { type: "submit" }, "Send poll")),
    line,
  );
}

async function send(event, id, line) {
  event.preventDefault();
  const form = event.currentTarget;
  const to = form.to.value.trim();
  const name = form.question.value.trim();
  const options = form.options.value.split("\n").map((o) => o.trim()).filter((o) => o);
  // The server checks all of this too; saying it here spares a round trip.
  if (!to || !name) {
    say(line, "Not sent: both the recipient and the question are needed.", true);
    return;
  }
  if (options.length < MIN_OPTIONS || options.length > MAX_OPTIONS) {
    say(line, `Not sent: a poll has ${MIN_OPTIONS} to ${MAX_OPTIONS} options, one per line (this one has ${options.length}).`, true);
    return;
  }
  const button = form.querySelector('button[type="submit"]');
  if (button.getAttribute("aria-disabled") === "true") return;
  button.setAttribute("aria-disabled", "true");
  say(line, `Sending the poll to ${to}…`);
  try {
    const selectableCount = form.many.checked ? options.length : 1;
    const sent = await post(`/api/send/${seg(id)}/poll`, { to, name, options, selectableCount });
    say(line, `Poll sent to ${sent.to} at ${time(sent.timestamp)} (message id ${sent.message_id}).`);
    form.question.value = "";
    form.options.value = "";
    form.question.focus();
  } catch (e) {
    say(line, failure("Poll not sent", e), true);
  } finally {
    button.setAttribute("aria-disabled", "false");
  }
}
