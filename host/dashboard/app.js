// The dashboard's entry module: sign-in and sign-out, the navigation
// between views (by URL hash, so the back button and links work), and the
// server-wide WebSocket every view listens to.

import { ApiError, clearToken, get, liveSocket, setToken, setUnauthorizedHandler, token } from "./api.js";
import { $, say } from "./dom.js";
import { publish, refreshInstances, reset } from "./store.js";
import * as instancesView from "./instances.js";
import * as feedView from "./feed.js";
import * as webhooksView from "./webhooks.js";
import * as queueView from "./queue.js";
import * as pluginsView from "./plugins.js";

const VIEWS = {
  instances: instancesView,
  feed: feedView,
  webhooks: webhooksView,
  queue: queueView,
  plugins: pluginsView,
};

let globalSocket = null;

function showView(name) {
  for (const section of document.querySelectorAll(".view")) {
    section.hidden = section.id !== `view-${name}`;
  }
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function route() {
  if (!token()) {
    showView("signin");
    $("#signin-token").focus();
    return;
  }
  const name = location.hash.slice(1);
  const view = VIEWS[name] ? name : "instances";
  showView(view);
  VIEWS[view].show();
}

function setConnection(state) {
  const line = $("#connection");
  line.hidden = false;
  line.textContent = state === "open" ? "Live" : "Reconnecting…";
  line.classList.toggle("offline", state !== "open");
}

/** Everything that runs while signed in. */
function start() {
  $("#nav").hidden = false;
  $("#sign-out").hidden = false;
  globalSocket = liveSocket("/ws", {
    onFrame: (frame) => publish(frame, "ws"),
    onState: (state) => {
      setConnection(state);
      // What changed while the socket was down is not replayed: list again.
      if (state === "open") refreshInstances().catch(() => {});
    },
  });
  for (const view of Object.values(VIEWS)) view.start?.();
  route();
}

function signOut(message) {
  clearToken();
  globalSocket?.close();
  globalSocket = null;
  for (const view of Object.values(VIEWS)) view.stop?.();
  reset();
  $("#nav").hidden = true;
  $("#sign-out").hidden = true;
  $("#connection").hidden = true;
  say($("#signin-message"), message ?? "", Boolean(message));
  route();
}

async function signIn(event) {
  event.preventDefault();
  const input = $("#signin-token");
  const value = input.value.trim();
  if (!value) return;
  setToken(value);
  try {
    // The instance list needs the admin token: an instance token gets 403.
    await get("/api/instances");
  } catch (e) {
    clearToken();
    const message =
      e instanceof ApiError && e.status === 403
        ? "That is an instance token; the dashboard needs the admin token."
        : e.status === 401
          ? "The server did not accept that token."
          : `Cannot sign in: ${e.message}`;
    say($("#signin-message"), message, true);
    input.select();
    return;
  }
  input.value = "";
  say($("#signin-message"), "");
  if (!location.hash || location.hash === "#signin") location.hash = "#instances";
  start();
}

function init() {
  setUnauthorizedHandler((error) => {
    if (token()) signOut(`Signed out: ${error.message}. Sign in again.`);
  });
  for (const view of Object.values(VIEWS)) view.init();
  $("#signin-form").addEventListener("submit", signIn);
  $("#sign-out").addEventListener("click", () => signOut("Signed out."));
  addEventListener("hashchange", () => {
    route();
    $("#main").focus({ preventScroll: true });
  });
  if (token()) start();
  else route();
}

init();
