/*
 * The agent console: queue, claim, reply, end, and the R9 waiting timer.
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
  const STATUS_RANK = { queued: 0, active: 1, ended: 2 };
  const CONNECTION_TEXT = {
    connecting: "Connecting…",
    connected: "Connected",
    reconnecting: "Reconnecting…",
    "signed-out": "Signed out",
  };

  const root = document.getElementById("console");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const els = {
    lists: root.querySelector(".console-lists"),
    status: $("connection-status"),
    queue: $("queue"),
    queueCount: $("queue-count"),
    queueEmpty: $("queue-empty"),
    chats: $("chats"),
    chatsCount: $("chats-count"),
    chatsEmpty: $("chats-empty"),
    header: $("chat-header"),
    title: $("chat-title"),
    subtitle: $("chat-subtitle"),
    chatTimer: $("chat-timer"),
    endChat: $("end-chat"),
    empty: $("chat-empty"),
    transcript: $("transcript"),
    notice: $("notice"),
    footer: $("chat-footer"),
    chatState: $("chat-state"),
    claimBar: $("claim-bar"),
    claimOpen: $("claim-open"),
    composer: $("composer"),
    body: $("composer-body"),
    send: root.querySelector("#composer button[type=submit]"),
    count: $("composer-count"),
    customer: $("customer-body"),
  };
  const baseTitle = document.title;

  // --- State ---------------------------------------------------------------------------

  const state = {
    me: null, // {id, name, is_supervisor} from `welcome`
    clockOffset: 0, // server clock minus this browser's clock, in ms
    conversations: new Map(), // id -> CONVERSATION as the server last described it
    threads: new Map(), // id -> what this page holds of the conversation's messages
    openId: null,
    acknowledged: new Map(), // id -> the waiting_since the agent has looked at past 45 s
    scrollToEnd: false,
  };

  function threadOf(id) {
    let thread = state.threads.get(id);
    if (!thread) {
      thread = {
        messages: new Map(), // seq -> MESSAGE
        lastSeq: 0, // highest seq such that 1..lastSeq are all held
        loaded: false, // a sync has reached the end once
        syncing: false,
        pending: new Map(), // client_id -> {client_id, body, created_at}, sent, not acked
        failed: new Map(), // client_id -> pending refused by the server, with `error`
        unread: new Set(), // seqs of customer messages that arrived while not open
        closed: null, // an error code that stopped this agent replying here
      };
      state.threads.set(id, thread);
    }
    return thread;
  }

  const isQueued = (conv) => conv.status === "queued";
  const isMine = (conv) =>
    conv.status === "active" && !!conv.agent && !!state.me && conv.agent.id === state.me.id;
  const isTaken = (conv) => conv.status === "active" && !isMine(conv);

  /** True when `next` describes an older state than `current` (events may arrive late or twice). */
  function isStale(current, next) {
    const was = STATUS_RANK[current.status] ?? 0;
    const now = STATUS_RANK[next.status] ?? 0;
    return now < was || (now === was && next.last_seq < current.last_seq);
  }

  /** Drop conversations in neither list, except the open one. */
  function forgetUnlisted() {
    for (const [id, conv] of state.conversations) {
      if (isQueued(conv) || isMine(conv) || id === state.openId) continue;
      state.conversations.delete(id);
      state.acknowledged.delete(id);
      const thread = state.threads.get(id);
      if (thread && !thread.pending.size) state.threads.delete(id);
    }
  }

  // Frames awaiting an answer, per type, in send order. An `error` names only the frame
  // type in `ref`, and the server answers one socket's frames in order, so the oldest
  // unanswered frame of that type is the one refused.
  const awaiting = { "conversation.claim": [], "conversation.end": [], sync: [] };

  function answered(type, id) {
    const list = awaiting[type];
    const index = list.indexOf(id);
    if (index === -1) return false;
    list.splice(index, 1);
    return true;
  }

  const isAwaiting = (type, id) => awaiting[type].includes(id);

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

  const socket = { ws: null, attempts: 0, retryTimer: null, welcomed: false, signedOut: false };

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
      if (socket.ws === ws) receive(event.data);
    });
    ws.addEventListener("close", () => {
      if (socket.ws !== ws) return;
      socket.ws = null;
      disconnected();
    });
  }

  function disconnected() {
    // Answers to frames sent on the lost socket will never come.
    for (const list of Object.values(awaiting)) list.length = 0;
    for (const thread of state.threads.values()) thread.syncing = false;
    setConnection("reconnecting");
    render();
    const wasRefused = !socket.welcomed;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** socket.attempts);
    socket.attempts += 1;
    socket.retryTimer = setTimeout(connect, Math.min(BACKOFF_MAX_MS, base * (0.75 + Math.random() * 0.5)));
    if (wasRefused) checkSignedIn();
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
      const serverTime = parseTime(frame.server_time);
      if (!Number.isNaN(serverTime)) state.clockOffset = serverTime - Date.now();
      socket.attempts = 0;
      socket.welcomed = true;
      setConnection("connected");

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
    },

    "conversation.updated"(frame) {
      applyConversation(frame.conversation);
    },

    "message.new"(frame) {
      const message = frame.message;
      const id = message.conversation_id;
      const thread = threadOf(id);
      const added = storeMessages(id, [message]);
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
            sender: "agent",
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

    error(frame) {
      const ref = frame.ref;
      if (ref === "conversation.claim") return claimRefused(awaiting[ref].shift(), frame);
      if (ref === "conversation.end") return endRefused(awaiting[ref].shift(), frame);
      if (ref === "sync") return syncRefused(awaiting[ref].shift(), frame);
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

    if (isMine(conv) && answered("conversation.claim", conv.id)) openConversation(conv.id, { focusComposer: true });
    if (conv.status === "ended") answered("conversation.end", conv.id);
    if (conv.id === state.openId) {
      if (before && isQueued(before) && isTaken(conv)) showNotice("Another agent took this chat.", "info");
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
      if (message.sender === "agent" && message.client_id) {
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

  const messageFrame = (id, pending) => ({
    type: "message.send",
    conversation_id: id,
    client_id: pending.client_id,
    body: pending.body,
  });

  function claimRefused(id, frame) {
    const conv = id == null ? null : state.conversations.get(id);
    if (!conv) return showNotice(frame.message);
    if (frame.code === "already_claimed") {
      showNotice("Another agent took this chat.", "info");
      // Out of the queue now; the owner's conversation.updated, when it comes, fills in who.
      if (isQueued(conv)) state.conversations.set(id, { ...conv, status: "active", agent: conv.agent || null });
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

  // --- Agent actions -------------------------------------------------------------------------

  function openConversation(id, { focusComposer = false } = {}) {
    const conv = state.conversations.get(id);
    if (!conv) return;
    if (state.openId !== id) {
      state.openId = id;
      state.scrollToEnd = true;
      hideNotice();
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

  function submitReply() {
    const id = state.openId;
    const conv = id == null ? null : state.conversations.get(id);
    if (!conv || !isMine(conv) || threadOf(id).closed) return;
    const body = els.body.value.trim();
    if (!body) return;
    if (body.length > MAX_BODY) {
      showNotice(`A message can be at most ${MAX_BODY} characters.`);
      return;
    }
    const pending = { client_id: newClientId(), body, created_at: new Date(serverNow()).toISOString() };
    threadOf(id).pending.set(pending.client_id, pending);
    send(messageFrame(id, pending)); // when offline it goes out with the resends after reconnecting
    els.body.value = "";
    drafts.save(id, "");
    state.scrollToEnd = true;
    render();
    els.body.focus();
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
    renderLists();
    renderChat();
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

  const queueItemSig = (conv) =>
    JSON.stringify([
      conv.topic,
      conv.preview,
      conv.waiting_since,
      visitorName(conv),
      conv.id === state.openId,
      isAwaiting("conversation.claim", conv.id),
    ]);

  function fillQueueItem(node, conv) {
    const claiming = isAwaiting("conversation.claim", conv.id);
    node.className = `conv conv--queued${conv.id === state.openId ? " conv--open" : ""}`;
    markCurrent(node, conv.id === state.openId);
    node.replaceChildren(
      h("div", { className: "conv-row" }, h("span", { className: "conv-title" }, topicName(conv)), timer(conv)),
      h("div", { className: "conv-preview" }, conv.preview || "…"),
      h(
        "div",
        { className: "conv-row" },
        h("span", { className: "conv-meta" }, `${visitorName(conv)} · #${conv.id}`),
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
      conv.id === state.openId,
      threadOf(conv.id).unread.size,
    ]);

  function fillChatItem(node, conv) {
    const unread = threadOf(conv.id).unread.size;
    node.className = `conv conv--mine${conv.id === state.openId ? " conv--open" : ""}${unread ? " conv--unread" : ""}`;
    markCurrent(node, conv.id === state.openId);
    node.replaceChildren(
      h(
        "div",
        { className: "conv-row" },
        h("span", { className: "conv-title" }, visitorName(conv)),
        unread ? h("span", { className: "badge", title: `${unread} unread` }, String(unread)) : null,
        timer(conv),
      ),
      h("div", { className: "conv-meta" }, `${topicName(conv)} · #${conv.id}`),
      h("div", { className: "conv-preview" }, conv.preview || "…"),
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
    if (isQueued(conv)) return "Waiting in queue";
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
    if (!conv) return;

    const thread = threadOf(conv.id);
    const mode = chatMode(conv, thread);
    els.title.textContent = visitorName(conv);
    els.subtitle.textContent = `${topicName(conv)} · #${conv.id} · ${statusText(conv)}`;
    const waiting = conv.waiting_since ? [h("span", { className: "muted" }, "Waiting "), timer(conv)] : [];
    els.chatTimer.replaceChildren(...waiting);
    els.endChat.hidden = mode !== "reply";
    els.endChat.disabled = isAwaiting("conversation.end", conv.id);

    const stateText = chatStateText(conv, thread);
    els.chatState.hidden = !stateText;
    els.chatState.textContent = stateText;
    els.chatState.dataset.kind = conv.status === "ended" ? "ended" : "info";

    const claiming = isAwaiting("conversation.claim", conv.id);
    els.claimBar.hidden = mode !== "queued";
    els.claimOpen.disabled = claiming;
    els.claimOpen.textContent = claiming ? "Claiming…" : "Claim";

    els.composer.hidden = mode !== "reply" && mode !== "closed";
    els.body.disabled = mode !== "reply";
    els.send.disabled = mode !== "reply";
    if (els.body.dataset.conversationId !== String(conv.id)) {
      els.body.value = drafts.load(conv.id);
      els.body.dataset.conversationId = String(conv.id);
    }
    updateCount();
    renderTranscript(conv.id, thread);
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
    const sender = s === "stored" ? message.sender : "agent";
    node.className = `msg msg--${sender}${s === "stored" ? "" : ` msg--${s}`}`;
    if (s === "stored") node.dataset.seq = message.seq;
    else node.dataset.clientId = message.client_id;
    const time = h("time", { datetime: message.created_at }, formatTime(message.created_at));
    if (sender === "system") {
      node.replaceChildren(h("span", { className: "msg-body" }, message.body), " · ", time);
      return;
    }
    let author = sender === "visitor" ? visitorName(state.conversations.get(message.conversation_id) || {}) : "";
    if (sender === "agent") author = s === "stored" ? message.author_name : state.me ? state.me.name : "You";
    const status =
      s === "pending" ? h("span", { className: "msg-status" }, "Sending…")
      : s === "failed" ? h("span", { className: "msg-status" }, `Not sent: ${message.error}`)
      : null;
    node.replaceChildren(
      h("div", { className: "msg-meta" }, h("span", { className: "msg-author" }, author), " ", time, status && " ", status),
      h("div", { className: "msg-body" }, message.body),
    );
  }

  function renderCustomer(conv) {
    if (!conv) {
      els.customer.replaceChildren(h("p", { className: "muted" }, "No chat open."));
      return;
    }
    const visitor = conv.visitor || {};
    const rows = [
      ["Visitor", visitor.name || (visitor.email ? "" : "Anonymous visitor")],
      ["Email", visitor.email],
      ["Topic", topicName(conv)],
      ["Started", formatDateTime(conv.created_at)],
      ["Status", statusText(conv)],
      ["Chat", `#${conv.id}`],
    ].filter(([, value]) => value);
    els.customer.replaceChildren(
      h("dl", { className: "facts" }, rows.map(([label, value]) => [h("dt", null, label), h("dd", null, value)])),
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

  els.claimOpen.addEventListener("click", () => {
    if (state.openId != null) claim(state.openId);
  });
  els.endChat.addEventListener("click", endChat);
  els.notice.querySelector(".notice-close").addEventListener("click", hideNotice);

  els.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    submitReply();
  });
  els.body.addEventListener("keydown", (event) => {
    const modified = event.shiftKey || event.altKey || event.ctrlKey || event.metaKey;
    if (event.key === "Enter" && !modified && !event.isComposing) {
      event.preventDefault();
      submitReply();
    }
  });
  els.body.addEventListener("input", () => {
    const id = Number(els.body.dataset.conversationId);
    if (id) drafts.save(id, els.body.value);
    updateCount();
  });

  document.addEventListener("keydown", (event) => {
    const plain = !event.ctrlKey && !event.metaKey && !event.shiftKey;
    if (plain && event.altKey && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      switchChat(event.key === "ArrowDown" ? 1 : -1);
    } else if (plain && !event.altKey && event.key === "Escape") {
      focusChatList();
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
