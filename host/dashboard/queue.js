// The send queue view, per instance: how many jobs wait and how many went,
// the jobs (filtered by status) with a cancel button on those still queued,
// and the instance's pacing: the rules in force (its own or the server's
// defaults) and a form to set its own. `queue.job` frames of `/ws` keep the
// list current: a job's row changes as its status does.

import { del, get, patch, seg } from "./api.js";
import { $, act, dateTime, h, say } from "./dom.js";
import { bus } from "./store.js";

const STATUSES = ["queued", "sending", "sent", "delivered", "read", "failed", "cancelled"];
/** One page of the listing: the server's most. */
const PAGE = 500;

const message = () => $("#queue-message");
const chosen = () => $("#queue-instance").value;

let reload = null;
/** The chosen instance's own pacing as last read: what the form does not edit is kept from it. */
let own = {};

/** The pacing rules as the page shows them, in the order of the form. */
const RULES = [
  ["per_minute", "Per minute", limit],
  ["per_hour", "Per hour", limit],
  ["per_day", "Per day", limit],
  ["min_gap_ms", "Gap from (ms)", limit],
  ["max_gap_ms", "Gap to (ms)", limit],
  ["typing", "Typing before texts", (on) => (on ? "yes" : "no")],
  ["quiet_hours", "Quiet hours", (q) => (q ? `${q.start}–${q.end} ${q.timezone}` : "none")],
  ["direct_sends", "Direct sends", String],
];
/** The rules the form edits; the others are kept as they are. */
const EDITED = ["per_minute", "per_hour", "per_day", "min_gap_ms", "max_gap_ms", "typing"];

function limit(n) {
  return n === 0 ? "none" : String(n);
}

export function init() {
  const filter = $("#queue-status");
  for (const status of STATUSES) filter.append(h("option", { value: status }, status));
  $("#queue-instance").addEventListener("change", () => {
    load();
    loadPacing();
  });
  filter.addEventListener("change", loadJobs);
  $("#queue-refresh").addEventListener("click", () => {
    load();
    loadPacing();
  });
  $("#pacing-form").addEventListener("submit", savePacing);
  bus.addEventListener("instances", (event) => pick(event.detail));
  bus.addEventListener("frame", (event) => {
    const { frame } = event.detail;
    if (frame.event !== "queue.job" || frame.data?.instance_id !== chosen() || $("#view-queue").hidden) return;
    // A burst of frames (a bulk send) costs one listing, not one per frame.
    clearTimeout(reload);
    reload = setTimeout(load, 200);
  });
}

export function show() {
  load();
  loadPacing();
}

/** Fills the instance picker, keeping the choice while it exists. */
function pick(list) {
  const select = $("#queue-instance");
  const before = select.value;
  select.replaceChildren(...list.map((i) => h("option", { value: i.instance_id }, i.instance_id)));
  if (list.length === 0) select.append(h("option", { value: "" }, "no instances yet"));
  if (list.some((i) => i.instance_id === before)) select.value = before;
  if (select.value !== before && !$("#view-queue").hidden) {
    load();
    loadPacing();
  }
}

function load() {
  loadCounts();
  loadJobs();
}

/** How many of the instance's jobs are in `status` (a lower bound past one page). */
async function count(id, status) {
  const { jobs, next_after } = await get(`/api/queue/${seg(id)}?status=${status}&limit=${PAGE}`);
  return next_after ? `${jobs.length}+` : String(jobs.length);
}

async function loadCounts() {
  const id = chosen();
  if (!id) {
    for (const field of ["#queue-waiting", "#queue-sending", "#queue-sent"]) $(field).textContent = "–";
    return;
  }
  try {
    const [waiting, sending, sent, delivered, read] = await Promise.all(
      ["queued", "sending", "sent", "delivered", "read"].map((status) => count(id, status)),
    );
    if (id !== chosen()) return;
    $("#queue-waiting").textContent = waiting;
    $("#queue-sending").textContent = sending;
    $("#queue-sent").textContent = `${sent} sent, ${delivered} delivered, ${read} read`;
  } catch (e) {
    say(message(), e.message, true);
  }
}

