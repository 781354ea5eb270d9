// Small DOM helpers shared by the views. Text always goes in as text nodes,
// never as HTML: names, messages and errors come from outside.

/**
 * An element: `h("button", { type: "button", onclick: f }, "Delete")`.
 * Attributes starting with `on` become listeners; `null`/`false` ones are skipped.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

export const $ = (selector) => document.querySelector(selector);

/** Shows `text` in a message line; `error` styles it as one. */
export function say(element, text, error = false) {
  element.textContent = text;
  element.classList.toggle("error", error);
}

/** A time of day for an RFC 3339 timestamp (or "" when there is none). */
export function time(value) {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleTimeString();
}

/** Date and time for an RFC 3339 timestamp. */
export function dateTime(value) {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

/**
 * Runs an action of a button: disabled while it runs, the outcome said in
 * `message`. Returns what the action returned, or undefined when it failed.
 */
export async function act(button, message, action, done) {
  button.disabled = true;
  try {
    const result = await action();
    if (done) say(message, done);
    return result;
  } catch (e) {
    say(message, `${e.message}${e.code ? ` (${e.code})` : ""}`, true);
    return undefined;
  } finally {
    button.disabled = false;
  }
}
