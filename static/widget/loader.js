/* Helpdesk chat widget. Sites embed it with one tag:
 *   <script src="https://HOST/static/widget/loader.js" data-site="SITE_KEY" async></script>
 * It speaks the visitor socket protocol of docs/protocol.md and renders into an open shadow
 * root on <div id="helpdesk-widget">, so the host page's styles and ours never mix.
 */
(() => {
  "use strict";
  if (document.getElementById("helpdesk-widget")) return;
  const script = document.currentScript || document.querySelector('script[data-site][src*="loader.js"]') ||
    document.querySelector("script[data-site]");
  const SITE = script && script.dataset.site;
  if (!SITE) return;
  const server = new URL(script.src, location.href);
  const WS_URL = `${server.protocol === "https:" ? "wss" : "ws"}://${server.host}/ws/visitor/${encodeURIComponent(SITE)}/`;
  const MAX = 4000, COUNTER_FROM = 3600;

  /* ---- storage: helpdesk:<site>:<name>; memory when localStorage is unavailable ---- */
  const mem = {};
  const key = (name) => `helpdesk:${SITE}:${name}`;
  const load = (name) => { try { return localStorage.getItem(key(name)); } catch (e) { return mem[name] ?? null; } };
  const save = (name, value) => {
    try {
      value == null ? localStorage.removeItem(key(name)) : localStorage.setItem(key(name), value);
    } catch (e) { value == null ? delete mem[name] : (mem[name] = value); }
  };
  const loadJSON = (name, fallback) => { try { return JSON.parse(load(name)) || fallback; } catch (e) { return fallback; } };
  // Pending messages are re-read on every use, so two tabs do not overwrite each other's.
  const pending = () => loadJSON("pending", []);
  const setPending = (items) => save("pending", items.length ? JSON.stringify(items) : null);
  const dropPending = (clientId) => setPending(pending().filter((p) => p.client_id !== clientId));
  // st: this browser's last conversation {id, read: highest seq seen open, done: ended and seen}.
  let st = loadJSON("conv", {});
  const saveSt = () => save("conv", st.id ? JSON.stringify(st) : null);

  const uuid = () => crypto.randomUUID ? crypto.randomUUID() : // not on plain-http pages
    "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
      (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));

  /* ---- DOM ---- */
  const h = (tag, cls, text, attrs = {}) => {
    const el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text != null) el.textContent = text;
    for (const k in attrs) el.setAttribute(k, attrs[k]);
    return el;
  };
  const button = (cls, text, attrs) => h("button", cls, text, { type: "button", ...attrs });

  const CSS = `:host{all:initial}*{box-sizing:border-box}[hidden]{display:none!important}
.hd{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1f2937}
button,select,textarea{font:inherit;color:inherit}button{cursor:pointer}
:focus-visible{outline:3px solid #93c5fd;outline-offset:2px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.hd-bubble,.hd-panel{position:fixed;right:20px;bottom:20px;z-index:2147483000}
.hd-bubble{width:60px;height:60px;border:0;border-radius:50%;background:#2563eb;color:#fff;box-shadow:0 6px 20px #0004;display:grid;place-items:center}
.hd-bubble svg{width:28px;height:28px;fill:currentColor}
.hd-badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#dc2626;color:#fff;font-size:12px;font-weight:700;line-height:18px;text-align:center;border:2px solid #fff}
.hd-panel{width:370px;height:560px;max-height:calc(100vh - 40px);background:#fff;border-radius:14px;box-shadow:0 12px 40px #0005;display:flex;flex-direction:column;overflow:hidden}
.hd-head{background:#2563eb;color:#fff;padding:12px 12px 10px 16px;display:flex;align-items:flex-start;gap:8px}
.hd-heading{flex:1;min-width:0}
.hd-title{margin:0;font-size:16px;font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.hd-status{font-size:12.5px;min-height:1.2em}
.hd-head button{background:#fff3;border:0;color:#fff;border-radius:8px;height:32px;padding:0 10px}
.hd-close{width:32px;font-size:20px;line-height:1}
.hd-confirm{display:flex;align-items:center;gap:8px;padding:10px 16px;background:#fef3c7}
.hd-confirm span{flex:1}.hd-confirm button{border:1px solid #d1d5db;background:#fff;border-radius:8px;padding:5px 10px}
.hd-confirm .hd-end-confirm{background:#dc2626;border-color:#dc2626;color:#fff}
.hd-messages{flex:1;overflow-y:auto;padding:14px 12px;display:flex;flex-direction:column;gap:8px;background:#f9fafb}
.hd-intro{color:#6b7280;text-align:center;margin:auto 8px}
.hd-msg{max-width:82%;padding:8px 11px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere}
.hd-msg--visitor{align-self:flex-end;background:#2563eb;color:#fff;border-bottom-right-radius:4px}
.hd-msg--visitor a{color:#fff}
.hd-msg--agent{align-self:flex-start;background:#fff;border:1px solid #e5e7eb;border-bottom-left-radius:4px}
.hd-msg--system{align-self:center;max-width:90%;color:#6b7280;font-size:12.5px;text-align:center;padding:2px 8px}
.hd-author{font-size:12px;font-weight:600;color:#4b5563}
.hd-msg--pending{opacity:.7}.hd-meta{display:block;font-size:11px;text-align:right}
.hd-typing{padding:4px 16px 6px;background:#f9fafb;color:#6b7280;font-size:12.5px;font-style:italic}
.hd-foot{border-top:1px solid #e5e7eb;padding:10px 12px}
.hd-topic{display:grid;gap:4px;margin-bottom:8px;font-size:12.5px;color:#4b5563}
.hd-topic select{padding:6px 8px;border:1px solid #d1d5db;border-radius:8px;background:#fff}
.hd-error{color:#b91c1c;font-size:12.5px;margin-bottom:6px}
.hd-form{display:flex;gap:8px;align-items:flex-end}
.hd-form textarea{flex:1;resize:none;min-height:40px;max-height:140px;padding:9px 11px;border:1px solid #d1d5db;border-radius:10px}
.hd-send,.hd-new{border:0;border-radius:10px;background:#2563eb;color:#fff;font-weight:600;height:40px;padding:0 16px}
.hd-bubble:hover,.hd-send:hover,.hd-new:hover{background:#1d4ed8}.hd-new{width:100%}
.hd-counter{font-size:11.5px;color:#6b7280;text-align:right;margin-top:4px}.hd-over{color:#b91c1c}
@media (max-width:480px){.hd-panel{inset:0;width:100%;height:100%;max-height:none;border-radius:0}
.hd-bubble{right:14px;bottom:14px}.hd-form textarea{font-size:16px}}`;

  let root, bubble, badge, unreadText, panel, title, status, endBtn, confirmBar, list, intro, typingEl, topicRow, topicSel,
    errorBox, form, ta, counter, newBtn;

  function build() {
    const host = h("div", "", null, { id: "helpdesk-widget" });
    root = host.attachShadow({ mode: "open" });
    bubble = button("hd-bubble", null, {
      "aria-label": "Open chat", "aria-expanded": "false", "aria-controls": "hd-panel", "aria-describedby": "hd-unread",
    });
    bubble.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8.5L4 21.5V18a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/></svg>';
    badge = h("span", "hd-badge", null, { "aria-hidden": "true" });
    bubble.append(badge);
    unreadText = h("span", "sr", null, { id: "hd-unread" });

    panel = h("div", "hd-panel", null, { id: "hd-panel", role: "dialog", "aria-labelledby": "hd-title" });
    title = h("h2", "hd-title", "Chat", { id: "hd-title" });
    status = h("div", "hd-status", null, { role: "status" });
    endBtn = button("hd-end", "End chat");
    const closeBtn = button("hd-close", "\u00d7", { "aria-label": "Close chat window" });
    const head = h("div", "hd-head"), heading = h("div", "hd-heading");
    heading.append(title, status);
    head.append(heading, endBtn, closeBtn);

    confirmBar = h("div", "hd-confirm", null, { role: "group", "aria-label": "Confirm ending the chat" });
    const yes = button("hd-end-confirm", "End chat"), no = button("hd-end-cancel", "Cancel");
    confirmBar.append(h("span", "", "End this chat?"), yes, no);

    list = h("div", "hd-messages", null, { role: "log", "aria-live": "polite", "aria-label": "Messages", tabindex: "0" });
    intro = h("p", "hd-intro", "Ask us anything \u2014 no sign-up needed. We'll reply right here.");
    list.append(intro);
    typingEl = h("div", "hd-typing", null, { "aria-live": "polite" });

    const foot = h("div", "hd-foot");
    topicRow = h("label", "hd-topic", "What is it about? (optional)");
    topicSel = h("select", "", null, { name: "topic" });
    topicRow.append(topicSel);
    setTopics([]);
    errorBox = h("div", "hd-error", null, { role: "alert" });
    form = h("form", "hd-form");
    ta = h("textarea", "", null, {
      name: "body", rows: "1", maxlength: String(MAX), "aria-label": "Your message", placeholder: "Type your message\u2026",
    });
    form.append(ta, h("button", "hd-send", "Send", { type: "submit", "aria-label": "Send message" }));
    counter = h("div", "hd-counter");
    newBtn = button("hd-new", "Start a new chat");
    foot.append(topicRow, errorBox, form, counter, newBtn);
    panel.append(head, confirmBar, list, typingEl, foot);
    badge.hidden = panel.hidden = confirmBar.hidden = errorBox.hidden = typingEl.hidden = true;

    const wrap = h("div", "hd");
    wrap.append(bubble, unreadText, panel);
    root.append(h("style", "", CSS), wrap);
    document.body.append(host);

    bubble.onclick = open;
    closeBtn.onclick = close;
    endBtn.onclick = () => { confirmBar.hidden = false; no.focus(); };
    no.onclick = () => { confirmBar.hidden = true; endBtn.focus(); };
    yes.onclick = endChat;
    newBtn.onclick = newChat;
    panel.addEventListener("keydown", (e) => {
      if (e.key !== "Escape") return;
      e.stopPropagation();
      confirmBar.hidden ? close() : no.click();
    });
    form.onsubmit = (e) => { e.preventDefault(); submit(); };
    ta.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
    });
    ta.addEventListener("input", () => { save("draft", ta.value || null); showError(""); composerChanged(); signalTyping(); });
    ta.value = load("draft") || "";
    composerChanged();
    pending().forEach(addPendingEl);
  }

  function setTopics(topics) {
    topicSel.replaceChildren(h("option", "", "No topic / Just a question", { value: "" }),
      ...topics.map((t) => h("option", "", t.name, { value: t.slug })));
  }

  function composerChanged() {
    ta.style.height = "auto";
    ta.style.height = Math.min(ta.scrollHeight + 2, 140) + "px";
    const n = ta.value.length;
    counter.hidden = n < COUNTER_FROM;
    counter.textContent = `${n} / ${MAX}`;
    counter.classList.toggle("hd-over", n >= MAX);
  }

  const showError = (text) => { errorBox.textContent = text; errorBox.hidden = !text; };

  /* ---- typing, both ways: at most one frame per 3 s; "NAME is typing…" for 5 s ---- */
  let typingSentAt = 0, typingTimer = null;

  function signalTyping() {
    if (!ta.value.trim() || !conv || conv.status !== "active" || Date.now() - typingSentAt < 3000) return;
    if (send({ type: "typing", conversation_id: conv.id })) typingSentAt = Date.now();
  }

  function showTyping(name) {
    clearTimeout(typingTimer);
    typingEl.textContent = name ? `${name} is typing\u2026` : "";
    typingEl.hidden = !name;
    if (name) typingTimer = setTimeout(showTyping, 5000);
  }

  /* ---- messages: stored ones in seq order (once per seq), then the pending ones ----
   * lastSeq: the widget has every message up to it that this visitor may see. Agents' private
   * notes take seq numbers a visitor never gets, so a gap shows as a message whose prev_seq
   * (the seq of the visible message before it) is above lastSeq, not as a jump in seq. */
  let shown = new Set(), lastSeq = 0, maxSeq = 0;

  function linkify(el, text) {
    const re = /\bhttps?:\/\/[^\s<>"]*[^\s<>".,;:!?)\]}']/g;
    let at = 0, m;
    while ((m = re.exec(text))) {
      el.append(text.slice(at, m.index), h("a", "", m[0], { href: m[0], target: "_blank", rel: "noopener noreferrer nofollow" }));
      at = re.lastIndex;
    }
    el.append(text.slice(at));
  }

  function msgEl(m) {
    const el = h("div", `hd-msg hd-msg--${m.sender}`), body = h("div", "hd-body");
    if (m.sender === "visitor") el.append(h("span", "sr", "You: "));
    if (m.sender === "agent") el.append(h("div", "hd-author", m.author_name || "Agent"));
    linkify(body, m.body || "");
    el.append(body);
    if (m.created_at) el.title = new Date(m.created_at).toLocaleString();
    return el;
  }

  function place(el, seq) {
    const next = [...list.children].find((k) => k.classList.contains("hd-msg--pending") || +k.dataset.seq > seq);
    list.insertBefore(el, next || null);
  }

  const pendingEl = (clientId) => [...list.querySelectorAll(".hd-msg--pending")].find((el) => el.dataset.clientId === clientId);
  const scrollDown = () => { list.scrollTop = list.scrollHeight; };

  function markShown(el, seq) {
    el.dataset.seq = seq;
    place(el, seq);
    shown.add(seq);
    maxSeq = Math.max(maxSeq, seq);
    while (shown.has(lastSeq + 1)) lastSeq++; // consecutive seqs leave no room for a gap
    intro.hidden = true;
    unread();
  }

  function addMessage(m) {
    if (!conv || m.conversation_id !== conv.id || shown.has(m.seq)) return;
    const near = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    const old = m.client_id && m.sender === "visitor" && pendingEl(m.client_id);
    if (old) { old.remove(); dropPending(m.client_id); }
    const el = msgEl(m);
    if (m.client_id) el.dataset.clientId = m.client_id;
    markShown(el, m.seq);
    if (near || m.sender === "visitor") scrollDown();
  }

  function addPendingEl(p) {
    const el = msgEl({ sender: "visitor", body: p.body });
    el.classList.add("hd-msg--pending");
    el.dataset.clientId = p.client_id;
    el.append(h("span", "hd-meta", "Sending\u2026"));
    list.append(el);
    intro.hidden = true;
    scrollDown();
  }

  function resetView() {
    list.querySelectorAll(".hd-msg:not(.hd-msg--pending)").forEach((el) => el.remove());
    shown = new Set(); lastSeq = maxSeq = 0;
    intro.hidden = !!list.querySelector(".hd-msg");
    showTyping(null);
  }

  // Unread: agent and system messages above the highest seq seen with the panel open.
  function unread() {
    if (isOpen && conv && maxSeq > (st.read || 0)) { st.read = maxSeq; saveSt(); }
    const n = isOpen ? 0 : [...list.querySelectorAll(".hd-msg--agent[data-seq],.hd-msg--system[data-seq]")]
      .filter((el) => +el.dataset.seq > (st.read || 0)).length;
    badge.hidden = !n;
    badge.textContent = n > 9 ? "9+" : n;
    unreadText.textContent = n ? `${n} unread message${n > 1 ? "s" : ""}` : "";
  }

  /* ---- conversation state ---- */
  let conv = null, siteName = "", isOpen = false;
  const isLive = () => !!conv && conv.status !== "ended";

  function setConv(c) {
    if (conv && conv.id !== c.id) resetView();
    if (st.id !== c.id) st = { id: c.id, read: 0 };
    conv = c;
    if (c.status === "ended" && isOpen) st.done = true;
    saveSt();
    chrome();
  }

  function chrome() {
    const name = conv && conv.agent_name, ended = !!conv && !isLive();
    title.textContent = name || siteName || "Chat";
    let text = "";
    if (!ready && wantConnection()) {
      text = everConnected ? "Reconnecting\u2026" : attempt > 2 ? "Chat is unavailable right now; retrying\u2026" : "Connecting\u2026";
    } else if (conv) {
      text = { queued: "Waiting for an agent\u2026", active: `Chatting with ${name || "an agent"}`, ended: "Chat ended" }[conv.status] || "";
    }
    status.textContent = text;
    const starting = pending().some((p) => p.conversation_id == null);
    topicRow.hidden = !!conv || starting || topicSel.options.length < 2;
    endBtn.hidden = !isLive();
    if (!isLive()) confirmBar.hidden = true;
    const refocus = ended && form.contains(root.activeElement);
    form.hidden = ended;
    newBtn.hidden = !ended;
    if (refocus) newBtn.focus();
    if (ended) counter.hidden = true;
  }

  /* ---- socket: hello -> welcome -> sync -> resend pending; reconnect with backoff ---- */
  let ws = null, ready = false, everConnected = false, attempt = 0, retryTimer = null,
    sentNow = new Set(), syncing = false, resync = false, starting = false;

  const wantConnection = () => isOpen || pending().length > 0 || isLive() || (!!st.id && !st.done);

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    if (ws) return;
    let sock;
    try { sock = ws = new WebSocket(WS_URL); } catch (e) { ws = null; retry(); return; }
    sock.onopen = () => sock.send(JSON.stringify({ type: "hello", token: load("token") }));
    sock.onmessage = (e) => {
      let f;
      try { f = JSON.parse(e.data); } catch (err) { return; }
      if (f && handlers[f.type]) handlers[f.type](f);
    };
    sock.onclose = () => {
      if (ws !== sock) return;
      dropSocket();
      if (wantConnection()) retry();
      chrome();
    };
    chrome();
  }

  function dropSocket() {
    ws = null; ready = syncing = resync = starting = false;
    sentNow.clear();
  }

  function retry() {
    if (retryTimer) return;
    const delay = Math.min(30000, 1000 * 2 ** attempt++);
    retryTimer = setTimeout(connect, delay + Math.random() * delay * 0.3);
  }

  const send = (frame) => !!(ready && ws) && (ws.send(JSON.stringify(frame)), true);
  const later = (fn, seconds) => setTimeout(fn, Math.max(0.2, +seconds || 1) * 1000 + 50);

  function requestSync() {
    if (!ready || !conv) return;
    if (syncing) { resync = true; return; }
    syncing = true;
    send({ type: "sync", conversation_id: conv.id, after_seq: lastSeq });
  }

  // Send each pending message not yet sent on this socket; start a conversation first if needed.
  function flush() {
    if (!ready) return;
    const items = pending();
    let changed = false, startTopic;
    for (const p of items) {
      if (sentNow.has(p.client_id)) continue;
      if (p.conversation_id == null) {
        if (!isLive()) { if (startTopic === undefined) startTopic = p.topic || null; continue; }
        p.conversation_id = conv.id;
        changed = true;
      }
      sentNow.add(p.client_id);
      send({ type: "message.send", conversation_id: p.conversation_id, client_id: p.client_id, body: p.body });
    }
    if (changed) setPending(items);
    if (startTopic !== undefined && !starting) {
      starting = true;
      send(startTopic ? { type: "conversation.start", topic: startTopic } : { type: "conversation.start" });
    }
  }

  const handlers = {
    welcome(f) {
      const stored = load("token");
      save("token", f.token);
      ready = everConnected = true;
      attempt = 0;
      siteName = (f.site && f.site.name) || "";
      const chosen = topicSel.value;
      setTopics((f.site && f.site.topics) || []);
      topicSel.value = chosen;
      if (topicSel.selectedIndex < 0) topicSel.value = "";
      if (stored && stored !== f.token) { conv = null; st = {}; saveSt(); resetView(); } // a new visitor
      if (f.conversation) setConv(f.conversation);
      // Our last chat ended while we were away: show it with any late answer (R9, R24).
      else if (!conv && st.id && !st.done) conv = { id: st.id, status: "ended", agent_name: null, last_seq: 0 };
      chrome();
      requestSync(); // also tells a shown chat that ended meanwhile that it ended
      flush();
      if (!wantConnection()) { ws.close(); dropSocket(); }
    },
    "conversation.updated"({ conversation: c }) {
      starting = false;
      if (conv && conv.id !== c.id && (isLive() || c.status === "ended")) return;
      if (!conv && c.status === "ended") return;
      setConv(c);
      if (c.last_seq > lastSeq) requestSync();
      flush();
    },
    "message.new"({ message: m }) {
      if (!conv || (conv.id !== m.conversation_id && !isLive())) {
        // A chat that another tab of this visitor started.
        setConv({ id: m.conversation_id, status: "queued", agent_name: null, last_seq: m.seq });
        requestSync();
        flush();
        return;
      }
      if (m.conversation_id !== conv.id) return;
      const prev = m.prev_seq ?? m.seq - 1; // a server without prev_seq numbers visible messages only
      if (m.sender === "agent") showTyping(null);
      addMessage(m);
      if (prev <= lastSeq) lastSeq = Math.max(lastSeq, m.seq);
      else requestSync(); // a gap: an event was lost
    },
    "sync.result"(f) {
      syncing = false;
      if (!conv || f.conversation.id !== conv.id) return;
      f.messages.forEach(addMessage);
      // Complete up to the last message received; once the answer is whole, up to the last seq
      // this visitor may see (a private note can be the conversation's latest message).
      for (const m of f.messages) lastSeq = Math.max(lastSeq, m.seq);
      if (!f.has_more) lastSeq = Math.max(lastSeq, f.conversation.last_seq || 0);
      setConv(f.conversation);
      if (f.has_more || resync) { resync = false; requestSync(); }
    },
    "message.ack"(f) {
      const el = pendingEl(f.client_id);
      dropPending(f.client_id);
      sentNow.delete(f.client_id);
      if (!el) return;
      if (!conv || f.conversation_id !== conv.id || shown.has(f.seq)) { el.remove(); return; }
      el.classList.remove("hd-msg--pending");
      el.querySelector(".hd-meta").remove();
      markShown(el, f.seq); // lastSeq moves on with its message.new, which says what came before it
    },
    typing(f) {
      if (conv && f.conversation_id === conv.id && f.sender !== "visitor" && isLive()) showTyping(f.name || "Agent");
    },
    error(f) {
      const ref = f.ref, p = pending().find((x) => x.client_id === ref);
      if (ref === "typing") return; // a lost typing signal changes nothing
      if (f.code === "rate_limited") {
        if (p) { sentNow.delete(ref); return later(flush, f.retry_after); }
        if (ref === "sync") { syncing = false; return later(requestSync, f.retry_after); }
        if (ref === "conversation.start") { starting = false; return later(flush, f.retry_after); }
      }
      if (p) giveBack([p]);
      if (ref === "conversation.start") {
        starting = false;
        topicSel.value = "";
        giveBack(pending().filter((x) => x.conversation_id == null));
      }
      if (ref === "sync" && f.code === "not_found") { conv = null; st = {}; saveSt(); resetView(); }
      if (f.code === "conversation_ended") requestSync();
      showError(f.message || "Something went wrong.");
      chrome();
    },
  };

  // A message the server refused goes back into the composer: nothing typed is lost.
  function giveBack(items) {
    for (const p of items) {
      dropPending(p.client_id);
      sentNow.delete(p.client_id);
      const el = pendingEl(p.client_id);
      if (el) el.remove();
      ta.value = ta.value ? `${p.body}\n${ta.value}` : p.body;
    }
    if (items.length) { save("draft", ta.value); composerChanged(); }
    intro.hidden = !!list.querySelector(".hd-msg");
  }

  /* ---- actions ---- */
  function submit() {
    const body = ta.value;
    if (!body.trim() || (conv && !isLive())) return;
    if (body.length > MAX) return showError(`A message can be at most ${MAX} characters.`);
    const p = { client_id: uuid(), conversation_id: isLive() ? conv.id : null, body, topic: topicSel.value || null };
    setPending([...pending(), p]);
    typingSentAt = 0; // the agent's "is typing" ends with this message: the next keystroke signals afresh
    ta.value = "";
    save("draft", null);
    composerChanged();
    showError("");
    addPendingEl(p);
    chrome();
    ready ? flush() : connect();
  }

  function endChat() {
    confirmBar.hidden = true;
    if (isLive() && send({ type: "conversation.end", conversation_id: conv.id })) return ta.focus();
    showError("Not connected right now; please try again in a moment.");
    endBtn.focus();
  }

  function newChat() {
    conv = null; st = {};
    saveSt();
    resetView();
    topicSel.value = "";
    chrome();
    ta.focus();
  }

  function open() {
    if (isOpen) return;
    isOpen = true;
    panel.hidden = false;
    bubble.hidden = true;
    bubble.setAttribute("aria-expanded", "true");
    if (conv && !isLive()) { st.done = true; saveSt(); }
    unread();
    chrome();
    scrollDown();
    connect();
    (form.hidden ? newBtn : ta).focus();
  }

  function close() {
    if (!isOpen) return;
    isOpen = false;
    panel.hidden = true;
    bubble.hidden = false;
    bubble.setAttribute("aria-expanded", "false");
    unread();
    bubble.focus();
  }

  function start() {
    build();
    chrome();
    addEventListener("online", () => { if (!ws && wantConnection()) connect(); });
    // A returning visitor with an open or unseen chat, or unsent messages, connects at once so a
    // late answer shows as a badge; the panel itself never opens on its own (R1).
    if (load("token") && wantConnection()) connect();
  }

  document.body ? start() : addEventListener("DOMContentLoaded", start);
})();
