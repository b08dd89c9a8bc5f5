/*
 * The supervisors' floor, live (R8, R9). The page arrives rendered by the server; this
 * script keeps it current without a reload:
 *
 * - it opens the agent socket (/ws/agent/). A supervisor's socket is in the
 *   `supervisors` group, which hears of every queue change, every message in any chat
 *   and every agent's status change. Any such frame makes the page fetch the snapshot
 *   again (debounced), so one burst of events costs one request;
 * - it also fetches every POLL_MS (always without a socket, and says so: the page
 *   never pretends to be live when it is not);
 * - the R9 timers tick here every second, from the server's clock.
 *
 * On a watched chat (#floor-chat) the same events refresh its transcript.
 * Text from the server goes into the page with textContent only, never as HTML.
 */
// Django's JavaScript catalogue (the javascript-catalog script tag) in the page's language.
const { gettext, interpolate } = window.django || { gettext: (s) => s, interpolate: (f, o) => f.replace(/%\((\w+)\)s/g, (m, k) => o[k]) };

const floor = document.getElementById("floor");
const watched = document.getElementById("floor-chat");
const root = floor || watched;

const DEBOUNCE_MS = 300;
const POLL_MS = 20000;
const AMBER_AFTER_S = 30;
const BACKOFF_MAX_MS = 30000;
const REFRESHING = new Set(["welcome", "conversation.updated", "message.new", "agent.updated", "alert.waiting"]);

let clockOffset = 0; // server time minus this browser's time, in ms
let refreshTimer = null;
let refreshing = false;
let again = false;
let attempts = 0;
let live = false;

function setClock(iso) {
  const server = Date.parse(iso);
  if (!Number.isNaN(server)) clockOffset = server - Date.now();
}

function setLive(state, text) {
  const node = document.getElementById("floor-live");
  if (!node) return;
  node.dataset.state = state;
  node.textContent = text;
}

// --- timers -----------------------------------------------------------------------------

