// The plugins view: every plugin with its state, stats and last error;
// enable, disable, and upload a manifest with its component. A `plugin.error`
// frame lists them again while the view is open.

import { get, post, request, seg } from "./api.js";
import { $, act, h, say } from "./dom.js";
import { bus } from "./store.js";

const message = () => $("#plugins-message");

export function init() {
  $("#plugin-upload").addEventListener("submit", upload);
  bus.addEventListener("frame", (event) => {
    if (event.detail.frame.event === "plugin.error" && !$("#view-plugins").hidden) load();
  });
}

export function show() {
  load();
}

async function load() {
  try {
    const { plugins } = await get("/api/plugins");
    const body = $("#plugin-table tbody");
    body.replaceChildren(...plugins.map(row));
    if (plugins.length === 0) body.append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No plugins.")));
  } catch (e) {
    say(message(), e.message, true);
  }
}

function state(plugin) {
  if (plugin.quarantined) return "quarantined";
  if (!plugin.enabled) return "disabled";
  return plugin.running ? "running" : "not loaded";
}

function row(plugin) {
  const stats = plugin.stats ?? {};
  const lastError = plugin.load_error ?? stats.last_error ?? "";
  const current = state(plugin);
  const toggle = plugin.enabled && !plugin.quarantined
    ? h("button", { type: "button", "aria-label": `Disable ${plugin.name}`, onclick: (e) => setEnabled(plugin.name, false, e.currentTarget) }, "Disable")
    : h("button", { type: "button", "aria-label": `Enable ${plugin.name}`, onclick: (e) => setEnabled(plugin.name, true, e.currentTarget) }, "Enable");
  return h(
    "tr",
    { "data-plugin": plugin.name, "data-state": current },
    h("th", { scope: "row" }, plugin.name, plugin.version ? h("span", { class: "version" }, ` ${plugin.version}`) : null,
      plugin.builtin ? h("span", { class: "tag" }, "built-in") : null),
    h("td", {}, h("span", { class: "badge", "data-status": current }, current)),
    h("td", { class: "wrap" }, events(plugin.events)),
    h("td", { class: "num" }, String(stats.calls ?? 0)),
    h("td", { class: "num" }, String(stats.errors ?? 0)),
    h("td", { class: "num" }, stats.calls ? `${micros(stats.mean_us)} / ${micros(stats.p99_us)}` : "–"),
    h("td", { class: "wrap error-text" }, lastError),
    h("td", {}, toggle),
  );
}

/** The kinds a plugin subscribes to; `*` (or none) is every kind. */
function events(kinds = []) {
  return kinds.length === 0 || kinds.includes("*") ? "all" : kinds.join(", ");
}

function micros(us) {
  return us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${us} µs`;
}

async function setEnabled(name, enabled, button) {
  const verb = enabled ? "enable" : "disable";
  const done = await act(button, message(), () => post(`/api/plugins/${seg(name)}/${verb}`), `${name} ${verb}d.`);
  await load();
  if (done) $(`#plugin-table tr[data-plugin="${CSS.escape(name)}"] button`)?.focus();
}

async function upload(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const data = new FormData();
  data.append("manifest", await form.manifest.files[0].text());
  data.append("component", form.component.files[0]);
  const installed = await act(form.querySelector("button"), message(), () => request("POST", "/api/plugins", { form: data }));
  if (!installed) return;
  form.reset();
  say(message(), `${installed.name} installed${installed.running ? " and running" : ""}.`);
  load();
}
