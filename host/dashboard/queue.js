// The send queue view, per instance: how many jobs wait and how many went,
// the jobs (filtered by status) with a cancel button on those still queued,
// and the instance's pacing rules to set. `queue.job` frames of `/ws` keep
// the list current: a job's row changes as its status does.

import { del, get, patch, seg } from "./api.js";
import { $, act, dateTime, h, say } from "./dom.js";
import { bus } from "./store.js";

const STATUSES = ["queued", "sending", "sent", "delivered", "read", "failed", "cancelled"];
/** One page of the listing: the server's most. */
const PAGE = 500;

const message = () => $("#queue-message");
const chosen = () => $("#queue-instance").value;

let reload = null;

export function init() {
  const filter = $("#queue-status");
  for (const status of STATUSES) filter.append(h("option", { value: status }, status));
  $("#queue-instance").addEventListener("change", load);
  filter.addEventListener("change", loadJobs);
  $("#queue-refresh").addEventListener("click", load);
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
}

/** Fills the instance picker, keeping the choice while it exists. */
function pick(list) {
  const select = $("#queue-instance");
  const before = select.value;
  select.replaceChildren(...list.map((i) => h("option", { value: i.instance_id }, i.instance_id)));
  if (list.length === 0) select.append(h("option", { value: "" }, "no instances yet"));
  if (list.some((i) => i.instance_id === before)) select.value = before;
  if (select.value !== before && !$("#view-queue").hidden) load();
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

/** Sets the instance's pacing: the fields given, the server's defaults for the rest. */
async function savePacing(event) {
  event.preventDefault();
  const id = chosen();
  if (!id) return;
  const form = event.currentTarget;
  const pacing = {};
  for (const name of ["per_minute", "per_hour", "per_day", "min_gap_ms", "max_gap_ms"]) {
    const value = form[name].value.trim();
    if (value !== "") pacing[name] = Number(value);
  }
  pacing.typing = form.typing.checked;
  const reset = Object.keys(pacing).length === 1 && !pacing.typing;
  await act(
    form.querySelector("button[type=submit]"),
    message(),
    () => patch(`/api/instances/${seg(id)}`, { pacing: reset ? null : pacing }),
    reset ? `Pacing of ${id}: the server's defaults.` : `Pacing of ${id} set.`,
  );
}

function emptyRow(text) {
  return h("tr", {}, h("td", { colspan: 8, class: "muted" }, text));
}