function formatSeconds(seconds) {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

function tick() {
  const now = Date.now() + clockOffset;
  const limit = Number(root.dataset.limit) || 45;
  for (const node of root.querySelectorAll("[data-since]")) {
    const seconds = Math.max(0, Math.floor((now - Date.parse(node.dataset.since)) / 1000));
    const text = formatSeconds(seconds);
    if (node.textContent !== text) node.textContent = text;
    if (node.classList.contains("timer")) {
      node.classList.toggle("timer--amber", seconds >= AMBER_AFTER_S && seconds < limit);
      node.classList.toggle("timer--red", seconds >= limit);
    }
  }
}

// --- building rows ------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const tag = (text, extra = "") => h("span", { class: `tag ${extra}`.trim() }, text);
const timer = (since) => h("span", { class: "timer", "data-since": since }, "");
const dash = () => h("span", { class: "muted" }, "—");

function chatRow(chat, limit, now) {
  const waited = chat.waiting_since ? (now - Date.parse(chat.waiting_since)) / 1000 : 0;
  const url = floor.dataset.chatUrl.replace(/0\/$/, `${chat.id}/`);
  const teams = chat.teams.length ? chat.teams.join(", ") : gettext("no team");
  return h(
    "tr",
    { "data-id": chat.id, class: chat.waiting_since && waited > limit ? "sv-row--alert" : null },
    h("td", {}, h("a", { href: url }, `#${chat.id}`)),
    h("td", {}, chat.visitor, chat.is_customer ? [" ", tag(gettext("customer"))] : null,
      chat.needs_follow_up ? [" ", tag(gettext("follow-up"), "tag--amber")] : null),
    h("td", {}, chat.topic || gettext("No topic"), h("span", { class: "muted" }, ` · ${teams}`)),
    h("td", {}, chat.agent || "—"),
    h("td", {}, h("span", { class: `sv-status sv-status--${chat.status}` }, chat.status === "queued" ? gettext("In queue") : gettext("With agent"))),
    h("td", { class: "num" }, h("span", { class: "sv-age", "data-since": chat.created_at }, "")),
    h("td", { class: "num" }, chat.waiting_since ? timer(chat.waiting_since) : h("span", { class: "muted" }, gettext("answered"))),
  );
}

function teamRow(team) {
  return h(
    "tr",
    { "data-id": team.id },
    h("th", { scope: "row" }, team.name),
    h("td", { class: "num" }, team.queued),
    h("td", { class: "num" }, team.oldest_queued_since ? timer(team.oldest_queued_since) : dash()),
    h("td", { class: "num" }, team.active),
    h("td", { class: "num" }, team.agents_online),
    h("td", { class: "num" }, team.free_seats),
  );
}

function agentRow(agent) {
  const status = { online: gettext("Online"), away: gettext("Away"), offline: gettext("Offline") }[agent.status] || agent.status;
  return h(
    "tr",
    { "data-id": agent.id },
    h("th", { scope: "row" }, agent.name, agent.is_supervisor ? [" ", tag(gettext("supervisor"))] : null),
    h("td", {}, h("span", { class: `sv-dot sv-dot--${agent.status}`, "aria-hidden": "true" }), ` ${status}`),
    h("td", {}, h("span", { class: "sv-load" },
      h("meter", { min: 0, max: agent.max_chats, value: agent.load, "aria-hidden": "true" }),
      ` ${agent.load} / ${agent.max_chats}`)),
    h("td", { class: "muted" }, agent.teams.length ? agent.teams.join(", ") : "—"),
  );
}

function fillTable(id, rows) {
  const table = document.getElementById(id);
  table.tBodies[0].replaceChildren(...rows);
  document.getElementById(`${id}-empty`).hidden = rows.length > 0;
}

function renderSnapshot(snapshot) {
  setClock(snapshot.server_time);
  const now = Date.parse(snapshot.server_time);
  for (const node of floor.querySelectorAll("#floor-summary [data-key]")) {
    node.textContent = snapshot.summary[node.dataset.key] ?? "";
  }
  const alert = floor.querySelector("[data-alert-key]");
  if (alert) alert.classList.toggle("sv-tile--alert", snapshot.summary[alert.dataset.alertKey] > 0);
  fillTable("floor-chats", snapshot.chats.map((chat) => chatRow(chat, snapshot.limit_seconds, now)));
  fillTable("floor-teams", snapshot.teams.map(teamRow));
  fillTable("floor-agents", snapshot.agents.map(agentRow));
  const updated = document.getElementById("floor-updated");
  updated.dateTime = snapshot.server_time;
  updated.textContent = new Date(now).toLocaleTimeString(document.documentElement.lang || [], { hour12: false });
  tick();
}

// --- fetching -----------------------------------------------------------------------------

async function fetchFloor() {
  const response = await fetch(floor.dataset.snapshotUrl, { headers: { Accept: "application/json" }, cache: "no-store" });
  if (!response.ok) throw new Error(`snapshot: HTTP ${response.status}`);
  renderSnapshot(await response.json());
}

async function fetchTranscript() {
  const response = await fetch(watched.dataset.partUrl, { cache: "no-store" });
  if (!response.ok) throw new Error(`transcript: HTTP ${response.status}`);
  const html = await response.text();
  const box = document.getElementById("floor-transcript");
  const atEnd = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
  // Our own server's template, autoescaped: the customer's words arrive as text in it.
  box.innerHTML = html;
  if (atEnd) window.scrollTo(0, document.body.scrollHeight);
  tick();
}

/** Fetch now, or once the fetch in flight ends: never two at once, never a lost change. */
async function refresh() {
  if (refreshing) {
    again = true;
    return;
  }
  refreshing = true;
  try {
    await (floor ? fetchFloor() : fetchTranscript());
  } catch (error) {
    console.warn("floor: refresh failed", error);
  } finally {
    refreshing = false;
    if (again) {
      again = false;
      scheduleRefresh();
    }
  }
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, DEBOUNCE_MS);
}

// --- the socket ---------------------------------------------------------------------------

function concerns(frame) {
  if (!REFRESHING.has(frame.type)) return false;
  if (!watched) return true;
  if (frame.type === "welcome") return true;
  const id = Number(watched.dataset.conversationId);
  const conversation = frame.conversation || (frame.message && { id: frame.message.conversation_id });
  return !!conversation && conversation.id === id;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}${root.dataset.socketPath}`);
  ws.addEventListener("message", (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    if (frame.type === "welcome") {
      live = true;
      attempts = 0;
      setLive("live", gettext("Live"));
      if (frame.server_time) setClock(frame.server_time);
    }
    if (concerns(frame)) scheduleRefresh();
  });
  ws.addEventListener("close", () => {
    live = false;
    setLive("polling", interpolate(gettext("Updating every %(seconds)s s"), { seconds: POLL_MS / 1000 }, true));
    const delay = Math.min(BACKOFF_MAX_MS, 1000 * 2 ** attempts) * (0.75 + Math.random() * 0.5);
    attempts += 1;
    setTimeout(connect, delay);
  });
}

if (root) {
  setClock(root.dataset.serverTime);
  tick();
  setInterval(tick, 1000);
  // The safety net: a socket that never opens, an event lost in a reconnect, and an agent
  // whose console went quiet (presence runs out without an event).
  setInterval(() => {
    if (!live || document.visibilityState === "visible") refresh();
  }, POLL_MS);
  connect();
}
