/*
 * The agent socket (docs/protocol.md): connect, reconnect with backoff, heartbeat, send.
 */
import { showCannedError } from "./canned.js";
import { els, h, root } from "./dom.js";
import { handlers } from "./frames.js";
import { gettext } from "./i18n.js";
import { render } from "./render.js";
import { awaiting, state } from "./state.js";
import { showTransferError } from "./transfer.js";

const BACKOFF_FIRST_MS = 1000;

const BACKOFF_MAX_MS = 30000;

const CONNECTION_TEXT = {
  connecting: gettext("Connecting…"),
  connected: gettext("Connected"),
  reconnecting: gettext("Reconnecting…"),
  "signed-out": gettext("Signed out"),
};

export const socket = {
  ws: null,
  attempts: 0,
  retryTimer: null,
  welcomed: false,
  signedOut: false,
  heartbeat: null,
  lastHeard: 0, // Date.now() of the last frame received
  pingSentAt: 0,
  pingsMissed: 0,
};

export const isConnected = () => !!socket.ws && socket.ws.readyState === WebSocket.OPEN && socket.welcomed;

export function send(frame) {
  if (!socket.ws || socket.ws.readyState !== WebSocket.OPEN) return false;
  socket.ws.send(JSON.stringify(frame));
  return true;
}

export function connect() {
  clearTimeout(socket.retryTimer);
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}${root.dataset.socketPath}`);
  socket.ws = ws;
  socket.welcomed = false;
  ws.addEventListener("message", (event) => {
    if (socket.ws !== ws) return;
    socket.lastHeard = Date.now();
    receive(event.data);
  });
  ws.addEventListener("close", () => {
    if (socket.ws !== ws) return;
    socket.ws = null;
    disconnected();
  });
}

function disconnected() {
  clearInterval(socket.heartbeat);
  // Answers to frames sent on the lost socket will never come.
  for (const list of Object.values(awaiting)) list.length = 0;
  for (const thread of state.threads.values()) thread.syncing = false;
  state.statusWanted = null;
  state.canned.loading = false;
  if (state.transfer) {
    state.transfer = null;
    showTransferError(gettext("The connection dropped; the transfer may not have happened. Try again."));
  }
  if (state.savingCanned) {
    state.savingCanned = null;
    showCannedError(gettext("The connection dropped before the response was saved. Try again."));
  }
  setConnection("reconnecting");
  render();
  const wasRefused = !socket.welcomed;
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** socket.attempts);
  socket.attempts += 1;
  socket.retryTimer = setTimeout(connect, Math.min(BACKOFF_MAX_MS, base * (0.75 + Math.random() * 0.5)));
  if (wasRefused) checkSignedIn();
}

/**
 * Heartbeat: a `ping` every `heartbeat_seconds` keeps this agent counted as present. A
 * socket that left two pings in a row unanswered is dead without knowing it (a laptop
 * woke from sleep, a proxy dropped it): drop it and reconnect. Counted in pings, not
 * seconds: a browser wakes a hidden tab's timers only about once a minute.
 */
export function startHeartbeat(seconds) {
  clearInterval(socket.heartbeat);
  socket.pingSentAt = 0;
  socket.pingsMissed = 0;
  if (!(seconds > 0)) return;
  socket.heartbeat = setInterval(() => {
    if (!socket.ws) return;
    const answered = socket.lastHeard >= socket.pingSentAt;
    socket.pingsMissed = answered ? 0 : socket.pingsMissed + 1;
    if (socket.pingsMissed >= 2) {
      const ws = socket.ws;
      socket.ws = null;
      ws.close();
      disconnected();
      return;
    }
    if (send({ type: "ping" })) socket.pingSentAt = Date.now();
  }, seconds * 1000);
}

/** A handshake refused before `welcome` may mean the session ended: stop and say so. */
async function checkSignedIn() {
  try {
    const response = await fetch(location.pathname, { redirect: "manual", cache: "no-store" });
    if (response.type !== "opaqueredirect") return;
  } catch {
    return; // The server is down: keep retrying.
  }
  clearTimeout(socket.retryTimer);
  socket.signedOut = true;
  setConnection("signed-out");
}

function reconnectNow() {
  if (socket.ws || socket.signedOut) return;
  socket.attempts = 0;
  connect();
}

export function setConnection(connection) {
  els.status.dataset.state = connection;
  els.status.textContent = CONNECTION_TEXT[connection];
  if (connection === "signed-out") {
    els.status.append(" · ", h("a", { href: root.dataset.loginUrl }, gettext("Log in")));
  }
}

function receive(data) {
  let frame;
  try {
    frame = JSON.parse(data);
  } catch {
    return;
  }
  const handler = frame && handlers[frame.type];
  if (!handler) return; // A newer server may send frames this page does not know yet.
  handler(frame);
  render();
}

/** Reconnect at once when the network or the tab comes back. */
export function wireSocket() {
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") reconnectNow();
  });
}
