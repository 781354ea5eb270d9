// What the views share: the frames of `/ws` and `/api/listen/{id}` (as
// "frame" events on `bus`) and the list of instances (as "instances" events),
// so every view sees one state and the server is asked once.

import { get } from "./api.js";

export const bus = new EventTarget();

/** The instances as last listed, by id, in the server's order. */
export let instances = [];

let pending = null;
let again = false;

/**
 * Lists the instances again and tells the views. Calls while a listing is
 * under way are folded into one more listing after it, so a burst of status
 * frames costs two requests, not one per frame.
 */
export function refreshInstances() {
  if (pending) {
    again = true;
    return pending;
  }
  pending = (async () => {
    try {
      do {
        again = false;
        const answer = await get("/api/instances");
        instances = answer.instances;
        bus.dispatchEvent(new CustomEvent("instances", { detail: instances }));
      } while (again);
    } finally {
      pending = null;
    }
  })();
  return pending;
}

/** Publishes a WebSocket frame to the views. */
export function publish(frame, source) {
  bus.dispatchEvent(new CustomEvent("frame", { detail: { frame, source } }));
}

/** Forgets everything (on sign-out). */
export function reset() {
  instances = [];
  bus.dispatchEvent(new CustomEvent("instances", { detail: instances }));
}
