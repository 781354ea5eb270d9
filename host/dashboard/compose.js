// What a person sends through an instance from the dashboard: a text, from
// the instance's card (`POST /api/send/{id}`), and a reaction to a message of
// the live feed (`POST /api/messages/{id}/react`). Each outcome is said next
// to what was pressed, so it is seen where the person is looking.

import { post, seg } from "./api.js";
import { h, say, time } from "./dom.js";

/** The reactions offered on a message: a few common ones, not a picker. */
export const EMOJIS = ["👍", "❤️", "😂", "😮", "🙏"];

/** A failure as a person reads it: the server's sentence, then its code. */
export function failure(what, e) {
  return `${what}: ${e.message}${e.code ? ` (${e.code})` : ""}`;
}

/** The form that sends a text as instance `id`, for its card. */
export function sendForm(id) {
  const toId = `send-${id}-to`;
  const textId = `send-${id}-text`;
  const hintId = `send-${id}-hint`;
  const titleId = `send-${id}-title`;
  const line = h("p", { class: "message", "data-field": "send-message", role: "status", "aria-live": "polite" });
  return h(
    "form",
    { class: "compose", "data-field": "send", "aria-labelledby": titleId, onsubmit: (event) => send(event, id, line) },
    h("h4", { id: titleId }, "Send a message"),
    h("label", { for: toId }, "Send to"),
    h("input", {
      id: toId, name: "to", required: true, spellcheck: "false", autocomplete: "off",
      placeholder: "6281234567890", "aria-describedby": hintId,
    }),
    h("p", { id: hintId, class: "hint muted" }, "A phone number in international form (country code first), or a JID: …@s.whatsapp.net, a group's …@g.us."),
    h("label", { for: textId }, "Message"),
    h("textarea", { id: textId, name: "message", rows: 2, required: true }),
    h("div", { class: "row" }, h("button", { type: "submit" }, "Send")),
    line,
  );
}

async function send(event, id, line) {
  event.preventDefault();
  const form = event.currentTarget;
  const to = form.to.value.trim();
  const message = form.message.value;
  // The server refuses an empty text too; saying it here spares a round trip.
  if (!to || !message.trim()) {
    say(line, "Not sent: both the recipient and the message are needed.", true);
    return;
  }
  // One send at a time (a second press would send the text twice).
  // aria-disabled, not disabled: a disabled button drops the keyboard focus.
  const button = form.querySelector('button[type="submit"]');
  if (button.getAttribute("aria-disabled") === "true") return;
  button.setAttribute("aria-disabled", "true");
  say(line, `Sending to ${to}…`);
  try {
    const sent = await post(`/api/send/${seg(id)}`, { to, message });
    say(line, `Sent to ${sent.to} at ${time(sent.timestamp)} (message id ${sent.message_id}).`);
    // The recipient stays: the next message usually goes to the same chat.
    form.message.value = "";
    form.message.focus();
  } catch (e) {
    say(line, failure("Not sent", e), true);
  } finally {
    button.setAttribute("aria-disabled", "false");
  }
}

/**
 * The reaction buttons of a received message in the feed, or null when the
 * frame names no message. `state` is the feed entry: it outlives its list
 * item (the filters rebuild the list), so the reaction sent and the last
 * outcome are kept there, and `state.paint` (set by the latest rendering)
 * shows an answer that comes back after a rebuild on the item now on screen.
 */
export function reactions(state, instanceId, messageId) {
  if (!instanceId || !messageId) return null;
  const line = h("span", { class: "reaction-message", role: "status" });
  const buttons = EMOJIS.map((emoji) =>
    h("button", { type: "button", class: "emoji", "data-emoji": emoji, title: `React with ${emoji}`, onclick: () => press(emoji) }, emoji),
  );
  const withdraw = h("button", { type: "button", class: "withdraw", onclick: () => press("") }, "Withdraw");
  const group = h("div", { class: "reactions", role: "group", "aria-label": "React to this message" }, ...buttons, withdraw, line);

  state.paint = () => {
    for (const button of buttons) button.setAttribute("aria-pressed", String(button.dataset.emoji === state.reaction));
    // aria-disabled, not disabled, as for the send button.
    for (const button of [...buttons, withdraw]) button.setAttribute("aria-disabled", String(Boolean(state.reacting)));
    group.setAttribute("aria-busy", String(Boolean(state.reacting)));
    say(line, state.reactionLine?.text ?? "", state.reactionLine?.error ?? false);
  };
  state.paint();

  async function press(emoji) {
    if (state.reacting) return; // one request at a time: their answers could cross
    state.reacting = true;
    state.reactionLine = { text: emoji ? `Reacting ${emoji}…` : "Withdrawing the reaction…", error: false };
    state.paint();
    try {
      await post(`/api/messages/${seg(instanceId)}/react`, { message_id: messageId, emoji });
      state.reaction = emoji;
      state.reactionLine = { text: emoji ? `Reacted ${emoji}` : "Reaction withdrawn", error: false };
    } catch (e) {
      state.reactionLine = { text: failure(emoji ? `Reaction ${emoji} not sent` : "Reaction not withdrawn", e), error: true };
    } finally {
      state.reacting = false;
      state.paint();
    }
  }

  return group;
}