async function loadJobs() {
  const body = $("#queue-table tbody");
  const id = chosen();
  if (!id) {
    body.replaceChildren(emptyRow("Create an instance first."));
    return;
  }
  const query = new URLSearchParams({ limit: String(PAGE) });
  const status = $("#queue-status").value;
  if (status) query.set("status", status);
  try {
    const { jobs } = await get(`/api/queue/${seg(id)}?${query}`);
    if (id !== chosen()) return;
    // Newest first: the listing is oldest first.
    jobs.reverse();
    body.replaceChildren(...(jobs.length ? jobs.map((job) => jobRow(id, job)) : [emptyRow("No jobs.")]));
  } catch (e) {
    say(message(), e.message, true);
  }
}

function jobRow(id, job) {
  const cancel = job.status === "queued"
    ? h("button", {
      type: "button",
      class: "danger",
      "aria-label": `Cancel job ${job.job_id}`,
      onclick: async (event) => {
        const done = await act(event.currentTarget, message(), () => del(`/api/queue/${seg(id)}/${job.job_id}`), `Job ${job.job_id} cancelled.`);
        if (done) load();
      },
    }, "Cancel")
    : null;
  return h(
    "tr",
    { "data-job": job.job_id, "data-status": job.status },
    h("td", {}, String(job.job_id)),
    h("td", {}, h("span", { class: "badge", "data-status": job.status }, job.status)),
    h("td", {}, job.kind),
    h("td", { class: "wrap" }, job.request?.to ?? ""),
    h("td", {}, dateTime(job.due_at)),
    h("td", {}, dateTime(job.sent_at)),
    h("td", { class: "wrap" }, job.failure ?? ""),
    h("td", {}, cancel),
  );
}

/**
 * Reads the instance's pacing: the rules in force go in the table, its own
 * in the form (a field it does not set stays empty).
 */
async function loadPacing() {
  const body = $("#pacing-current tbody");
  const id = chosen();
  if (!id) {
    own = {};
    body.replaceChildren();
    return;
  }
  try {
    const { pacing, effective } = await get(`/api/instances/${seg(id)}/pacing`);
    if (id !== chosen()) return;
    own = pacing;
    body.replaceChildren(...RULES.map(([name, label, format]) => {
      const source = name in pacing ? "instance" : "default";
      return h(
        "tr",
        { "data-rule": name, "data-source": source },
        h("th", { scope: "row" }, label),
        h("td", {}, format(effective[name])),
        h("td", { class: "muted" }, source === "instance" ? "this instance" : "server default"),
      );
    }));
    const form = $("#pacing-form");
    for (const name of EDITED.filter((name) => name !== "typing")) form[name].value = pacing[name] ?? "";
    form.typing.checked = pacing.typing === true;
  } catch (e) {
    say(message(), e.message, true);
  }
}

/**
 * Sets the instance's pacing: the fields given, the server's defaults for
 * the rest of the form's; the rules the form does not edit are kept.
 */
async function savePacing(event) {
  event.preventDefault();
  const id = chosen();
  if (!id) return;
  const form = event.currentTarget;
  const pacing = {};
  for (const [name, value] of Object.entries(own)) if (!EDITED.includes(name)) pacing[name] = value;
  for (const name of EDITED.filter((name) => name !== "typing")) {
    const value = form[name].value.trim();
    if (value !== "") pacing[name] = Number(value);
  }
  pacing.typing = form.typing.checked;
  const reset = Object.keys(pacing).length === 1 && !pacing.typing;
  const saved = await act(
    form.querySelector("button[type=submit]"),
    message(),
    () => patch(`/api/instances/${seg(id)}`, { pacing: reset ? null : pacing }),
    reset ? `Pacing of ${id}: the server's defaults.` : `Pacing of ${id} set.`,
  );
  if (saved) await loadPacing();
}

function emptyRow(text) {
  return h("tr", {}, h("td", { colspan: 8, class: "muted" }, text));
}
