/*
 * The agent console: queue, claim, reply, end, the R9 waiting timer, and the playbook
 * helpers around the composer: composer checks (R10-R12), canned responses (R13, R14),
 * private notes (R17), transfers, follow-ups (R16), typing indicators, presence.
 *
 * Everything live comes over the agent socket (docs/protocol.md). Frames and the
 * agent's actions change one `state` object; `render()` then brings the page in line
 * with it, reusing DOM nodes by key so focus, selection and scroll survive. Plain
 * JavaScript, no framework, no build step.
 */
(() => {
  "use strict";

  const AMBER_AFTER_S = 30; // R9: warn well before the 45 s awkward pause
  const RED_AFTER_S = 45;
  const MAX_BODY = 4000;
  const DRAFT_PREFIX = "helpdesk:console:draft:";
  const ALERT_TITLE = "(!) Customer waiting";
  const BACKOFF_FIRST_MS = 1000;
  const BACKOFF_MAX_MS = 30000;
  const NOTICE_MS = 10000;
  const CHECK_DEBOUNCE_MS = 300; // composer.check while the agent types
  const CHECK_WAIT_MS = 1500; // Send waits this long for a check before sending unchecked
  const SEARCH_DEBOUNCE_MS = 120;
  const TYPING_EVERY_MS = 3000; // at most one `typing` frame per 3 s
  const TYPING_SHOWN_MS = 5000; // "is typing" lasts 5 s after the last frame
  const CHECK_CACHE_SIZE = 30;
  // "/" at the very start of the composer opens the canned responses; the rest is the query.
  const SLASH_COMMAND = /^\/(\S{0,40})$/;
  const STATUS_RANK = { queued: 0, active: 1, ended: 2 };
  const CONNECTION_TEXT = {
    connecting: "Connecting…",
    connected: "Connected",
    reconnecting: "Reconnecting…",
    "signed-out": "Signed out",
  };
  const PLACEHOLDER = {
    reply: "Write a reply… (Enter sends, Shift+Enter new line, / for canned responses)",
    note: "Write a private note for colleagues… the customer never sees it",
  };
  const SCOPE_TEXT = { team: "Team", personal: "Personal" };

  const root = document.getElementById("console");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const els = {
    lists: root.querySelector(".console-lists"),
    status: $("connection-status"),
    presence: $("presence"),
    agentStatus: $("agent-status"),
    capacity: $("capacity"),
    queue: $("queue"),
    queueCount: $("queue-count"),
    queueEmpty: $("queue-empty"),
    chats: $("chats"),
    chatsCount: $("chats-count"),
    chatsEmpty: $("chats-empty"),
    header: $("chat-header"),
    title: $("chat-title"),
    kind: $("chat-kind"),
    subtitle: $("chat-subtitle"),
    chatTimer: $("chat-timer"),
    followUp: $("follow-up"),
    transferOpen: $("transfer-open"),
    endChat: $("end-chat"),
    empty: $("chat-empty"),
    transcript: $("transcript"),
    typing: $("typing"),
    typingText: $("typing-text"),
    notice: $("notice"),
    footer: $("chat-footer"),
    chatState: $("chat-state"),
    claimBar: $("claim-bar"),
    claimOpen: $("claim-open"),
    composer: $("composer"),
    modeReply: $("mode-reply"),
    modeNote: $("mode-note"),
    cannedOpen: $("canned-open"),
    cannedPopup: $("canned-popup"),
    cannedSearchRow: $("canned-search-row"),
    cannedSearch: $("canned-search"),
    cannedList: $("canned-list"),
    cannedEmpty: $("canned-empty"),
    blocks: $("blocks"),
    blocksTitle: $("blocks-title"),
    blocksList: $("blocks-list"),
    blocksJoin: $("blocks-join"),
    backdrop: $("composer-backdrop"),
    body: $("composer-body"),
    warnings: $("composer-warnings"),
    hint: $("composer-hint"),
    send: $("composer-send"),
    count: $("composer-count"),
    customer: $("customer-body"),
    transferDialog: $("transfer-dialog"),
    transferForm: $("transfer-form"),
    transferAgents: $("transfer-agents"),
    transferAgentsEmpty: $("transfer-agents-empty"),
    transferTeams: $("transfer-teams"),
    transferReason: $("transfer-reason"),
    transferError: $("transfer-error"),
    transferSubmit: $("transfer-submit"),
    cannedDialog: $("canned-dialog"),
    cannedForm: $("canned-form"),
    cannedTitle: $("canned-title"),
    cannedShortcut: $("canned-shortcut"),
    cannedScope: $("canned-scope"),
    cannedBody: $("canned-body"),
    cannedError: $("canned-error"),
    cannedSubmit: $("canned-submit"),
  };
  const baseTitle = document.title;

  // --- State ---------------------------------------------------------------------------

  const state = {
    me: null, // {id, name, is_supervisor, status, max_chats, teams} from `welcome`
    teams: [], // transfer targets: [{id, name}]
    agents: [], // transfer targets: [{id, name, status, available}]
    heartbeatSeconds: 0,
    clockOffset: 0, // server clock minus this browser's clock, in ms
    conversations: new Map(), // id -> CONVERSATION as the server last described it
    threads: new Map(), // id -> what this page holds of the conversation's messages
    openId: null,
    acknowledged: new Map(), // id -> the waiting_since the agent has looked at past 45 s
    scrollToEnd: false,
    transferred: new Map(), // id -> who this agent transferred the chat to
    transfer: null, // {id, label} while a transfer this page asked for is unanswered
    statusWanted: null, // the status asked for, until `agent.updated` confirms it
    // The popup of canned responses; it belongs to the open chat's composer.
    canned: { open: false, via: "slash", conversationId: null, query: null, results: [], index: 0, loading: false, error: "" },
    savingCanned: null, // the `canned.save` frame in flight
    // Server features this page uses when the server has them; an `unknown_type` answer turns one off.
    supports: { check: true, canned: true, typing: true },
  };

  function threadOf(id) {
    let thread = state.threads.get(id);
    if (!thread) {
      thread = {
        messages: new Map(), // seq -> MESSAGE
        lastSeq: 0, // highest seq such that 1..lastSeq are all held
        loaded: false, // a sync has reached the end once
        syncing: false,
        pending: new Map(), // client_id -> {client_id, body, created_at, note?, ...}, sent, not acked
        failed: new Map(), // client_id -> pending refused by the server, with `error`
        unread: new Set(), // seqs of customer messages that arrived while not open
        closed: null, // an error code that stopped this agent replying here
        visitorTypingUntil: 0, // Date.now() until which "… is typing" shows
        composer: {
          mode: "reply", // or "note" (R17)
          split: false, // the draft is blocks separated by blank lines, each sent on its own (R10)
          canned: null, // {id, shortcut} of the canned response the draft came from (R13)
          checks: new Map(), // checked body -> {warnings, blocks} from composer.result
          shownItems: [], // the warnings last shown, kept while a newer check is on its way
          armed: null, // warning codes shown "press Enter again"; the next send overrides them
          sendWhenChecked: false, // Send was pressed before the check of the draft came back
          splitWhenChecked: false,
          waitTimer: null,
          checkTimer: null,
          typingSentAt: 0,
        },
      };
      state.threads.set(id, thread);
    }
    return thread;
  }

  const isQueued = (conv) => conv.status === "queued";
  const isMine = (conv) =>
    conv.status === "active" && !!conv.agent && !!state.me && conv.agent.id === state.me.id;
  const isTaken = (conv) => conv.status === "active" && !isMine(conv);

  /**
   * True when `next` describes an older state than `current` (events may arrive late or
   * twice). Every change of owner or status posts a message, so a newer description has
   * a higher `last_seq`, or the same one and a status no earlier. A transfer to a team puts
   * an active chat back in the queue, with the transfer's messages.
   */
  function isStale(current, next) {
    if (next.last_seq !== current.last_seq) return next.last_seq < current.last_seq;
    return (STATUS_RANK[next.status] ?? 0) < (STATUS_RANK[current.status] ?? 0);
  }

  /** Drop conversations in neither list, except the open one. */
  function forgetUnlisted() {
    for (const [id, conv] of state.conversations) {
      if (isQueued(conv) || isMine(conv) || id === state.openId) continue;
      state.conversations.delete(id);
      state.acknowledged.delete(id);
      state.transferred.delete(id);
      const thread = state.threads.get(id);
      if (thread && !thread.pending.size) state.threads.delete(id);
    }
  }

  // Frames awaiting an answer, per type, in send order. An `error` names only the frame
  // type in `ref`, and the server answers one socket's frames in order, so the oldest
  // unanswered frame of that type is the one refused. Entries are conversation ids, or
  // objects with an `id` when the answer must be matched to more than the conversation.
  const awaiting = {
    "conversation.claim": [],
    "conversation.end": [],
    "conversation.transfer": [],
    "conversation.follow_up": [],
    sync: [],
    "composer.check": [],
    "canned.search": [],
    "canned.save": [],
    "agent.status": [],
  };

  const entryId = (entry) => (entry !== null && typeof entry === "object" ? entry.id : entry);

  /** Remove and return the first entry of `type` for conversation `id` that `match` accepts. */
  function take(type, id, match = () => true) {
    const list = awaiting[type];
    const index = list.findIndex((entry) => entryId(entry) === id && match(entry));
    return index === -1 ? null : list.splice(index, 1)[0];
  }

  const answered = (type, id) => take(type, id) !== null;
  const isAwaiting = (type, id) => awaiting[type].some((entry) => entryId(entry) === id);

  // --- Helpers ---------------------------------------------------------------------------

  /** Milliseconds since the epoch of a server ISO 8601 time (microseconds allowed). */
  function parseTime(iso) {
    return iso ? Date.parse(String(iso).replace(/(\.\d{3})\d+/, "$1")) : NaN;
  }

  const serverNow = () => Date.now() + state.clockOffset;

  function waitedSeconds(since, now) {
    const start = parseTime(since);
    return Number.isNaN(start) ? 0 : Math.max(0, Math.floor((now - start) / 1000));
  }

  function formatWait(seconds) {
    const hours = Math.floor(seconds / 3600);
    const mm = String(Math.floor((seconds % 3600) / 60)).padStart(2, "0");
    const ss = String(seconds % 60).padStart(2, "0");
    return hours ? `${hours}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

  function formatTime(iso) {
    const time = parseTime(iso);
    return Number.isNaN(time) ? "" : timeFormat.format(time);
  }

  function formatDateTime(iso) {
    const time = parseTime(iso);
    if (Number.isNaN(time)) return "";
    if (new Date(time).toDateString() === new Date().toDateString()) return `Today, ${timeFormat.format(time)}`;
    return dateTimeFormat.format(time);
  }

  const topicName = (conv) => (conv.topic ? conv.topic.name : "No topic");

  function visitorName(conv) {
    const visitor = conv.visitor || {};
    return visitor.name || visitor.email || "Anonymous visitor";
  }

  /** R22: "customer" or "prospect", or null when the server does not say. */
  function visitorKind(conv) {
    const flag = conv.visitor && conv.visitor.is_customer;
    return typeof flag === "boolean" ? (flag ? "customer" : "prospect") : null;
  }

  const words = (text) => (text.trim() ? text.trim().split(/\s+/).length : 0);
  const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
  const unique = (items) => Array.from(new Set(items));

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // randomUUID needs a secure context; plain http on a LAN address is not one.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** A DOM element: h("li", {className: "x", "data-id": 3}, child, "text", ...). */
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value == null || value === false) continue;
      if (key === "className") node.className = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child != null && child !== false) node.append(child);
    }
    return node;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  const LOCK_PATH =
    "M4.5 7V5a3.5 3.5 0 1 1 7 0v2h.5A1.5 1.5 0 0 1 13.5 8.5v5A1.5 1.5 0 0 1 12 15H4a1.5 1.5 0 0 1-1.5-1.5v-5" +
    "A1.5 1.5 0 0 1 4 7h.5Zm1.5 0h4V5a2 2 0 1 0-4 0v2Z";

  function lockIcon() {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 16 16");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", LOCK_PATH);
    svg.append(path);
    return svg;
  }

  /**
   * Make `container`'s children the nodes of `items`, in order, reusing nodes by key.
   * `fill` (re)draws a node's content only when its signature changed.
   */
  function reconcile(container, items, { key, sig, create, fill }) {
    const existing = new Map();
    for (const node of container.children) existing.set(node.dataset.key, node);
    let cursor = container.firstElementChild;
    for (const item of items) {
      const itemKey = key(item);
      let node = existing.get(itemKey);
      if (node) {
        existing.delete(itemKey);
      } else {
        node = create(item);
        node.dataset.key = itemKey;
      }
      const itemSig = sig(item);
      if (node.dataset.sig !== itemSig) {
        fill(node, item);
        node.dataset.sig = itemSig;
      }
      if (node === cursor) cursor = cursor.nextElementSibling;
      else container.insertBefore(node, cursor);
    }
    for (const node of existing.values()) node.remove();
  }

  /** Redraw `node` with `draw()` only when `sig` changed since the last time. */
  function redraw(node, sig, draw) {
    if (node.dataset.sig === sig) return;
    node.dataset.sig = sig;
    draw();
  }

  // --- Drafts (per conversation, survive switching chats and reloads) ---------------------

  const drafts = {
    load(id) {
      try {
        return localStorage.getItem(DRAFT_PREFIX + id) || "";
      } catch {
        return "";
      }
    },
    save(id, text) {
      try {
        if (text) localStorage.setItem(DRAFT_PREFIX + id, text);
        else localStorage.removeItem(DRAFT_PREFIX + id);
      } catch {
        // Storage full or disabled: the text stays in the composer, it just won't survive a reload.
      }
    },
    /** Forget drafts of chats that are no longer this agent's. */
    prune(keepIds) {
      try {
        for (let i = localStorage.length - 1; i >= 0; i -= 1) {
          const key = localStorage.key(i);
          if (key && key.startsWith(DRAFT_PREFIX) && !keepIds.has(Number(key.slice(DRAFT_PREFIX.length)))) {
            localStorage.removeItem(key);
          }
        }
      } catch {
        // Nothing to prune when storage is unavailable.
      }
    },
  };

  // --- Socket ----------------------------------------------------------------------------

  const socket = {
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

  const isConnected = () => !!socket.ws && socket.ws.readyState === WebSocket.OPEN && socket.welcomed;

  function send(frame) {
    if (!socket.ws || socket.ws.readyState !== WebSocket.OPEN) return false;
    socket.ws.send(JSON.stringify(frame));
    return true;
  }

  function connect() {
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
      showTransferError("The connection dropped; the transfer may not have happened. Try again.");
    }
    if (state.savingCanned) {
      state.savingCanned = null;
      showCannedError("The connection dropped before the response was saved. Try again.");
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
  function startHeartbeat(seconds) {
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

  function setConnection(connection) {
    els.status.dataset.state = connection;
    els.status.textContent = CONNECTION_TEXT[connection];
    if (connection === "signed-out") {
      els.status.append(" · ", h("a", { href: root.dataset.loginUrl }, "Log in"));
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

  // --- Frames from the server --------------------------------------------------------------

  const handlers = {
    welcome(frame) {
      state.me = frame.agent;
      state.teams = frame.teams || [];
      state.agents = frame.agents || [];
      state.heartbeatSeconds = frame.heartbeat_seconds || 0;
      const serverTime = parseTime(frame.server_time);
      if (!Number.isNaN(serverTime)) state.clockOffset = serverTime - Date.now();
      socket.attempts = 0;
      socket.welcomed = true;
      setConnection("connected");
      startHeartbeat(state.heartbeatSeconds);

      const fresh = new Map();
      for (const conv of [...frame.queue, ...frame.chats]) fresh.set(conv.id, conv);
      const open = state.openId == null ? null : state.conversations.get(state.openId);
      if (open && !fresh.has(open.id)) fresh.set(open.id, open); // its sync tells what became of it
      state.conversations = fresh;
      forgetUnlisted();
      render();

      if (state.openId != null) requestSync(state.openId);
      for (const [id, thread] of state.threads) {
        for (const pending of thread.pending.values()) send(messageFrame(id, pending));
        const conv = fresh.get(id);
        if (id !== state.openId && conv && thread.loaded && conv.last_seq > thread.lastSeq) requestSync(id);
      }
      drafts.prune(new Set([...frame.chats.map((conv) => conv.id), state.openId]));
      // Checks asked on the lost socket were never answered: ask again for the open draft.
      if (state.openId != null) scheduleCheck(state.openId, 0);
    },

    "conversation.updated"(frame) {
      applyConversation(frame.conversation);
    },

    "message.new"(frame) {
      const message = frame.message;
      const id = message.conversation_id;
      const thread = threadOf(id);
      const added = storeMessages(id, [message]);
      if (message.sender === "visitor") thread.visitorTypingUntil = 0;
      if (id !== state.openId) countUnread(thread, added);
      if (frame.conversation) applyConversation(frame.conversation);
      if (hasGap(thread)) requestSync(id);
    },

    "message.ack"(frame) {
      const id = frame.conversation_id;
      const thread = threadOf(id);
      const pending = thread.pending.get(frame.client_id);
      if (!pending) return; // already shown from message.new, or a second ack
      thread.pending.delete(frame.client_id);
      if (!thread.messages.has(frame.seq)) {
        storeMessages(id, [
          {
            conversation_id: id,
            seq: frame.seq,
            sender: pending.note ? "note" : "agent",
            author_name: state.me ? state.me.name : "",
            body: pending.body,
            client_id: pending.client_id,
            created_at: new Date(serverNow()).toISOString(),
            local: true, // replaced by the stored message when message.new or sync brings it
          },
        ]);
      }
      if (hasGap(thread)) requestSync(id);
    },

    "sync.result"(frame) {
      const id = frame.conversation.id;
      const thread = threadOf(id);
      answered("sync", id);
      thread.syncing = false;
      const before = thread.lastSeq;
      const wasLoaded = thread.loaded;
      const added = storeMessages(id, frame.messages);
      if (wasLoaded && id !== state.openId) countUnread(thread, added);
      if (!frame.has_more) thread.loaded = true;
      applyConversation(frame.conversation);
      if ((frame.has_more && thread.lastSeq > before) || hasGap(thread)) requestSync(id);
    },

    "composer.result"(frame) {
      const id = frame.conversation_id;
      // The answer names the body it checked; else it answers the oldest check in flight.
      const entry =
        take("composer.check", id, (e) => e.body === frame.body) || awaiting["composer.check"].shift() || null;
      const body = entry ? entry.body : frame.body;
      const thread = threadOf(entry ? entry.id : id);
      rememberCheck(thread.composer, body, { warnings: frame.warnings || [], blocks: frame.blocks || [] });
      checkArrived(entry ? entry.id : id);
    },

    "canned.results"(frame) {
      const s = state.canned;
      const entry =
        take("canned.search", frame.conversation_id, (e) => e.query === frame.query) ||
        awaiting["canned.search"].shift() ||
        null;
      const query = entry ? entry.query : frame.query;
      if (!s.open || s.conversationId !== frame.conversation_id || query !== s.query) return; // superseded
      const chosen = s.results[s.index];
      s.results = frame.results || [];
      const keep = chosen ? s.results.findIndex((r) => r.id === chosen.id) : -1;
      s.index = keep === -1 ? 0 : keep;
      s.loading = false;
      s.error = "";
    },

    "canned.saved"(frame) {
      if (!awaiting["canned.save"].shift()) return; // saved from another tab of this agent
      state.savingCanned = null;
      const canned = frame.canned || {};
      if (els.cannedDialog.open) els.cannedDialog.close();
      const scope = canned.scope === "team" ? "shared with your team" : "personal";
      showNotice(`Saved canned response /${canned.shortcut} (${scope}). Type /${canned.shortcut} to use it.`, "success");
    },

    typing(frame) {
      if (frame.sender && frame.sender !== "visitor") return;
      const thread = threadOf(frame.conversation_id);
      thread.visitorTypingUntil = Date.now() + TYPING_SHOWN_MS;
      setTimeout(render, TYPING_SHOWN_MS + 50);
    },

    "agent.updated"(frame) {
      const agent = frame.agent || {};
      if (state.me && agent.id === state.me.id) {
        state.me = { ...state.me, ...agent };
        awaiting["agent.status"].shift();
        state.statusWanted = null;
      }
      const other = state.agents.find((a) => a.id === agent.id);
      if (other) Object.assign(other, agent);
    },

    pong() {
      // Only proves the socket is alive (socket.lastHeard).
    },

    error(frame) {
      const ref = frame.ref;
      switch (ref) {
        case "conversation.claim":
          return claimRefused(awaiting[ref].shift(), frame);
        case "conversation.end":
          return endRefused(awaiting[ref].shift(), frame);
        case "conversation.transfer":
          return transferRefused(awaiting[ref].shift(), frame);
        case "conversation.follow_up":
          awaiting[ref].shift();
          return showNotice(frame.message || "The follow-up mark could not be changed.");
        case "sync":
          return syncRefused(awaiting[ref].shift(), frame);
        case "composer.check":
          return checkRefused(awaiting[ref].shift(), frame);
        case "canned.search":
          return searchRefused(awaiting[ref].shift(), frame);
        case "canned.save":
          awaiting[ref].shift();
          state.savingCanned = null;
          return showCannedError(frame.message || "The response could not be saved.");
        case "agent.status":
          awaiting[ref].shift();
          state.statusWanted = null;
          return showNotice(frame.message || "Your status could not be changed.");
        case "typing":
          if (frame.code === "unknown_type") state.supports.typing = false;
          return; // a lost typing signal changes nothing
        case "ping":
          if (frame.code === "unknown_type") startHeartbeat(0);
          return;
        default:
          break;
      }
      for (const [id, thread] of state.threads) {
        if (ref && thread.pending.has(ref)) return sendRefused(id, thread, ref, frame);
      }
      showNotice(frame.message || "The server refused a request.");
    },
  };

  /** Take a server description of a conversation and act on what changed. */
  function applyConversation(incoming) {
    const before = state.conversations.get(incoming.id);
    if (before && isStale(before, incoming)) return;
    state.conversations.set(incoming.id, incoming);
    const conv = incoming;
    const thread = threadOf(conv.id);

    if (isMine(conv) && answered("conversation.claim", conv.id)) {
      openConversation(conv.id, { focusComposer: true });
    } else if (isMine(conv) && (!before || !isMine(before))) {
      // Not claimed here: a colleague transferred it, or the team assigned it.
      showNotice(`${visitorName(conv)} (#${conv.id}) is now yours — it is in My chats.`, "info");
    }
    if (conv.status === "ended") answered("conversation.end", conv.id);
    take("conversation.follow_up", conv.id, (entry) => entry.needs === !!conv.needs_follow_up);
    if (!isMine(conv) && answered("conversation.transfer", conv.id)) transferDone(conv);
    if (conv.id === state.openId) {
      if (before && isQueued(before) && isTaken(conv)) showNotice("Another agent took this chat.", "info");
      if (before && isMine(before) && !isMine(conv) && conv.status !== "ended" && !state.transferred.has(conv.id)) {
        showNotice(conv.agent ? `This chat now belongs to ${conv.agent.name}.` : "This chat went back to the queue.", "info");
      }
      if (conv.last_seq > thread.lastSeq) requestSync(conv.id);
    }
    forgetUnlisted();
  }

  /** Add messages to a thread, each seq once; returns those it did not hold yet. */
  function storeMessages(id, messages) {
    const thread = threadOf(id);
    const added = [];
    for (const message of messages) {
      const known = thread.messages.get(message.seq);
      if (known && !known.local) continue;
      thread.messages.set(message.seq, message);
      if ((message.sender === "agent" || message.sender === "note") && message.client_id) {
        thread.pending.delete(message.client_id);
        thread.failed.delete(message.client_id);
      }
      if (!known) added.push(message);
    }
    while (thread.messages.has(thread.lastSeq + 1)) thread.lastSeq += 1;
    return added;
  }

  /** True when the thread holds a message beyond a missing one. */
  const hasGap = (thread) => thread.messages.size > thread.lastSeq;

  function countUnread(thread, messages) {
    for (const message of messages) if (message.sender === "visitor") thread.unread.add(message.seq);
  }

  function requestSync(id) {
    const thread = threadOf(id);
    if (thread.syncing) return; // the answer in flight covers everything stored before it
    if (send({ type: "sync", conversation_id: id, after_seq: thread.lastSeq })) {
      thread.syncing = true;
      awaiting.sync.push(id);
    }
  }

  // Refusals that change nothing stored and ask for the same frame again later.
  const RETRYABLE = new Set(["rate_limited", "internal_error"]);
  const MAX_RETRIES = 5; // server faults on one message; then it shows as not sent
  const retryDelay = (frame) => (frame.retry_after || (frame.code === "internal_error" ? 2 : 1)) * 1000;

  function messageFrame(id, pending) {
    const frame = { type: "message.send", conversation_id: id, client_id: pending.client_id, body: pending.body };
    if (pending.note) frame.note = true;
    if (pending.overridden && pending.overridden.length) frame.overridden = pending.overridden;
    if (pending.canned_id != null) frame.canned_id = pending.canned_id;
    return frame;
  }

  function claimRefused(id, frame) {
    const conv = id == null ? null : state.conversations.get(id);
    if (!conv) return showNotice(frame.message);
    if (frame.code === "already_claimed") {
      showNotice("Another agent took this chat.", "info");
      // Out of the queue now; the owner's conversation.updated, when it comes, fills in who.
      if (isQueued(conv)) state.conversations.set(id, { ...conv, status: "active", agent: conv.agent || null });
    } else if (frame.code === "at_capacity") {
      const carried = Array.from(state.conversations.values()).filter(isMine).length;
      const limit = (state.me && state.me.max_chats) || carried;
      showNotice(`You already have ${plural(Math.max(carried, limit), "chat")} — end one first or raise your limit.`);
    } else if (frame.code === "conversation_ended") {
      showNotice("This chat has already ended.", "info");
      state.conversations.set(id, { ...conv, status: "ended", waiting_since: null });
    } else if (frame.code === "not_found") {
      showNotice("This chat is no longer available.", "info");
      state.conversations.delete(id);
      if (state.openId === id) state.openId = null;
    } else {
      showNotice(frame.message);
    }
    forgetUnlisted();
  }

  function endRefused(id, frame) {
    if (id != null && frame.code === "not_owner") threadOf(id).closed = frame.code;
    showNotice(frame.message);
  }

  function syncRefused(id, frame) {
    if (id == null) return;
    threadOf(id).syncing = false;
    if (RETRYABLE.has(frame.code)) {
      setTimeout(() => requestSync(id), retryDelay(frame));
    } else if (frame.code === "not_found") {
      state.conversations.delete(id);
      if (state.openId === id) {
        state.openId = null;
        showNotice("This chat is no longer available.", "info");
      }
    } else {
      showNotice(frame.message);
    }
  }

  function sendRefused(id, thread, clientId, frame) {
    const pending = thread.pending.get(clientId);
    if (frame.code === "composer_warning") return replyWarned(id, thread, pending, frame);
    if (frame.code === "internal_error") pending.faults = (pending.faults || 0) + 1;
    if (RETRYABLE.has(frame.code) && (pending.faults || 0) <= MAX_RETRIES) {
      // Still pending: resent here, or after a reconnect if the socket drops first.
      setTimeout(() => {
        if (thread.pending.has(clientId)) send(messageFrame(id, pending));
      }, retryDelay(frame));
      return;
    }
    thread.pending.delete(clientId);
    thread.failed.set(clientId, { ...pending, error: frame.message });
    if (frame.code === "not_owner" || frame.code === "conversation_ended") thread.closed = frame.code;
    showNotice(id === state.openId ? frame.message : `Chat #${id}: ${frame.message}`);
  }

  /**
   * The server found composer warnings the agent had not chosen to override: nothing was
   * stored. The text goes back into the composer with the warnings shown prominently, so
   * the next Enter sends it anyway (with `overridden`) or the agent fixes it.
   */
  function replyWarned(id, thread, pending, frame) {
    thread.pending.delete(pending.client_id);
    const c = thread.composer;
    const warnings = frame.warnings || [];
    rememberCheck(c, pending.body, { warnings, blocks: [pending.body] });
    // An error lists the warnings but not the suggested blocks: ask for them to offer the split.
    if (warnings.some((w) => w.code === "too_long")) requestCheck(id, pending.body);
    const current = id === state.openId ? els.body.value : drafts.load(id);
    const text = current.trim() ? `${current.replace(/\s+$/, "")}\n\n${pending.body}` : pending.body;
    if (id === state.openId) els.body.value = text;
    drafts.save(id, text);
    if (pending.block || current.trim()) c.split = true;
    if (pending.canned_id != null && !c.canned) c.canned = { id: pending.canned_id, shortcut: pending.canned_shortcut };
    c.armed = unique([...(c.armed || []), ...warnings.map((w) => w.code)]);
    if (id !== state.openId) showNotice(`Chat #${id}: a reply was not sent; it is back in that chat's composer.`);
  }

  function transferRefused(id, frame) {
    state.transfer = null;
    if (id == null) return showNotice(frame.message);
    const text =
      frame.code === "at_capacity" ? "That agent already carries their limit of chats. Pick someone else or a team."
      : frame.message || "The chat could not be transferred.";
    if (els.transferDialog.open) showTransferError(text);
    else showNotice(text);
  }

  function transferDone(conv) {
    const label = state.transfer && state.transfer.id === conv.id ? state.transfer.label : "";
    state.transfer = null;
    state.transferred.set(conv.id, label || (conv.agent ? conv.agent.name : "the queue"));
    if (els.transferDialog.open) els.transferDialog.close();
    showNotice(`Transferred to ${state.transferred.get(conv.id)}.`, "success");
  }

  // --- Composer checks (R10-R12) -----------------------------------------------------------

  /** The messages the draft sends: one, or each block of a split draft. */
  function composerUnits(c, text) {
    const trimmed = text.trim();
    if (!trimmed) return [];
    if (!c.split) return [trimmed];
    return trimmed
      .split(/\n[ \t]*\n/)
      .map((block) => block.trim())
      .filter(Boolean);
  }

  function rememberCheck(c, body, result) {
    c.checks.delete(body);
    c.checks.set(body, result);
    if (c.checks.size > CHECK_CACHE_SIZE) c.checks.delete(c.checks.keys().next().value);
  }

  /**
   * What the checks say about `units`: `complete` once every unit has an answer, the
   * warnings as {unit, index, warning}, and the codes per unit (what `overridden` carries).
   */
  function composerVerdict(c, units) {
    let complete = true;
    const items = [];
    const perUnit = units.map((unit, index) => {
      const result = c.checks.get(unit);
      if (!result) {
        complete = false;
        return [];
      }
      for (const warning of result.warnings) items.push({ unit, index, warning, blocks: result.blocks });
      return unique(result.warnings.map((w) => w.code));
    });
    return { complete, items, perUnit, codes: unique(perUnit.flat()) };
  }

  /** The open chat, when this agent may reply in it: {id, conv, thread, c}. */
  function replyContext() {
    const id = state.openId;
    const conv = id == null ? null : state.conversations.get(id);
    if (!conv || !isMine(conv)) return null;
    const thread = threadOf(id);
    if (thread.closed) return null;
    return { id, conv, thread, c: thread.composer };
  }

  function scheduleCheck(id, delay = CHECK_DEBOUNCE_MS) {
    const c = threadOf(id).composer;
    clearTimeout(c.checkTimer);
    c.checkTimer = setTimeout(() => runChecks(id), delay);
  }

  /** Ask the server to check every unit of the open draft it has not checked yet. */
  function runChecks(id) {
    const ctx = replyContext();
    if (!ctx || ctx.id !== id || ctx.c.mode !== "reply" || !state.supports.check) return;
    for (const body of composerUnits(ctx.c, els.body.value)) {
      if (body.length > MAX_BODY || ctx.c.checks.has(body)) continue;
      requestCheck(id, body);
    }
  }

  function requestCheck(id, body) {
    if (!state.supports.check || awaiting["composer.check"].some((e) => e.id === id && e.body === body)) return;
    if (send({ type: "composer.check", conversation_id: id, body })) awaiting["composer.check"].push({ id, body });
  }

  /** A check came back: finish what waited for it. */
  function checkArrived(id) {
    const ctx = replyContext();
    if (!ctx || ctx.id !== id) return;
    const verdict = composerVerdict(ctx.c, composerUnits(ctx.c, els.body.value));
    if (!verdict.complete) return;
    if (ctx.c.splitWhenChecked) splitReply();
    if (ctx.c.sendWhenChecked) submitReply();
  }

  function checkRefused(entry, frame) {
    if (frame.code === "unknown_type") state.supports.check = false;
    if (!entry) return;
    if (RETRYABLE.has(frame.code) && state.supports.check) {
      setTimeout(() => runChecks(entry.id), retryDelay(frame));
      return;
    }
    // No warnings known for this text: the server checks it again when it is sent.
    rememberCheck(threadOf(entry.id).composer, entry.body, { warnings: [], blocks: [entry.body], unchecked: true });
    checkArrived(entry.id);
  }

  /**
   * Where the warnings' terms are in the composer's text, as [start, end) UTF-16 offsets.
   * A term's offsets count characters of the body that was checked; when that body is no
   * longer where it was (the agent kept typing), the term is looked for by its text.
   */
  function termRanges(text, items) {
    const ranges = [];
    const units = new Map(); // checked body -> where it starts in `text`
    let from = 0;
    for (const { unit } of items) {
      if (units.has(unit)) continue;
      const at = text.indexOf(unit, from);
      units.set(unit, at);
      if (at !== -1) from = at + unit.length;
    }
    for (const item of items) {
      for (const hit of item.warning.terms || []) {
        const range = locateTerm(text, item.unit, units.get(item.unit), hit);
        if (range && !ranges.some(([s, e]) => range[0] < e && s < range[1])) {
          ranges.push([...range, item.warning.code, hit]);
        }
      }
    }
    return ranges.sort((a, b) => a[0] - b[0]);
  }

  function locateTerm(text, unit, unitAt, hit) {
    const term = String(hit.term || "");
    if (unitAt != null && unitAt !== -1 && Number.isInteger(hit.start) && Number.isInteger(hit.end)) {
      // Offsets count code points (the server's characters); JavaScript strings count UTF-16 units.
      const chars = Array.from(unit);
      const start = unitAt + chars.slice(0, hit.start).join("").length;
      const end = start + chars.slice(hit.start, hit.end).join("").length;
      if (!term || text.slice(start, end).toLowerCase() === term.toLowerCase()) return [start, end];
    }
    if (!term) return null;
    const escaped = term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const match = new RegExp(`(^|[^\\p{L}\\p{N}])(${escaped})(?![\\p{L}\\p{N}])`, "iu").exec(text);
    if (!match) return null;
    const start = match.index + match[1].length;
    return [start, start + match[2].length];
  }

  // --- Agent actions -------------------------------------------------------------------------

  function openConversation(id, { focusComposer = false } = {}) {
    const conv = state.conversations.get(id);
    if (!conv) return;
    if (state.openId !== id) {
      state.openId = id;
      state.scrollToEnd = true;
      hideNotice();
      closeCanned();
      forgetUnlisted();
    }
    const thread = threadOf(id);
    thread.unread.clear();
    if (conv.waiting_since && waitedSeconds(conv.waiting_since, serverNow()) >= RED_AFTER_S) {
      state.acknowledged.set(id, conv.waiting_since);
    }
    requestSync(id);
    render();
    tick();
    scheduleCheck(id, 0);
    if (focusComposer && !els.composer.hidden && !els.body.disabled) els.body.focus();
  }

  function claim(id) {
    if (isAwaiting("conversation.claim", id)) return;
    if (!send({ type: "conversation.claim", conversation_id: id })) {
      showNotice("Not connected; claim again once the console has reconnected.");
      return;
    }
    awaiting["conversation.claim"].push(id);
    render();
  }

  function endChat() {
    const conv = state.openId == null ? null : state.conversations.get(state.openId);
    if (!conv || !isMine(conv) || isAwaiting("conversation.end", conv.id)) return;
    if (!window.confirm(`End the chat with ${visitorName(conv)}? They will see that it ended.`)) return;
    if (!send({ type: "conversation.end", conversation_id: conv.id })) {
      showNotice("Not connected; end the chat once the console has reconnected.");
      return;
    }
    awaiting["conversation.end"].push(conv.id);
    render();
  }

  /**
   * Enter / Send. Notes go out as they are. A reply goes out once its checks are known:
   * with warnings, the first Enter only shows them prominently ("armed"); the next sends
   * anyway and tells the server which warnings were overridden. A split draft sends each
   * block as its own message, in order.
   */
  function submitReply({ unchecked = false } = {}) {
    const ctx = replyContext();
    if (!ctx) return;
    const { id, c } = ctx;
    const text = els.body.value;
    if (!text.trim()) return;
    c.sendWhenChecked = false;
    clearTimeout(c.waitTimer);
    if (c.mode === "note") {
      if (text.trim().length > MAX_BODY) return showNotice(`A note can be at most ${MAX_BODY} characters.`);
      postMessages(id, [{ body: text.trim(), note: true }]);
      return;
    }
    const units = composerUnits(c, text);
    if (units.some((unit) => unit.length > MAX_BODY)) {
      showNotice(`A message can be at most ${MAX_BODY} characters.`);
      return;
    }
    const verdict = composerVerdict(c, units);
    if (!verdict.complete && !unchecked && state.supports.check && isConnected()) {
      c.sendWhenChecked = true;
      runChecks(id);
      c.waitTimer = setTimeout(() => {
        if (c.sendWhenChecked && state.openId === id) submitReply({ unchecked: true });
      }, CHECK_WAIT_MS);
      render();
      return;
    }
    const codes = verdict.codes;
    if (codes.length && !(c.armed && codes.every((code) => c.armed.includes(code)))) {
      c.armed = codes;
      render();
      return;
    }
    postMessages(
      id,
      units.map((body, index) => ({
        body,
        overridden: verdict.perUnit[index],
        // The canned response is where the first block came from; the server measures the edits.
        canned_id: index === 0 && c.canned ? c.canned.id : null,
        canned_shortcut: index === 0 && c.canned ? c.canned.shortcut : null,
        block: units.length > 1,
      })),
    );
  }

  function postMessages(id, messages) {
    const thread = threadOf(id);
    for (const message of messages) {
      const pending = { ...message, client_id: newClientId(), created_at: new Date(serverNow()).toISOString() };
      thread.pending.set(pending.client_id, pending);
      send(messageFrame(id, pending)); // when offline it goes out with the resends after reconnecting
    }
    els.body.value = "";
    drafts.save(id, "");
    resetComposer(thread.composer);
    // The visitor's "is typing" ends with this message: the next keystroke signals afresh.
    thread.composer.typingSentAt = 0;
    closeCanned();
    state.scrollToEnd = true;
    render();
    els.body.focus();
  }

  function resetComposer(c) {
    c.split = false;
    c.canned = null;
    c.armed = null;
    c.sendWhenChecked = false;
    c.splitWhenChecked = false;
    c.shownItems = [];
    clearTimeout(c.waitTimer);
  }

  /** Set the composer's text as if the agent had typed it. */
  function setComposerText(ctx, text, caret = text.length) {
    els.body.value = text;
    drafts.save(ctx.id, text);
    ctx.c.armed = null;
    if (!text.trim()) resetComposer(ctx.c);
    els.body.focus();
    els.body.setSelectionRange(caret, caret);
    scheduleCheck(ctx.id, 0);
    render();
  }

  /** R10, Alt+S: replace a long draft with the server's blocks, each sent as its own message. */
  function splitReply() {
    const ctx = replyContext();
    if (!ctx || ctx.c.mode !== "reply") return;
    const { c } = ctx;
    c.splitWhenChecked = false;
    const units = composerUnits(c, els.body.value);
    const verdict = composerVerdict(c, units);
    if (!verdict.complete) {
      c.splitWhenChecked = true;
      runChecks(ctx.id);
      return;
    }
    if (!verdict.codes.includes("too_long")) return; // short enough already
    const blocks = units.flatMap((unit) => {
      const suggested = (c.checks.get(unit).blocks || []).map((b) => b.trim()).filter(Boolean);
      return verdict.perUnit[units.indexOf(unit)].includes("too_long") && suggested.length > 1 ? suggested : [unit];
    });
    if (blocks.length === units.length) {
      showNotice("There is no sentence boundary to split at; shorten the reply or send it anyway.", "info");
      return;
    }
    c.split = true;
    setComposerText(ctx, blocks.join("\n\n"));
  }

  function joinBlocks() {
    const ctx = replyContext();
    if (!ctx) return;
    const units = composerUnits(ctx.c, els.body.value);
    ctx.c.split = false;
    setComposerText(ctx, units.join(" "));
  }

  /**
   * What a term's suggestion offers: a replacement text, or removal. A suggestion in
   * parentheses is advice for the agent ("(remove it)", "(not appropriate for customers)"),
   * not words to put in the reply.
   */
  function suggestionFix(suggestion) {
    const text = String(suggestion || "").trim();
    if (!text) return null;
    if (/^\(.*\)$/.test(text)) return /\bremove\b/i.test(text) ? { text: "", label: "Remove it" } : null;
    return { text, label: `Replace with “${text}”` };
  }

  /** The flagged word as the agent typed it (the term is the configured, lowercased one). */
  function termText(unit, hit) {
    const chars = Array.from(unit);
    const typed = Number.isInteger(hit.start) ? chars.slice(hit.start, hit.end).join("") : "";
    return typed && typed.toLowerCase() === String(hit.term).toLowerCase() ? typed : hit.term;
  }

  /** R12: put the suggestion where the flagged term is, keeping a capital at the start. */
  function replaceTerm(start, end, suggestion) {
    const ctx = replyContext();
    if (!ctx) return;
    const text = els.body.value;
    const original = text.slice(start, end);
    let before = text.slice(0, start);
    let after = text.slice(end);
    let replacement = suggestion;
    if (!replacement) {
      // Removing a word: no double space, no space before punctuation, a capital kept at a sentence start.
      if (/\s$/.test(before) || !before) after = after.replace(/^[ \t]+/, "");
      if (/^[,.!?;:]/.test(after)) before = before.replace(/[ \t]+$/, "");
      if (/^\p{Lu}/u.test(original) && (!before.trim() || /[.!?]\s*$/.test(before))) {
        after = after.replace(/^\p{Ll}/u, (letter) => letter.toUpperCase());
      }
    } else if (/^\p{Lu}/u.test(original) && /^\p{Ll}/u.test(replacement)) {
      replacement = replacement[0].toUpperCase() + replacement.slice(1);
    }
    setComposerText(ctx, before + replacement + after, before.length + replacement.length);
  }

  function setMode(mode) {
    const ctx = replyContext();
    if (!ctx || ctx.c.mode === mode) return;
    ctx.c.mode = mode;
    ctx.c.armed = null;
    ctx.c.sendWhenChecked = false;
    closeCanned();
    if (mode === "reply") scheduleCheck(ctx.id, 0);
    render();
    els.body.focus();
  }

  function signalTyping(ctx) {
    const { c } = ctx;
    if (!state.supports.typing || c.mode !== "reply") return; // a note is no news for the visitor
    const now = Date.now();
    if (now - c.typingSentAt < TYPING_EVERY_MS) return;
    if (send({ type: "typing", conversation_id: ctx.id })) c.typingSentAt = now;
  }

  /** The agent typed in the composer. */
  function composerInput() {
    const id = Number(els.body.dataset.conversationId);
    if (id) drafts.save(id, els.body.value);
    const ctx = replyContext();
    if (ctx && ctx.id === id) {
      const { c } = ctx;
      const text = els.body.value;
      c.armed = null;
      c.sendWhenChecked = false;
      c.splitWhenChecked = false;
      if (!text.trim()) resetComposer(c); // a cleared composer forgets its canned response and blocks
      const slash = c.mode === "reply" ? SLASH_COMMAND.exec(text) : null;
      if (slash) {
        openCanned(id, "slash");
        searchCanned(text);
      } else if (state.canned.open && state.canned.via === "slash") {
        closeCanned();
      }
      if (text.trim()) signalTyping(ctx);
      if (c.mode === "reply" && !slash) scheduleCheck(id);
    }
    render();
  }

  // --- Canned responses (R13, R14) ---------------------------------------------------------------

  function openCanned(id, via) {
    const s = state.canned;
    if (!s.open || s.via !== via || s.conversationId !== id) {
      Object.assign(s, { open: true, via, conversationId: id, query: null, results: [], index: 0, error: "" });
    }
    if (!state.supports.canned) s.error = "Canned responses are not available on this server yet.";
  }

  function closeCanned() {
    const s = state.canned;
    clearTimeout(s.timer);
    Object.assign(s, { open: false, query: null, results: [], index: 0, loading: false, error: "" });
  }

  /**
   * `query` is what the composer holds after "/" opened the list ("/ref", as in the
   * protocol's example), or the words typed in the search box.
   */
  function searchCanned(query) {
    const s = state.canned;
    if (!state.supports.canned || query === s.query) return;
    s.query = query;
    s.loading = true;
    clearTimeout(s.timer);
    s.timer = setTimeout(() => {
      const frame = { type: "canned.search", conversation_id: s.conversationId, query };
      if (send(frame)) {
        awaiting["canned.search"].push({ id: s.conversationId, query });
      } else {
        s.loading = false;
        s.error = "Not connected.";
        render();
      }
    }, SEARCH_DEBOUNCE_MS);
  }

  function searchRefused(entry, frame) {
    const s = state.canned;
    if (frame.code === "unknown_type") state.supports.canned = false;
    if (!entry || entry.query !== s.query) return;
    s.loading = false;
    s.error =
      frame.code === "unknown_type" ? "Canned responses are not available on this server yet."
      : frame.message || "The search failed.";
    if (RETRYABLE.has(frame.code)) {
      s.query = null;
      setTimeout(() => s.open && searchCanned(entry.query), retryDelay(frame));
    }
  }

  function moveCanned(step) {
    const s = state.canned;
    if (!s.results.length) return;
    s.index = (s.index + step + s.results.length) % s.results.length;
    render();
  }

  /** Insert a canned response's rendered body: in place of "/query", else at the caret. */
  function insertCanned(result) {
    const ctx = replyContext();
    if (!ctx || !result) return;
    const text = els.body.value;
    let next = result.body;
    let caret = next.length;
    if (state.canned.via !== "slash" && text.trim() && !SLASH_COMMAND.test(text)) {
      const start = els.body.selectionStart ?? text.length;
      const end = els.body.selectionEnd ?? text.length;
      next = text.slice(0, start) + result.body + text.slice(end);
      caret = start + result.body.length;
    }
    closeCanned();
    ctx.c.split = false;
    setComposerText(ctx, next, caret);
    ctx.c.canned = { id: result.id, shortcut: result.shortcut };
    render();
  }

  /** "Save as canned" on a sent reply: its text, with the names turned back into placeholders. */
  function openSaveCanned(message) {
    const conv = state.conversations.get(message.conversation_id) || {};
    let body = message.body;
    const swap = (name, placeholder) => {
      if (!name) return;
      const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      body = body.replace(new RegExp(`(?<![\\p{L}\\p{N}])${escaped}(?![\\p{L}\\p{N}])`, "gu"), placeholder);
    };
    swap(conv.visitor && conv.visitor.name, "{visitor.name}");
    swap(state.me && state.me.name ? state.me.name.split(" ")[0] : "", "{agent.first_name}");
    const title = message.body.split(/\s+/).slice(0, 6).join(" ").replace(/[.,!?;:]+$/, "");
    els.cannedTitle.value = title.length > 60 ? `${title.slice(0, 57)}…` : title;
    els.cannedShortcut.value = slugify(title);
    els.cannedShortcut.dataset.edited = "";
    els.cannedBody.value = body;
    els.cannedScope.replaceChildren(
      h("option", { value: "" }, "Only me (personal)"),
      ...((state.me && state.me.teams) || []).map((team) => h("option", { value: team.id }, `Team: ${team.name}`)),
    );
    showCannedError("");
    state.savingCanned = null;
    render();
    els.cannedDialog.showModal();
    els.cannedTitle.select();
  }

  const slugify = (text) =>
    text
      .toLowerCase()
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .split("-")
      .slice(0, 3)
      .join("-")
      .slice(0, 40);

  function submitSaveCanned() {
    if (state.savingCanned) return;
    const scope = els.cannedScope.value;
    const frame = {
      type: "canned.save",
      title: els.cannedTitle.value.trim(),
      shortcut: els.cannedShortcut.value.trim().replace(/^\/+/, ""),
      body: els.cannedBody.value.trim(),
      team_id: scope ? Number(scope) : null,
    };
    if (!frame.title || !frame.shortcut || !frame.body) return;
    if (!send(frame)) return showCannedError("Not connected; try again once the console has reconnected.");
    awaiting["canned.save"].push(frame.shortcut);
    state.savingCanned = frame;
    showCannedError("");
    render();
  }

  function showCannedError(text) {
    els.cannedError.textContent = text;
    els.cannedError.hidden = !text;
  }

  // --- Transfer and follow-up (R5, R16) ----------------------------------------------------------

  function agentAvailability(agent) {
    if (agent.available) return ["available", "Available"];
    // Online but not available: at their chat limit, or no console open right now.
    if (agent.status === "online") return ["busy", "Busy or not connected"];
    if (agent.status === "away") return ["away", "Away"];
    return ["offline", "Offline"];
  }

  function openTransfer() {
    const ctx = replyContext();
    if (!ctx) return;
    const others = state.agents
      .filter((agent) => !state.me || agent.id !== state.me.id)
      .sort((a, b) => Number(!!b.available) - Number(!!a.available) || a.name.localeCompare(b.name));
    const choice = (value, label, extra, kind) =>
      h(
        "li",
        null,
        h(
          "label",
          { className: `choice${kind ? ` choice--${kind}` : ""}` },
          h("input", { type: "radio", name: "target", value, required: true }),
          h("span", { className: "choice-label" }, label),
          extra,
        ),
      );
    els.transferAgents.replaceChildren(
      ...others.map((agent) => {
        const [kind, text] = agentAvailability(agent);
        return choice(
          `agent:${agent.id}`,
          agent.name,
          h("span", { className: `availability availability--${kind}` }, text),
          kind,
        );
      }),
    );
    els.transferAgentsEmpty.hidden = others.length > 0;
    els.transferTeams.replaceChildren(...state.teams.map((team) => choice(`team:${team.id}`, team.name, null, "")));
    els.transferReason.value = "";
    showTransferError("");
    state.transfer = null;
    render();
    els.transferDialog.showModal();
    const first = els.transferForm.querySelector(".choice--available input") || els.transferForm.querySelector("input");
    if (first) first.focus();
  }

  function submitTransfer() {
    const ctx = replyContext();
    if (!ctx || state.transfer) return;
    const picked = els.transferForm.querySelector("input[name=target]:checked");
    const reason = els.transferReason.value.trim();
    if (!picked || !reason) return;
    const [kind, rawId] = picked.value.split(":");
    const targetId = Number(rawId);
    const frame = { type: "conversation.transfer", conversation_id: ctx.id, reason };
    let label;
    if (kind === "agent") {
      frame.to_agent_id = targetId;
      label = (state.agents.find((a) => a.id === targetId) || {}).name || "a colleague";
    } else {
      frame.to_team_id = targetId;
      label = `the ${(state.teams.find((t) => t.id === targetId) || {}).name || "team"} queue`;
    }
    if (!send(frame)) return showTransferError("Not connected; try again once the console has reconnected.");
    awaiting["conversation.transfer"].push(ctx.id);
    state.transfer = { id: ctx.id, label };
    showTransferError("");
    render();
  }

  function showTransferError(text) {
    els.transferError.textContent = text;
    els.transferError.hidden = !text;
  }

  function toggleFollowUp() {
    const ctx = replyContext();
    if (!ctx || isAwaiting("conversation.follow_up", ctx.id)) return;
    const needs = !ctx.conv.needs_follow_up;
    if (!send({ type: "conversation.follow_up", conversation_id: ctx.id, needs })) {
      showNotice("Not connected; try again once the console has reconnected.");
      return;
    }
    awaiting["conversation.follow_up"].push({ id: ctx.id, needs });
    render();
  }

  function changeStatus(status) {
    if (!state.me || status === state.me.status) return;
    if (!send({ type: "agent.status", status })) {
      showNotice("Not connected; change your status once the console has reconnected.");
      render();
      return;
    }
    awaiting["agent.status"].push(status);
    state.statusWanted = status;
    // The server announces only a change: when another tab changed it first, nothing comes.
    setTimeout(() => {
      if (state.statusWanted !== status) return;
      state.statusWanted = null;
      awaiting["agent.status"].length = 0;
      render();
    }, 5000);
    render();
  }

  function switchChat(step) {
    const ids = Array.from(els.chats.children, (node) => Number(node.dataset.conversationId));
    if (!ids.length) return;
    const index = ids.indexOf(state.openId);
    const next = index === -1 ? (step > 0 ? 0 : ids.length - 1) : Math.min(ids.length - 1, Math.max(0, index + step));
    openConversation(ids[next], { focusComposer: true });
  }

  function focusChatList() {
    const selector = `li[data-conversation-id="${state.openId}"]`;
    const target =
      els.chats.querySelector(selector) ||
      els.queue.querySelector(selector) ||
      els.chats.firstElementChild ||
      els.queue.firstElementChild;
    if (target) target.focus();
  }

  // --- Notices ---------------------------------------------------------------------------------

  let noticeTimer = null;

  function showNotice(text, kind = "error") {
    els.notice.querySelector(".notice-text").textContent = text;
    els.notice.dataset.kind = kind;
    els.notice.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(hideNotice, NOTICE_MS);
  }

  function hideNotice() {
    clearTimeout(noticeTimer);
    els.notice.hidden = true;
  }

  // --- Rendering ------------------------------------------------------------------------------

  function render() {
    renderMe();
    renderLists();
    renderChat();
    renderDialogs();
  }

  function renderMe() {
    const me = state.me;
    const known = !!me && typeof me.status === "string";
    const status = state.statusWanted || (known ? me.status : "offline");
    const select = els.agentStatus;
    if (!select.querySelector(`option[value="${status}"]`)) {
      select.append(h("option", { value: status, disabled: true }, status[0].toUpperCase() + status.slice(1)));
    }
    select.value = status;
    select.disabled = !known || !isConnected() || !!state.statusWanted;
    els.presence.dataset.status = status;
    const carried = Array.from(state.conversations.values()).filter(isMine).length;
    els.capacity.textContent = me && me.max_chats ? `${carried} of ${me.max_chats} chats` : "";
  }

  const byTime = (field) => (a, b) => (parseTime(a[field]) || 0) - (parseTime(b[field]) || 0) || a.id - b.id;

  function renderLists() {
    const all = Array.from(state.conversations.values());
    const queue = all.filter(isQueued).sort(byTime("created_at"));
    const chats = all.filter(isMine).sort(byTime("claimed_at"));
    const key = (conv) => String(conv.id);
    const create = (conv) => h("li", { className: "conv", tabindex: "0", "data-conversation-id": conv.id });
    reconcile(els.queue, queue, { key, create, sig: queueItemSig, fill: fillQueueItem });
    reconcile(els.chats, chats, { key, create, sig: chatItemSig, fill: fillChatItem });
    els.queueCount.textContent = queue.length;
    els.chatsCount.textContent = chats.length;
    els.queueEmpty.hidden = queue.length > 0;
    els.chatsEmpty.hidden = chats.length > 0;
  }

  function markCurrent(node, current) {
    if (current) node.setAttribute("aria-current", "true");
    else node.removeAttribute("aria-current");
  }

  /** R22 and R16 badges of a conversation. */
  function badges(conv) {
    const kind = visitorKind(conv);
    return [
      kind && h("span", { className: `kind-badge kind--${kind}` }, kind === "customer" ? "Customer" : "Prospect"),
      conv.needs_follow_up && h("span", { className: "tag tag--follow-up", title: "Needs follow-up (R16)" }, "Follow-up"),
    ];
  }

  const isVisitorTyping = (id) => threadOf(id).visitorTypingUntil > Date.now();

  const queueItemSig = (conv) =>
    JSON.stringify([
      conv.topic,
      conv.preview,
      conv.waiting_since,
      visitorName(conv),
      visitorKind(conv),
      conv.needs_follow_up,
      conv.team,
      conv.id === state.openId,
      isAwaiting("conversation.claim", conv.id),
    ]);

  function fillQueueItem(node, conv) {
    const claiming = isAwaiting("conversation.claim", conv.id);
    node.className = `conv conv--queued${conv.id === state.openId ? " conv--open" : ""}`;
    markCurrent(node, conv.id === state.openId);
    const meta = [visitorName(conv), `#${conv.id}`, conv.team && `for ${conv.team.name}`].filter(Boolean).join(" · ");
    node.replaceChildren(
      h("div", { className: "conv-row" }, h("span", { className: "conv-title" }, topicName(conv)), badges(conv), timer(conv)),
      h("div", { className: "conv-preview" }, conv.preview || "…"),
      h(
        "div",
        { className: "conv-row" },
        h("span", { className: "conv-meta" }, meta),
        h(
          "button",
          { type: "button", className: "claim btn btn-sm btn-primary", disabled: claiming },
          claiming ? "Claiming…" : "Claim",
        ),
      ),
    );
  }

  const chatItemSig = (conv) =>
    JSON.stringify([
      conv.topic,
      conv.preview,
      conv.waiting_since,
      visitorName(conv),
      visitorKind(conv),
      conv.needs_follow_up,
      conv.id === state.openId,
      threadOf(conv.id).unread.size,
      isVisitorTyping(conv.id),
    ]);

  function fillChatItem(node, conv) {
    const unread = threadOf(conv.id).unread.size;
    node.className = `conv conv--mine${conv.id === state.openId ? " conv--open" : ""}${unread ? " conv--unread" : ""}`;
    markCurrent(node, conv.id === state.openId);
    const typing = isVisitorTyping(conv.id);
    node.replaceChildren(
      h(
        "div",
        { className: "conv-row" },
        h("span", { className: "conv-title" }, visitorName(conv)),
        unread ? h("span", { className: "badge", title: `${unread} unread` }, String(unread)) : null,
        timer(conv),
      ),
      h("div", { className: "conv-row" }, h("span", { className: "conv-meta" }, `${topicName(conv)} · #${conv.id}`), badges(conv)),
      typing
        ? h("div", { className: "conv-preview conv-preview--typing" }, "typing…")
        : h("div", { className: "conv-preview" }, conv.preview || "…"),
    );
  }

  /** The R9 timer of a conversation whose customer waits for a reply, else nothing. */
  function timer(conv) {
    if (!conv.waiting_since) return null;
    const node = h("span", {
      className: "timer",
      "data-since": conv.waiting_since,
      title: "Customer waiting for a reply",
    });
    updateTimer(node, serverNow());
    return node;
  }

  function updateTimer(node, now) {
    const seconds = waitedSeconds(node.dataset.since, now);
    const text = formatWait(seconds);
    if (node.textContent !== text) node.textContent = text;
    node.classList.toggle("timer--amber", seconds >= AMBER_AFTER_S && seconds < RED_AFTER_S);
    node.classList.toggle("timer--red", seconds >= RED_AFTER_S);
  }

  function chatMode(conv, thread) {
    if (conv.status === "ended") return conv.agent && state.me && conv.agent.id === state.me.id ? "closed" : "readonly";
    if (isMine(conv)) return thread.closed ? "closed" : "reply";
    if (isQueued(conv)) return "queued";
    return "readonly";
  }

  function chatStateText(conv, thread) {
    if (conv.status === "ended") return "Chat ended";
    if (state.transferred.has(conv.id) && !isMine(conv)) return `You transferred this chat to ${state.transferred.get(conv.id)}.`;
    if (isTaken(conv)) {
      return conv.agent && conv.agent.name
        ? `Another agent took this chat (${conv.agent.name}).`
        : "Another agent took this chat.";
    }
    if (thread.closed === "not_owner") return "You no longer own this chat.";
    return "";
  }

  function statusText(conv) {
    if (conv.status === "ended") return "Ended";
    if (isQueued(conv)) return conv.team ? `Waiting in the ${conv.team.name} queue` : "Waiting in queue";
    if (isMine(conv)) return "With you";
    return conv.agent && conv.agent.name ? `With ${conv.agent.name}` : "With another agent";
  }

  function renderChat() {
    const conv = state.openId == null ? null : state.conversations.get(state.openId);
    els.empty.hidden = !!conv;
    els.header.hidden = !conv;
    els.transcript.hidden = !conv;
    els.footer.hidden = !conv;
    renderCustomer(conv);
    if (!conv) {
      els.typing.hidden = true;
      return;
    }

    const thread = threadOf(conv.id);
    const mode = chatMode(conv, thread);
    els.title.textContent = visitorName(conv);
    const kind = visitorKind(conv);
    redraw(els.kind, JSON.stringify([kind, conv.needs_follow_up]), () => els.kind.replaceChildren(...badges(conv).filter(Boolean)));
    els.subtitle.textContent = `${topicName(conv)} · #${conv.id} · ${statusText(conv)}`;
    const waiting = conv.waiting_since ? [h("span", { className: "muted" }, "Waiting "), timer(conv)] : [];
    els.chatTimer.replaceChildren(...waiting);
    els.endChat.hidden = mode !== "reply";
    els.endChat.disabled = isAwaiting("conversation.end", conv.id);
    els.transferOpen.hidden = mode !== "reply";
    els.followUp.hidden = mode !== "reply";
    const followUpWanted = awaiting["conversation.follow_up"].find((e) => e.id === conv.id);
    const flagged = followUpWanted ? followUpWanted.needs : !!conv.needs_follow_up;
    els.followUp.setAttribute("aria-pressed", String(flagged));
    els.followUp.disabled = !!followUpWanted;
    els.followUp.textContent = flagged ? "Follow-up ✓" : "Needs follow-up";

    const stateText = chatStateText(conv, thread);
    els.chatState.hidden = !stateText;
    els.chatState.textContent = stateText;
    els.chatState.dataset.kind = conv.status === "ended" ? "ended" : "info";

    const claiming = isAwaiting("conversation.claim", conv.id);
    els.claimBar.hidden = mode !== "queued";
    els.claimOpen.disabled = claiming;
    els.claimOpen.textContent = claiming ? "Claiming…" : "Claim";

    const typing = isVisitorTyping(conv.id) && conv.status !== "ended";
    els.typing.hidden = !typing;
    if (typing) els.typingText.textContent = `${(conv.visitor && conv.visitor.name) || "Visitor"} is typing…`;

    els.composer.hidden = mode !== "reply" && mode !== "closed";
    els.body.disabled = mode !== "reply";
    els.send.disabled = mode !== "reply";
    if (els.body.dataset.conversationId !== String(conv.id)) {
      els.body.value = drafts.load(conv.id);
      els.body.dataset.conversationId = String(conv.id);
    }
    updateCount();
    renderComposer(thread, mode);
    renderTranscript(conv.id, thread);
  }

  function renderComposer(thread, mode) {
    const c = thread.composer;
    const replying = mode === "reply";
    const noting = c.mode === "note";
    els.composer.dataset.mode = c.mode;
    els.modeReply.setAttribute("aria-pressed", String(!noting));
    els.modeNote.setAttribute("aria-pressed", String(noting));
    els.modeReply.disabled = els.modeNote.disabled = !replying;
    els.cannedOpen.hidden = noting;
    els.cannedOpen.disabled = !replying;
    els.body.placeholder = PLACEHOLDER[c.mode];
    els.body.setAttribute("aria-label", noting ? "Private note" : "Reply");

    const text = els.body.value;
    const units = replying && !noting ? composerUnits(c, text) : [];
    const verdict = composerVerdict(c, units);
    if (verdict.complete) c.shownItems = verdict.items;
    const items = verdict.complete ? verdict.items : c.shownItems;

    renderBlocks(c, units, verdict);
    renderWarnings(c, units, items, verdict);
    if (!els.composer.hidden) fitComposer();
    renderBackdrop(text, items);
    renderCannedPopup(replying && !noting);

    let label = "Send";
    if (noting) label = "Add note";
    else if (c.sendWhenChecked) label = "Checking…";
    else if (c.armed) label = "Send anyway";
    else if (units.length > 1) label = `Send ${units.length} blocks`;
    if (els.send.textContent !== label) els.send.textContent = label;

    let hint = null;
    if (noting) hint = [lockIcon(), " Private note — only agents see it"];
    else if (c.canned) hint = `From canned response${c.canned.shortcut ? ` /${c.canned.shortcut}` : ""}`;
    redraw(els.hint, JSON.stringify([c.mode, c.canned]), () => els.hint.replaceChildren(...[hint].flat().filter(Boolean)));
  }

  function renderBlocks(c, units, verdict) {
    const show = c.split && units.length > 1;
    els.blocks.hidden = !show;
    if (!show) return;
    els.blocksTitle.textContent = `Sends as ${units.length} messages, in this order`;
    const items = units.map((unit, index) => ({ unit, index, long: verdict.perUnit[index].includes("too_long") }));
    reconcile(els.blocksList, items, {
      key: (item) => String(item.index),
      sig: (item) => JSON.stringify([item.unit, item.long]),
      create: () => h("li", { className: "block" }),
      fill: (node, item) => {
        node.classList.toggle("block--long", item.long);
        node.replaceChildren(
          h("span", { className: "block-body" }, item.unit),
          h("span", { className: "block-meta" }, plural(words(item.unit), "word")),
        );
      },
    });
  }

  function renderWarnings(c, units, items, verdict) {
    const armed = !!c.armed && items.length > 0;
    const sig = JSON.stringify([items.map((i) => [i.index, i.warning, i.blocks]), armed, c.split, units.length]);
    els.warnings.hidden = items.length === 0;
    els.warnings.classList.toggle("composer-warnings--armed", armed);
    els.composer.classList.toggle("composer--armed", armed);
    redraw(els.warnings, sig, () => {
      const several = c.split && units.length > 1;
      const prefix = (item) => (several ? `Block ${item.index + 1}: ` : "");
      const rows = items.map((item) => {
        const { warning } = item;
        const row = h("li", { className: `warning warning--${warning.code}`, title: warning.message || null });
        if (warning.code === "too_long") {
          const count = words(item.unit);
          const blocks = (item.blocks || []).filter((b) => b.trim()).length;
          row.append(
            h("span", { className: "warning-text" }, `${prefix(item)}${count} words — split into blocks`),
            h("span", { className: "muted" }, " customers read short blocks while you type the next (about 30 words each)"),
            blocks > 1
              ? h(
                  "button",
                  { type: "button", className: "btn btn-sm warning-action", "data-action": "split" },
                  `Split into ${blocks} blocks`,
                  h("kbd", null, "Alt"),
                  h("kbd", null, "S"),
                )
              : null,
          );
        } else if (warning.code === "slang" || warning.code === "blocked") {
          row.append(h("span", { className: "warning-text" }, `${prefix(item)}${warning.message || "Check the wording."}`));
          const terms = h("ul", { className: "warning-terms" });
          for (const hit of warning.terms || []) {
            const fix = suggestionFix(hit.suggestion);
            terms.append(
              h(
                "li",
                null,
                h("mark", { className: `hl hl--${warning.code}` }, termText(item.unit, hit)),
                fix
                  ? h(
                      "button",
                      {
                        type: "button",
                        className: "btn btn-sm warning-action",
                        "data-action": "replace",
                        "data-term": hit.term,
                        "data-suggestion": fix.text,
                        "data-unit": item.unit,
                        "data-start": hit.start,
                        "data-end": hit.end,
                      },
                      fix.label,
                    )
                  : hit.suggestion && h("span", { className: "muted" }, hit.suggestion.replace(/^\(|\)$/g, "")),
              ),
            );
          }
          row.append(terms);
        } else {
          row.append(h("span", { className: "warning-text" }, `${prefix(item)}${warning.message || warning.code}`));
        }
        return row;
      });
      const list = h("ul", { className: "warning-list" }, rows);
      const head = armed
        ? h(
            "p",
            { className: "warnings-armed" },
            h("strong", null, "Press Enter again to send anyway"),
            " — or fix it first. Supervisors see which warnings were overridden.",
          )
        : null;
      els.warnings.replaceChildren(...[head, list].filter(Boolean));
    });
    if (!verdict.complete && items.length) els.warnings.dataset.stale = "";
    else delete els.warnings.dataset.stale;
  }

  /** The composer grows with its text, up to its CSS max-height; then it scrolls. */
  function fitComposer() {
    if (els.body.dataset.fitFor === els.body.value) return;
    els.body.dataset.fitFor = els.body.value;
    els.body.style.height = "auto";
    els.body.style.height = `${els.body.scrollHeight + 2}px`;
  }

  /** The highlight layer under the transparent textarea: the flagged terms, marked (R12). */
  function renderBackdrop(text, items) {
    const ranges = els.body.disabled ? [] : termRanges(text, items);
    const sig = JSON.stringify([text, ranges]);
    redraw(els.backdrop, sig, () => {
      const parts = [];
      let at = 0;
      for (const [start, end, code] of ranges) {
        parts.push(text.slice(at, start), h("mark", { className: `hl hl--${code}` }, text.slice(start, end)));
        at = end;
      }
      // A trailing newline needs a character after it to take up its line, as in the textarea.
      parts.push(`${text.slice(at)}\u200b`);
      els.backdrop.replaceChildren(...parts);
    });
    // The textarea's scrollbar narrows its text; the layer must wrap at the same width.
    const scrollbar = Math.max(0, els.body.offsetWidth - els.body.clientWidth - 2);
    els.backdrop.style.paddingRight = `${10 + scrollbar}px`;
    els.backdrop.scrollTop = els.body.scrollTop;
  }

  function renderCannedPopup(allowed) {
    const s = state.canned;
    const show = allowed && s.open && s.conversationId === state.openId;
    els.cannedPopup.hidden = !show;
    els.cannedOpen.setAttribute("aria-expanded", String(show));
    if (!show) return;
    els.cannedSearchRow.hidden = s.via !== "button";
    els.cannedPopup.dataset.via = s.via;
    reconcile(els.cannedList, s.results, {
      key: (result) => String(result.id),
      sig: (result) => JSON.stringify([result, s.results[s.index] === result]),
      create: (result) => h("li", { role: "option", id: `canned-option-${result.id}`, className: "canned-item" }),
      fill: (node, result) => {
        const selected = s.results[s.index] === result;
        node.setAttribute("aria-selected", String(selected));
        node.replaceChildren(
          h(
            "div",
            { className: "canned-item-head" },
            h("span", { className: "canned-shortcut" }, `/${result.shortcut}`),
            h("span", { className: "canned-title" }, result.title),
            h("span", { className: `tag tag--${result.scope}` }, SCOPE_TEXT[result.scope] || result.scope),
          ),
          h("div", { className: "canned-body" }, result.body),
        );
      },
    });
    const selected = els.cannedList.querySelector("[aria-selected=true]");
    if (selected) {
      selected.scrollIntoView({ block: "nearest" });
      els.cannedSearch.setAttribute("aria-activedescendant", selected.id);
    } else {
      els.cannedSearch.removeAttribute("aria-activedescendant");
    }
    let empty = "";
    if (s.error) empty = s.error;
    else if (s.loading && !s.results.length) empty = "Searching…";
    else if (!s.results.length && s.query != null) {
      empty = s.query.replace(/^\//, "").trim()
        ? "No canned response matches."
        : "No canned responses yet. Hover a good reply of yours and pick “Save as canned”.";
    }
    els.cannedEmpty.textContent = empty;
    els.cannedEmpty.hidden = !empty;
  }

  function renderDialogs() {
    const transferring = !!state.transfer;
    els.transferSubmit.disabled = transferring;
    els.transferSubmit.textContent = transferring ? "Transferring…" : "Transfer";
    if (els.transferDialog.open && !replyContext() && !transferring) els.transferDialog.close();
    els.cannedSubmit.disabled = !!state.savingCanned;
    els.cannedSubmit.textContent = state.savingCanned ? "Saving…" : "Save";
  }

  function renderTranscript(id, thread) {
    const list = els.transcript;
    if (list.dataset.conversationId !== String(id)) {
      // Nodes are keyed by seq, which every conversation starts at 1: never reuse another chat's.
      list.replaceChildren();
      list.dataset.conversationId = String(id);
    }
    const nearEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    const items = [
      ...Array.from(thread.messages.values())
        .sort((a, b) => a.seq - b.seq)
        .map((message) => ({ message, state: "stored" })),
      ...Array.from(thread.failed.values(), (message) => ({ message, state: "failed" })),
      ...Array.from(thread.pending.values(), (message) => ({ message, state: "pending" })),
    ];
    reconcile(list, items, {
      key: ({ message, state: s }) => (s === "stored" ? `s${message.seq}` : `c${message.client_id}`),
      sig: ({ message, state: s }) => `${s}:${message.local ? "local" : "stored"}`,
      create: () => h("li"),
      fill: fillMessage,
    });
    if (state.scrollToEnd || nearEnd) list.scrollTop = list.scrollHeight;
    state.scrollToEnd = false;
  }

  function fillMessage(node, { message, state: s }) {
    const sender = s === "stored" ? message.sender : message.note ? "note" : "agent";
    node.className = `msg msg--${sender}${s === "stored" ? "" : ` msg--${s}`}`;
    if (s === "stored") node.dataset.seq = message.seq;
    else node.dataset.clientId = message.client_id;
    const time = h("time", { datetime: message.created_at }, formatTime(message.created_at));
    if (sender === "system") {
      node.replaceChildren(h("span", { className: "msg-body" }, message.body), " · ", time);
      return;
    }
    let author = sender === "visitor" ? visitorName(state.conversations.get(message.conversation_id) || {}) : "";
    if (sender === "agent" || sender === "note") {
      author = s === "stored" ? message.author_name || "Agent" : state.me ? state.me.name : "You";
    }
    const status =
      s === "pending" ? h("span", { className: "msg-status" }, "Sending…")
      : s === "failed" ? h("span", { className: "msg-status" }, `Not sent: ${message.error}`)
      : null;
    const label = sender === "note" ? h("span", { className: "msg-note-label" }, lockIcon(), "Private note") : null;
    const action =
      sender === "agent" && s === "stored"
        ? h("button", { type: "button", className: "msg-action", "data-action": "save-canned" }, "Save as canned")
        : null;
    node.replaceChildren(
      h(
        "div",
        { className: "msg-meta" },
        action,
        label,
        label && " · ",
        h("span", { className: "msg-author" }, author),
        " ",
        time,
        status && " ",
        status,
      ),
      h("div", { className: "msg-body" }, message.body),
    );
  }

  function renderCustomer(conv) {
    if (!conv) {
      els.customer.replaceChildren(h("p", { className: "muted" }, "No chat open."));
      return;
    }
    const visitor = conv.visitor || {};
    const kind = visitorKind(conv);
    const rows = [
      ["Visitor", visitor.name || (visitor.email ? "" : "Anonymous visitor")],
      ["Email", visitor.email],
      ["Topic", topicName(conv)],
      ["Team", conv.team && conv.team.name],
      ["Started", formatDateTime(conv.created_at)],
      ["Status", statusText(conv)],
      ["Chat", `#${conv.id}`],
    ].filter(([, value]) => value);
    // R22: what a good outcome is depends on who this is.
    const aim =
      kind === "customer" ? "A customer: give the correct answer."
      : kind === "prospect" ? "A prospect: aim for a sign-up, a demo, or at least an email."
      : null;
    const sig = JSON.stringify([rows, kind, conv.needs_follow_up]);
    redraw(els.customer, sig, () =>
      els.customer.replaceChildren(
        ...[
        kind
          ? h(
              "div",
              { className: `kind-card kind-card--${kind}` },
              h("span", { className: `kind-badge kind--${kind}` }, kind === "customer" ? "Customer" : "Prospect"),
              h("p", null, aim),
            )
          : null,
        conv.needs_follow_up
          ? h("p", { className: "follow-up-note" }, "Needs follow-up: the answer is owed by email (R16).")
          : null,
        h("dl", { className: "facts" }, rows.map(([label, value]) => [h("dt", null, label), h("dd", null, value)])),
        ].filter(Boolean),
      ),
    );
  }

  function updateCount() {
    const left = MAX_BODY - els.body.value.length;
    els.count.textContent = left <= 500 ? `${left} characters left` : "";
  }

  // --- Timers and the title alert (R9) -------------------------------------------------------

  let flashOn = false;

  function tick() {
    const now = serverNow();
    for (const node of document.querySelectorAll(".timer[data-since]")) updateTimer(node, now);

    let alerting = false;
    for (const conv of state.conversations.values()) {
      if (!conv.waiting_since || !(isQueued(conv) || isMine(conv))) continue;
      if (waitedSeconds(conv.waiting_since, now) < RED_AFTER_S) continue;
      if (state.acknowledged.get(conv.id) === conv.waiting_since) continue;
      if (conv.id === state.openId && document.hasFocus()) {
        state.acknowledged.set(conv.id, conv.waiting_since);
        continue;
      }
      alerting = true;
    }
    flashOn = alerting && !flashOn;
    const title = flashOn ? ALERT_TITLE : baseTitle;
    if (document.title !== title) document.title = title;
  }

  // --- Wiring ---------------------------------------------------------------------------------

  els.lists.addEventListener("click", (event) => {
    const item = event.target.closest("li.conv");
    if (!item) return;
    const id = Number(item.dataset.conversationId);
    if (event.target.closest("button.claim")) claim(id);
    else openConversation(id, { focusComposer: true });
  });

  els.lists.addEventListener("keydown", (event) => {
    const item = event.target.closest("li.conv");
    if (!item || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const items = Array.from(els.lists.querySelectorAll("li.conv"));
      const next = items[items.indexOf(item) + (event.key === "ArrowDown" ? 1 : -1)];
      if (next) next.focus();
      event.preventDefault();
    } else if ((event.key === "Enter" || event.key === " ") && event.target === item) {
      event.preventDefault();
      openConversation(Number(item.dataset.conversationId), { focusComposer: true });
    }
  });

  els.agentStatus.addEventListener("change", () => changeStatus(els.agentStatus.value));
  els.claimOpen.addEventListener("click", () => {
    if (state.openId != null) claim(state.openId);
  });
  els.endChat.addEventListener("click", endChat);
  els.transferOpen.addEventListener("click", openTransfer);
  els.followUp.addEventListener("click", toggleFollowUp);
  els.notice.querySelector(".notice-close").addEventListener("click", hideNotice);

  els.transcript.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action=save-canned]");
    if (!button || state.openId == null) return;
    const message = threadOf(state.openId).messages.get(Number(button.closest("li.msg").dataset.seq));
    if (message) openSaveCanned(message);
  });

  els.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    submitReply();
  });
  els.modeReply.addEventListener("click", () => setMode("reply"));
  els.modeNote.addEventListener("click", () => setMode("note"));
  els.blocksJoin.addEventListener("click", joinBlocks);
  els.warnings.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    if (button.dataset.action === "split") {
      splitReply();
      return;
    }
    const { term, suggestion, unit, start, end } = button.dataset;
    const hit = { term, start: Number(start), end: Number(end) };
    const text = els.body.value;
    const range = locateTerm(text, unit, text.indexOf(unit), hit);
    if (range) replaceTerm(range[0], range[1], suggestion);
  });

  els.body.addEventListener("keydown", (event) => {
    const modified = event.shiftKey || event.altKey || event.ctrlKey || event.metaKey;
    const s = state.canned;
    if (s.open && s.via === "slash" && !modified && !els.cannedPopup.hidden) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        moveCanned(event.key === "ArrowDown" ? 1 : -1);
        return;
      }
      if (event.key === "Enter" && !event.isComposing) {
        // Never send "/typo" to a customer: with nothing to insert, Enter waits (Esc closes the list).
        event.preventDefault();
        if (s.results.length) insertCanned(s.results[s.index]);
        return;
      }
      if (event.key === "Tab" && s.results.length) {
        event.preventDefault();
        insertCanned(s.results[s.index]);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        closeCanned();
        render();
        return;
      }
    }
    if (event.key === "Enter" && !modified && !event.isComposing) {
      event.preventDefault();
      submitReply();
    }
  });
  els.body.addEventListener("input", composerInput);
  els.body.addEventListener("scroll", () => {
    els.backdrop.scrollTop = els.body.scrollTop;
  });

  els.cannedOpen.addEventListener("click", () => {
    const ctx = replyContext();
    if (!ctx) return;
    if (state.canned.open && state.canned.via === "button") {
      closeCanned();
      render();
      els.body.focus();
      return;
    }
    openCanned(ctx.id, "button");
    els.cannedSearch.value = "";
    searchCanned("");
    render();
    els.cannedSearch.focus();
  });
  els.cannedSearch.addEventListener("input", () => {
    searchCanned(els.cannedSearch.value.trim());
    render();
  });
  els.cannedSearch.addEventListener("keydown", (event) => {
    const s = state.canned;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      moveCanned(event.key === "ArrowDown" ? 1 : -1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (s.results.length) insertCanned(s.results[s.index]);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      closeCanned();
      render();
      els.body.focus();
    }
  });
  // Pointer picks keep the focus in the composer (mousedown would move it to the list).
  els.cannedList.addEventListener("mousedown", (event) => event.preventDefault());
  els.cannedList.addEventListener("click", (event) => {
    const item = event.target.closest("li.canned-item");
    if (!item) return;
    insertCanned(state.canned.results.find((r) => String(r.id) === item.dataset.key));
  });
  document.addEventListener("mousedown", (event) => {
    if (!state.canned.open || els.cannedPopup.contains(event.target) || event.target === els.cannedOpen) return;
    if (event.target === els.body && state.canned.via === "slash") return;
    closeCanned();
    render();
  });

  els.transferForm.addEventListener("submit", (event) => {
    event.preventDefault();
    submitTransfer();
  });
  els.cannedForm.addEventListener("submit", (event) => {
    event.preventDefault();
    submitSaveCanned();
  });
  els.cannedTitle.addEventListener("input", () => {
    if (!els.cannedShortcut.dataset.edited) els.cannedShortcut.value = slugify(els.cannedTitle.value);
  });
  els.cannedShortcut.addEventListener("input", () => {
    els.cannedShortcut.dataset.edited = "1";
  });
  for (const dialog of [els.transferDialog, els.cannedDialog]) {
    dialog.addEventListener("click", (event) => {
      if (event.target.closest("[data-close]")) dialog.close();
    });
    dialog.addEventListener("close", () => {
      if (!els.composer.hidden && !els.body.disabled) els.body.focus();
    });
  }

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || (event.target instanceof Element && event.target.closest("dialog"))) return;
    const plain = !event.ctrlKey && !event.metaKey && !event.shiftKey;
    if (plain && event.altKey && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      switchChat(event.key === "ArrowDown" ? 1 : -1);
    } else if (plain && event.altKey && event.code === "KeyN" && replyContext()) {
      event.preventDefault();
      const ctx = replyContext();
      setMode(ctx.c.mode === "note" ? "reply" : "note");
    } else if (plain && event.altKey && event.code === "KeyS" && replyContext()) {
      event.preventDefault();
      splitReply();
      render();
    } else if (plain && !event.altKey && event.key === "Escape") {
      if (state.canned.open) {
        closeCanned();
        render();
        els.body.focus();
      } else {
        focusChatList();
      }
    }
  });

  window.addEventListener("focus", tick);
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") reconnectNow();
  });

  setConnection("connecting");
  render();
  connect();
  setInterval(tick, 1000);
})();
