// The server, as the dashboard talks to it: the admin token (this tab's
// sessionStorage only), JSON requests with `Authorization: Bearer`, and
// WebSockets that come back by themselves after a drop.

const TOKEN_KEY = "wasap.token";

/** An answer that is not a success, in docs/API.md's error shape. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized = () => {};

/** What to do when the server refuses the token (the app signs out). */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * One request to the API; the parsed JSON answer (or the Response itself
 * with `raw`). Throws ApiError; a 401 also signs out.
 */
export async function request(method, path, { json, form, raw, signal } = {}) {
  const headers = { Authorization: `Bearer ${token() ?? ""}` };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // the browser sets the multipart boundary
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body, signal });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "network", `the server cannot be reached (${e.message})`);
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401) onUnauthorized(error);
    throw error;
  }
  if (raw) return response;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

async function errorOf(response) {
  try {
    const body = await response.json();
    if (body && body.error) return new ApiError(response.status, body.error.code, body.error.message);
  } catch {
    // not JSON: fall through to the status line
  }
  return new ApiError(response.status, "http_" + response.status, response.statusText || "request failed");
}

export const get = (path, options) => request("GET", path, options);
export const post = (path, json, options) => request("POST", path, { ...options, json });
export const del = (path, options) => request("DELETE", path, options);
export const patch = (path, json, options) => request("PATCH", path, { ...options, json });

/** Path segment escaping for ids typed by people. */
export const seg = encodeURIComponent;

/**
 * A WebSocket on `path` (with `?token=`, browsers cannot send the header)
 * that reconnects with a growing delay while it is wanted. `onFrame` gets
 * each parsed frame, `onState` "open" or "closed". `close()` ends it for good.
 */
export function liveSocket(path, { onFrame, onState = () => {} }) {
  let socket = null;
  let wanted = true;
  let delay = 500;
  let timer = null;

  function open() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}${path}?token=${encodeURIComponent(token() ?? "")}`;
    socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      delay = 500;
      onState("open");
    });
    socket.addEventListener("message", (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return; // frames are JSON; anything else is not ours to show
      }
      onFrame(frame);
    });
    socket.addEventListener("close", () => {
      socket = null;
      if (!wanted) return;
      onState("closed");
      // Up to 30 s apart with some jitter, so a restarted server is not
      // hit by every tab at the same instant.
      timer = setTimeout(open, delay * (0.75 + Math.random() / 2));
      delay = Math.min(delay * 2, 30000);
    });
  }

  open();
  return {
    close() {
      wanted = false;
      clearTimeout(timer);
      if (socket) socket.close(1000, "closed by the dashboard");
    },
  };
}
