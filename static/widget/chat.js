/* Helpdesk chat widget, part two: the panel and the visitor socket of docs/protocol.md.
 * loader.js loads it when the panel opens (or at once for a returning visitor) and hands it
 * the shadow root, storage and availability; see the comments there.
 */
window.__helpdeskWidget.attach((api) => {
  "use strict";
  const { SITE, server, load, save, loadJSON, h, button, uuid, bubble, badge, unreadText } = api;
  // The widget's language (loader.js): Django's JavaScript catalogue API; makemessages finds these calls.
  const { gettext, ngettext, interpolate } = api;
  const WS_URL = `${server.protocol === "https:" ? "wss" : "ws"}://${server.host}/ws/visitor/${encodeURIComponent(SITE)}/`;
  const MAX = 4000, COUNTER_FROM = 3600;
  // Stored with the consent as shown (R4): in the widget's language.
  const CONSENT = gettext("Yes, also send me news and offers by email. I can unsubscribe at any time.");
  const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

  // Pending messages are re-read on every use, so two tabs do not overwrite each other's.
  const pending = () => loadJSON("pending", []);
  const setPending = (items) => save("pending", items.length ? JSON.stringify(items) : null);
  const dropPending = (clientId) => setPending(pending().filter((p) => p.client_id !== clientId));
  // An email the visitor gave that the server has not confirmed yet (R4).
  const contactPending = () => loadJSON("contact", null);
  const setContact = (c) => save("contact", c ? JSON.stringify(c) : null);
  // st: this browser's last conversation {id, read: highest seq seen open, done: ended and seen,
  // email/purpose: the address given for it}.
  let st = loadJSON("conv", {});
  const saveSt = () => save("conv", st.id ? JSON.stringify(st) : null);

  const CSS = `.hd-panel{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:370px;height:580px;max-height:calc(100vh - 40px);background:#fff;border-radius:14px;box-shadow:0 12px 40px #0005;display:flex;flex-direction:column;overflow:hidden}
.hd-head{background:#2563eb;color:#fff;padding:12px 12px 10px 16px;display:flex;align-items:flex-start;gap:8px}
.hd-heading{flex:1;min-width:0}
.hd-title{margin:0;font-size:16px;font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.hd-status{font-size:12.5px;min-height:1.2em;opacity:.95}
.hd-head button{background:#fff3;border:0;color:#fff;border-radius:8px;height:32px;padding:0 10px}
.hd-head button:hover{background:#fff4}.hd-close{width:32px;font-size:20px;line-height:1}
.hd-queue{padding:8px 16px;background:#eff6ff;color:#1e3a8a;font-size:13px;border-bottom:1px solid #dbeafe}
.hd-confirm{display:flex;align-items:center;gap:8px;padding:10px 16px;background:#fef3c7}
.hd-confirm span{flex:1}.hd-confirm button{border:1px solid #d1d5db;background:#fff;border-radius:8px;padding:5px 10px}
.hd-confirm .hd-end-confirm{background:#dc2626;border-color:#dc2626;color:#fff}
.hd-messages{flex:1;overflow-y:auto;padding:14px 12px;display:flex;flex-direction:column;gap:8px;background:#f9fafb}
.hd-intro{color:#6b7280;text-align:center;margin:auto 8px}
.hd-note{align-self:flex-start;max-width:86%;background:#fff;border:1px dashed #c7d2fe;border-radius:14px;padding:8px 11px;color:#374151}
.hd-note small{display:block;font-size:11.5px;color:#6b7280;margin-top:2px}
.hd-msg{max-width:82%;padding:8px 11px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere}
.hd-msg--visitor{align-self:flex-end;background:#2563eb;color:#fff;border-bottom-right-radius:4px}
.hd-msg--visitor a{color:#fff}
.hd-msg--agent{align-self:flex-start;background:#fff;border:1px solid #e5e7eb;border-bottom-left-radius:4px}
.hd-msg--system{align-self:center;max-width:90%;color:#6b7280;font-size:12.5px;text-align:center;padding:2px 8px}
.hd-author{font-size:12px;font-weight:600;color:#4b5563}
.hd-msg--pending{opacity:.7}.hd-meta{display:block;font-size:11px;text-align:right}
.hd-seen{font-size:11px;color:#6b7280;text-align:right;margin-top:2px}
.hd-typing{padding:4px 16px 6px;background:#f9fafb;color:#6b7280;font-size:12.5px;font-style:italic}
.hd-foot{border-top:1px solid #e5e7eb;padding:10px 12px;max-height:60%;overflow-y:auto}
.hd-topic,.hd-field{display:grid;gap:4px;margin-bottom:8px;font-size:12.5px;color:#4b5563}
.hd-topic select,.hd-field input,.hd-rate textarea{padding:7px 9px;border:1px solid #d1d5db;border-radius:8px;background:#fff;width:100%}
.hd-check{display:flex;gap:8px;align-items:flex-start;font-size:12.5px;color:#4b5563;margin-bottom:8px}
.hd-check input{margin:2px 0 0;flex:none;width:16px;height:16px}
.hd-lead{margin:0 0 8px;font-size:13px;color:#374151}
.hd-error,.hd-field-error{color:#b91c1c;font-size:12.5px;margin-bottom:6px}
.hd-form{display:flex;gap:8px;align-items:flex-end}
.hd-form textarea{flex:1;resize:none;min-height:40px;max-height:140px;padding:9px 11px;border:1px solid #d1d5db;border-radius:10px}
.hd-send,.hd-new,.hd-primary{border:0;border-radius:10px;background:#2563eb;color:#fff;font-weight:600;height:40px;padding:0 16px}
.hd-send:hover,.hd-new:hover,.hd-primary:hover{background:#1d4ed8}.hd-new{width:100%}
.hd-counter{font-size:11.5px;color:#6b7280;text-align:right;margin-top:4px}.hd-over{color:#b91c1c}
.hd-tools{margin-top:6px;font-size:12.5px}
.hd-link{background:none;border:0;padding:2px 0;color:#1d4ed8;text-decoration:underline}
.hd-box{border:1px solid #e5e7eb;border-radius:10px;padding:10px;margin:4px 0 8px;background:#fff}
.hd-row{display:flex;gap:8px;justify-content:flex-end;align-items:center}
.hd-row .hd-primary{height:34px;padding:0 14px}.hd-secondary{background:none;border:1px solid #d1d5db;border-radius:10px;height:34px;padding:0 12px}
.hd-done{font-size:12.5px;color:#065f46;background:#ecfdf5;border-radius:8px;padding:7px 10px;margin:0 0 8px}
.hd-rate{margin-bottom:10px}.hd-rate p{margin:0 0 6px;font-weight:600}
.hd-stars{display:flex;gap:6px;margin-bottom:8px}
.hd-star{width:40px;height:40px;border:1px solid #d1d5db;border-radius:10px;background:#fff;font-size:20px;color:#9ca3af;line-height:1}
.hd-star[aria-pressed=true]{background:#fef3c7;border-color:#f59e0b;color:#b45309}
.hd-rate textarea{resize:vertical;min-height:54px;margin-bottom:8px}
.hd-attach{flex:none;width:40px;height:40px;border:1px solid #d1d5db;border-radius:10px;background:#fff;color:#4b5563;display:grid;place-items:center}
.hd-attach:hover{background:#f3f4f6}.hd-attach svg{width:20px;height:20px;fill:currentColor}
.hd-img{display:block;max-width:100%;max-height:240px;border-radius:8px;margin-top:2px;background:#fff}
.hd-file{font-weight:600}.hd-file small{font-weight:400;opacity:.85}
.hd-dropping .hd-messages{outline:3px dashed #93c5fd;outline-offset:-6px}
@media (max-width:480px){.hd-panel{inset:0;width:100%;height:100%;max-height:none;border-radius:0}
.hd-form textarea,.hd-field input,.hd-rate textarea{font-size:16px}}`;

  let panel, title, status, queueBar, endBtn, confirmBar, list, intro, note, typingEl, topicRow, topicSel,
    offBox, offEmail, offCheck, offErr, errorBox, form, ta, counter, tools, mailLink, mailBox, mailEmail, mailCheck,
    mailErr, doneNote, rateBox, stars, rateComment, rateErr, rateThanks, newBtn;

  // An email field and the separate, unticked marketing box (R4); `err` sits next to the field.
  function emailFields(parent, labelText) {
    const label = h("label", "hd-field", labelText);
    const input = h("input", "", null, { type: "email", name: "email", autocomplete: "email", inputmode: "email", required: "" });
    const err = h("div", "hd-field-error", null, { role: "alert" });
    label.append(input);
    const check = h("input", "", null, { type: "checkbox", name: "marketing_consent" });
    const consent = h("label", "hd-check");
    consent.append(check, h("span", "", CONSENT));
    err.hidden = true;
    parent.append(label, err, consent);
    input.addEventListener("input", () => fieldError(err, ""));
    return { input, check, err };
  }
  const fieldError = (err, text) => { err.textContent = text; err.hidden = !text; };
  const consentOf = (check) => (check.checked ? { marketing_consent: true, consent_wording: CONSENT } : { marketing_consent: false });

  function build() {
    panel = h("div", "hd-panel", null, { id: "hd-panel", role: "dialog", "aria-labelledby": "hd-title" });
    title = h("h2", "hd-title", gettext("Chat"), { id: "hd-title" });
    status = h("div", "hd-status", null, { role: "status" });
    endBtn = button("hd-end", gettext("End chat"));
    const closeBtn = button("hd-close", "\u00d7", { "aria-label": gettext("Close chat window") });
    const head = h("div", "hd-head"), heading = h("div", "hd-heading");
    heading.append(title, status);
    head.append(heading, endBtn, closeBtn);
    queueBar = h("div", "hd-queue", null, { role: "status" });

    confirmBar = h("div", "hd-confirm", null, { role: "group", "aria-label": gettext("Confirm ending the chat") });
    const yes = button("hd-end-confirm", gettext("End chat")), no = button("hd-end-cancel", gettext("Cancel"));
    confirmBar.append(h("span", "", gettext("End this chat?")), yes, no);

    list = h("div", "hd-messages", null, { role: "log", "aria-live": "polite", "aria-label": gettext("Messages"), tabindex: "0" });
    intro = h("p", "hd-intro");
    note = h("div", "hd-note");
    list.append(note, intro);
    typingEl = h("div", "hd-typing", null, { "aria-live": "polite" });

    const foot = h("div", "hd-foot");
    topicRow = h("label", "hd-topic", gettext("What is it about? (optional)"));
    topicSel = h("select", "", null, { name: "topic" });
    topicRow.append(topicSel);
    setTopics(api.topics());

    // R3: nobody can answer live, so the answer comes by email: the one place an email is required.
    offBox = h("div", "hd-offline", null, { role: "group", "aria-label": gettext("Leave a message") });
    ({ input: offEmail, check: offCheck, err: offErr } = emailFields(offBox, gettext("Your email (for our answer)")));

    errorBox = h("div", "hd-error", null, { role: "alert" });
    form = h("form", "hd-form");
    ta = h("textarea", "", null, {
      name: "body", rows: "1", maxlength: String(MAX), "aria-label": gettext("Your message"), placeholder: gettext("Type your message…"),
    });
    form.append(ta, h("button", "hd-send", gettext("Send"), { type: "submit", "aria-label": gettext("Send message") }));
    wireFiles();
    counter = h("div", "hd-counter");

    // R19: the rating once the chat has ended.
    rateBox = h("div", "hd-rate", null, { role: "group", "aria-labelledby": "hd-rate-q" });
    const words = [gettext("Very poor"), gettext("Poor"), gettext("OK"), gettext("Good"), gettext("Excellent")];
    stars = words.map((w, i) => button("hd-star", "\u2605", {
      "aria-label": interpolate(gettext("%(stars)s of 5: %(word)s"), { stars: i + 1, word: w }, true), "aria-pressed": "false", "data-rating": i + 1,
    }));
    const starRow = h("div", "hd-stars");
    starRow.append(...stars);
    rateComment = h("textarea", "", null, { name: "comment", rows: "2", maxlength: "2000", "aria-label": gettext("Comment (optional)"), placeholder: gettext("Anything to add? (optional)") });
    rateErr = h("div", "hd-field-error", null, { role: "alert" });
    const rateRow = h("div", "hd-row");
    rateRow.append(h("button", "hd-primary hd-rate-send", gettext("Send rating"), { type: "button" }));
    rateBox.append(h("p", "", gettext("How was this chat?"), { id: "hd-rate-q" }), starRow, rateComment, rateErr, rateRow);
    rateThanks = h("p", "hd-done hd-rate-thanks", gettext("Thank you for your feedback!"), { role: "status" });

    // R4, R18: the email only when the visitor asks for the transcript.
    doneNote = h("p", "hd-done hd-contact-done", null, { role: "status" });
    tools = h("div", "hd-tools");
    mailLink = button("hd-link hd-transcript-link", gettext("Email me the transcript"));
    tools.append(mailLink);
    mailBox = h("form", "hd-box hd-transcript", null, { "aria-label": gettext("Email me the transcript"), novalidate: "" });
    ({ input: mailEmail, check: mailCheck, err: mailErr } = emailFields(mailBox, gettext("Email for the transcript")));
    const mailRow = h("div", "hd-row");
    const mailCancel = button("hd-secondary", gettext("Cancel"));
    mailRow.append(mailCancel, h("button", "hd-primary", gettext("Send me the transcript"), { type: "submit" }));
    mailBox.append(mailRow);

    newBtn = button("hd-new", gettext("Start a new chat"));
    foot.append(topicRow, offBox, errorBox, form, counter, rateBox, rateThanks, doneNote, mailBox, tools, newBtn);
    panel.append(head, queueBar, confirmBar, list, typingEl, foot);
    panel.hidden = confirmBar.hidden = errorBox.hidden = typingEl.hidden = note.hidden = mailBox.hidden = rateErr.hidden = true;
    queueBar.hidden = true;
    const style = h("style", "", CSS);
    api.root.prepend(style);
    api.wrap.append(panel);

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
    mailLink.onclick = () => { mailBox.hidden = false; tools.hidden = true; mailEmail.focus(); };
    mailCancel.onclick = () => { mailBox.hidden = true; chrome(); mailLink.focus(); };
    mailBox.onsubmit = (e) => { e.preventDefault(); askContact("transcript", mailEmail, mailCheck, mailErr); };
    let rating = 0;
    stars.forEach((s, i) => { s.onclick = () => { rating = i + 1; stars.forEach((x, j) => x.setAttribute("aria-pressed", String(j <= i))); fieldError(rateErr, ""); }; });
    rateRow.firstChild.onclick = () => {
      if (!rating) return fieldError(rateErr, gettext("Please choose 1 to 5 stars."));
      rateSent = { type: "conversation.rate", conversation_id: conv.id, rating, comment: rateComment.value.trim() };
      if (!send(rateSent)) fieldError(rateErr, gettext("Not connected right now; please try again in a moment."));
    };
    composerChanged();
    pending().forEach(addPendingEl);
  }

  function setTopics(topics) {
    const chosen = topicSel.value;
    topicSel.replaceChildren(h("option", "", gettext("No topic / Just a question"), { value: "" }),
      ...topics.map((t) => h("option", "", t.name, { value: t.slug })));
    topicSel.value = chosen;
    if (topicSel.selectedIndex < 0) topicSel.value = "";
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
    typingEl.textContent = name ? interpolate(gettext("%(name)s is typing…"), { name }, true) : "";
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
    if (m.sender === "visitor") el.append(h("span", "sr", gettext("You: ")));
    if (m.sender === "agent") el.append(h("div", "hd-author", m.author_name || gettext("Agent")));
    if (m.attachment) body.append(fileEl(m.attachment)); else linkify(body, m.body || "");
    el.append(body);
    if (m.created_at) el.title = new Date(m.created_at).toLocaleString(api.language());
    return el;
  }

  function place(el, seq) {
    const next = [...list.children].find((k) => k.classList.contains("hd-msg--pending") || +k.dataset.seq > seq);
    list.insertBefore(el, next || null);
  }

  const pendingEl = (clientId) => [...list.querySelectorAll(".hd-msg--pending")].find((el) => el.dataset.clientId === clientId);
  const scrollDown = () => { list.scrollTop = list.scrollHeight; };
  const syncIntro = () => { intro.hidden = !!list.querySelector(".hd-msg") || !note.hidden; };

  function markShown(el, seq) {
    el.dataset.seq = seq;
    place(el, seq);
    shown.add(seq);
    maxSeq = Math.max(maxSeq, seq);
    while (shown.has(lastSeq + 1)) lastSeq++; // consecutive seqs leave no room for a gap
    syncIntro();
    unread();
  }

  function addMessage(m) {
    if (!conv || m.conversation_id !== conv.id) return;
    if (shown.has(m.seq)) return refreshFile(m);
    const near = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    const old = m.client_id && m.sender === "visitor" && pendingEl(m.client_id);
    if (old) { old.remove(); dropPending(m.client_id); }
    const el = msgEl(m);
    if (m.client_id) el.dataset.clientId = m.client_id;
    markShown(el, m.seq);
    if (near || m.sender === "visitor") scrollDown();
  }

  /* ---- files (docs/protocol.md, "Files"): sent over HTTP with the visitor token, shown as
   * pending until stored; a refused file leaves the typed text alone and says why ---- */
  let attachBtn, fileInput;
  const PAPERCLIP = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10z"/></svg>';

  function wireFiles() {
    attachBtn = button("hd-attach", null, { "aria-label": gettext("Attach a file"), title: gettext("Attach a file") });
    attachBtn.innerHTML = PAPERCLIP; // a constant: names and messages only ever go in as text
    fileInput = h("input", "", null, { type: "file", hidden: "", "aria-hidden": "true", tabindex: "-1" });
    form.prepend(attachBtn, fileInput);
    attachBtn.onclick = () => fileInput.click();
    fileInput.onchange = () => { [...fileInput.files].forEach(sendFile); fileInput.value = ""; };
    const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files") && isLive();
    panel.addEventListener("dragover", (e) => { if (hasFiles(e)) { e.preventDefault(); panel.classList.add("hd-dropping"); } });
    panel.addEventListener("dragleave", (e) => { if (!panel.contains(e.relatedTarget)) panel.classList.remove("hd-dropping"); });
    panel.addEventListener("drop", (e) => {
      panel.classList.remove("hd-dropping");
      if (!hasFiles(e)) return;
      e.preventDefault();
      [...e.dataTransfer.files].forEach(sendFile);
    });
  }

  const sizeText = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${Math.round(n / 1024)} KB` : `${(n / 1048576).toFixed(1)} MB`);

  // Images inline, other files as a download link (signed, expiring: see refreshFile).
  function fileEl(a) {
    const href = a.url ? new URL(a.url, server).href : null;
    if (!href) return h("span", "hd-file", interpolate(gettext("%(name)s (no longer available)"), { name: a.name }, true));
    const link = h("a", "hd-file", null, { href, target: "_blank", rel: "noopener noreferrer" });
    if (a.is_image) link.append(h("img", "hd-img", null, { src: href, alt: a.name }));
    else link.append(`\u{1F4CE} ${a.name} `, h("small", "", `(${sizeText(a.size)})`));
    return link;
  }

  // A sync signs every file's link again: links shown before it may have expired.
  function refreshFile(m) {
    const body = m.attachment && list.querySelector(`.hd-msg[data-seq="${m.seq}"] .hd-body`);
    if (body) body.replaceChildren(fileEl(m.attachment));
  }

  function sendFile(file) {
    // Over HTTP: a socket that is reconnecting does not hold it up; the token is the widget's own.
    if (!isLive() || !load("token")) return showError(gettext("Not connected right now; please try again in a moment."));
    const clientId = uuid(), id = conv.id;
    const el = msgEl({ sender: "visitor", body: file.name });
    el.classList.add("hd-msg--pending");
    el.dataset.clientId = clientId;
    el.append(h("span", "hd-meta", interpolate(gettext("Uploading %(size)s…"), { size: sizeText(file.size) }, true)));
    list.append(el);
    syncIntro();
    scrollDown();
    const data = new FormData();
    data.append("file", file);
    data.append("client_id", clientId);
    fetch(`${server.origin}/widget/${encodeURIComponent(SITE)}/conversations/${id}/attachments`, {
      method: "POST", mode: "cors", credentials: "omit", cache: "no-store",
      headers: { Authorization: `Visitor ${load("token")}` }, body: data,
    })
      .then((r) => r.json().catch(() => ({})).then((answer) => ({ ok: r.ok, status: r.status, answer })))
      .then(({ ok, status, answer }) => {
        el.remove();
        // A proxy in front may refuse a large body itself, without our JSON.
        const reason = (answer.error && answer.error.message) ||
          (status === 413 ? gettext("The file is too large.") : gettext("Something went wrong."));
        if (!ok) return showError(interpolate(gettext("%(name)s was not sent: %(reason)s"), { name: file.name, reason }, true));
        showError("");
        addMessage(answer.message); // its message.new may come first or after: shown once
        api.sent();
      })
      .catch(() => {
        el.remove();
        syncIntro();
        showError(interpolate(gettext("%(name)s was not sent: %(reason)s"),
          { name: file.name, reason: gettext("Not connected right now; please try again in a moment.") }, true));
      });
  }

  function addPendingEl(p) {
    const el = msgEl({ sender: "visitor", body: p.body });
    el.classList.add("hd-msg--pending");
    el.dataset.clientId = p.client_id;
    el.append(h("span", "hd-meta", gettext("Sending…")));
    list.append(el);
    syncIntro();
    scrollDown();
  }

  function resetView() {
    list.querySelectorAll(".hd-msg:not(.hd-msg--pending)").forEach((el) => el.remove());
    shown = new Set(); lastSeq = maxSeq = 0;
    readSent = agentRead = 0;
    queue = null;
    syncIntro();
    showTyping(null);
  }

  // Unread: agent and system messages above the highest seq seen with the panel open.
  function unread() {
    if (isOpen && conv && maxSeq > (st.read || 0)) { st.read = maxSeq; saveSt(); }
    // Read state: the owning agent learns what the visitor has seen with the panel open.
    if (isOpen && conv && maxSeq > readSent && send({ type: "read", conversation_id: conv.id, seq: maxSeq })) readSent = maxSeq;
    const n = isOpen ? 0 : [...list.querySelectorAll(".hd-msg--agent[data-seq],.hd-msg--system[data-seq]")]
      .filter((el) => +el.dataset.seq > (st.read || 0)).length;
    badge.hidden = !n;
    badge.textContent = n > 9 ? "9+" : n;
    unreadText.textContent = n ? interpolate(ngettext("%(count)s unread message", "%(count)s unread messages", n), { count: n }, true) : "";
  }

  /* ---- conversation state ---- */
  let conv = null, isOpen = false, visitorName = "", queue = null, rateSent = null, readSent = 0, agentRead = 0;

  // "Seen" under the visitor's latest message the agent has read.
  function showSeen(seq) {
    agentRead = Math.max(agentRead, seq || 0);
    list.querySelectorAll(".hd-seen").forEach((el) => el.remove());
    const read = [...list.querySelectorAll(".hd-msg--visitor[data-seq]")].filter((el) => +el.dataset.seq <= agentRead);
    if (read.length) read[read.length - 1].append(h("div", "hd-seen", gettext("Seen")));
  }
  const isLive = () => !!conv && conv.status !== "ended";
  const avail = () => api.availability();
  // R3: outside hours or with nobody present, a new chat is a message left for an answer by email.
  const offlineMode = () => !conv && ["offline", "closed"].includes(avail().state);
  const LABELS = {
    online: gettext("Chat with us"), busy: gettext("All agents busy — you can still write"),
    offline: gettext("Leave a message"), closed: gettext("Leave a message"),
  };

  function setConv(c) {
    if (conv && conv.id !== c.id) resetView();
    if (st.id !== c.id) st = { id: c.id, read: 0 };
    conv = c;
    if (c.agent_read_seq > agentRead) showSeen(c.agent_read_seq);
    if (c.status !== "queued") queue = null;
    if (c.status === "ended" && isOpen) st.done = true;
    saveSt();
    chrome();
  }

  function chrome() {
    const name = conv && conv.agent_name, ended = !!conv && !isLive(), off = offlineMode(), a = avail();
    title.textContent = name || (off ? gettext("Leave a message")
      : visitorName ? interpolate(gettext("Hi %(name)s!"), { name: visitorName }, true) : api.siteName() || gettext("Chat"));
    let text = "";
    if (!ready && wantConnection() && (conv || pending().length)) {
      text = everConnected ? gettext("Reconnecting…") : attempt > 2 ? gettext("Chat is unavailable right now; retrying…") : gettext("Connecting…");
    } else if (conv) {
      text = conv.status === "queued" && st.purpose === "offline" && st.id === conv.id ? gettext("Message received — we'll reply by email") : {
        queued: gettext("Waiting for an agent…"),
        active: name ? interpolate(gettext("Chatting with %(name)s"), { name }, true) : gettext("Chatting with an agent"),
        ended: gettext("Chat ended"),
      }[conv.status] || "";
    } else {
      text = off ? api.siteName() : LABELS[a.state] || "";
    }
    status.textContent = text;
    intro.textContent = off || a.state === "busy" ? a.message : gettext("Ask us anything — no sign-up needed. We'll reply right here.");
    const waiting = conv && conv.status === "queued" && queue && queue.conversation_id === conv.id && a.can_chat_live !== false;
    queueBar.hidden = !waiting;
    if (waiting) {
      const wait = queue.estimated_wait_seconds;
      const inLine = interpolate(gettext("You're number %(position)s in line"), { position: queue.position }, true);
      queueBar.textContent = wait == null ? inLine
        : `${inLine} \u00b7 ${interpolate(gettext("about %(minutes)s min"), { minutes: Math.max(1, Math.round(wait / 60)) }, true)}`;
    }
    const starting = pending().some((p) => p.conversation_id == null);
    topicRow.hidden = !!conv || starting || topicSel.options.length < 2;
    offBox.hidden = !off || starting;
    endBtn.hidden = !isLive();
    attachBtn.hidden = !isLive();
    if (!isLive()) confirmBar.hidden = true;
    const refocus = ended && form.contains(api.root.activeElement);
    form.hidden = ended;
    newBtn.hidden = !ended;
    if (refocus) newBtn.focus();
    if (ended) counter.hidden = true;
    // The email the visitor gave, and for what.
    const given = st.id && conv && st.id === conv.id && st.email;
    doneNote.hidden = !given;
    if (given) {
      doneNote.textContent = st.purpose === "offline"
        ? interpolate(gettext("Thanks! We'll answer by email at %(email)s; the answer will also be here."), { email: st.email }, true)
        : interpolate(ended ? gettext("The transcript goes to %(email)s.") : gettext("We'll email the transcript to %(email)s when the chat ends."),
          { email: st.email }, true);
    }
    tools.hidden = !conv || !!(conv.transcript_requested || (given && st.purpose === "transcript")) || !mailBox.hidden;
    if (!conv) mailBox.hidden = true;
    const rated = ended && conv.rating != null;
    rateBox.hidden = !ended || rated || !conv.agent_name;
    rateThanks.hidden = !rated;
  }

  /* ---- socket: hello -> welcome -> sync -> resend pending; reconnect with backoff ---- */
  let ws = null, ready = false, everConnected = false, attempt = 0, retryTimer = null,
    sentNow = new Set(), syncing = false, resync = false, starting = false;
  const faultTries = new Map(); // client_id -> internal_error answers so far (backoff)

  const wantConnection = () => isOpen || pending().length > 0 || isLive() || (!!st.id && !st.done) || !!contactPending();

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    if (ws) return;
    let sock;
    try { sock = ws = new WebSocket(WS_URL); } catch (e) { ws = null; retry(); return; }
    sock.onopen = () => {
      // The widget's language: emails and system messages for this visitor are written in it.
      const hello = { type: "hello", token: load("token"), pages: api.pages(), language: api.language() };
      if (api.identity) hello.identity = api.identity;
      sock.send(JSON.stringify(hello));
    };
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

  // A gap this visitor's own unacked messages may fill: their acks, which move lastSeq on,
  // usually come within this long.
  const IN_FLIGHT_MS = 1500;
  function syncIfStillMissing(prev) {
    setTimeout(() => { if (prev > lastSeq) requestSync(); }, IN_FLIGHT_MS);
  }

  function requestSync() {
    if (!ready || !conv) return;
    if (syncing) { resync = true; return; }
    syncing = true;
    send({ type: "sync", conversation_id: conv.id, after_seq: lastSeq });
  }

  // Send the email the visitor gave (once per socket), then each pending message not yet sent
  // on this socket; start a conversation first if needed.
  function flush() {
    if (!ready) return;
    const c = contactPending();
    if (c && !sentNow.has("contact")) {
      if (c.conversation_id == null && isLive()) { c.conversation_id = conv.id; setContact(c); }
      if (c.conversation_id != null) { sentNow.add("contact"); send({ type: "visitor.contact", ...c }); }
    }
    const items = pending();
    let changed = false, startTopic, offline = false;
    for (const p of items) {
      if (sentNow.has(p.client_id)) continue;
      if (p.conversation_id == null) {
        if (!isLive()) { if (startTopic === undefined) startTopic = p.topic || null; offline = offline || !!p.offline; continue; }
        p.conversation_id = conv.id;
        changed = true;
      }
      sentNow.add(p.client_id);
      send({ type: "message.send", conversation_id: p.conversation_id, client_id: p.client_id, body: p.body });
    }
    if (changed) setPending(items);
    if (startTopic !== undefined && !starting) {
      starting = true;
      const frame = { type: "conversation.start" };
      if (startTopic) frame.topic = startTopic;
      if (offline) frame.offline = true;
      send(frame);
    }
  }

  const handlers = {
    welcome(f) {
      const stored = load("token");
      save("token", f.token);
      ready = everConnected = true;
      attempt = 0;
      visitorName = (f.visitor && f.visitor.name) || "";
      setTopics((f.site && f.site.topics) || []);
      if (f.availability) api.setAvailability(f.availability);
      if (stored && stored !== f.token && !(f.visitor && f.visitor.is_customer)) { conv = null; st = {}; saveSt(); resetView(); } // a new visitor
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
      if (rateSent && c.rating != null) { rateSent = null; rateThanks.setAttribute("tabindex", "-1"); rateThanks.focus(); }
      if (c.last_seq > lastSeq) requestSync();
      flush();
    },
    "queue.position"(f) {
      if (!conv || f.conversation_id !== conv.id) return;
      queue = f;
      chrome();
    },
    "visitor.contact.saved"(f) {
      const c = contactPending();
      sentNow.delete("contact");
      setContact(null);
      if (c && conv && c.conversation_id === conv.id) { st.email = f.email; st.purpose = c.purpose; saveSt(); }
      if (c && c.purpose === "transcript" && conv) conv.transcript_requested = true;
      mailBox.hidden = true;
      chrome();
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
      else if (list.querySelector(".hd-msg--pending")) syncIfStillMissing(prev); // maybe our own, not acked yet
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
      if (faultTries.delete(f.client_id)) showError("");
      const el = pendingEl(f.client_id);
      dropPending(f.client_id);
      sentNow.delete(f.client_id);
      if (el && (!conv || f.conversation_id !== conv.id || shown.has(f.seq))) el.remove();
      else if (el) {
        el.classList.remove("hd-msg--pending");
        el.querySelector(".hd-meta").remove();
        markShown(el, f.seq);
      }
      // The ack carries the stored message in place of its message.new to this tab, and with
      // it what came before it (prev_seq), which moves lastSeq on (docs/protocol.md).
      if (f.message) handlers["message.new"](f);
    },
    typing(f) {
      if (conv && f.conversation_id === conv.id && f.sender !== "visitor" && isLive()) showTyping(f.name || gettext("Agent"));
    },
    read(f) {
      if (conv && f.conversation_id === conv.id && f.reader === "agent") showSeen(f.seq);
    },
    error(f) {
      const ref = f.ref, p = pending().find((x) => x.client_id === ref);
      if (ref === "typing" || ref === "page.view") return; // a lost signal changes nothing
      if (f.code === "internal_error" && p) {
        // A fault on the server (a database or Redis outage): the message stays pending and
        // goes again with the same client_id, which is stored once even if a lost commit
        // did store it. Shown until its ack; retried with backoff.
        const tries = (faultTries.get(ref) || 0) + 1;
        faultTries.set(ref, tries);
        sentNow.delete(ref);
        showError(f.message || gettext("Something went wrong."));
        return later(flush, Math.min(30, 2 ** tries));
      }
      if (f.code === "rate_limited") {
        if (p) { sentNow.delete(ref); return later(flush, f.retry_after); }
        if (ref === "sync") { syncing = false; return later(requestSync, f.retry_after); }
        if (ref === "conversation.start") { starting = false; return later(flush, f.retry_after); }
        if (ref === "visitor.contact") { sentNow.delete("contact"); return later(flush, f.retry_after); }
        if (ref === "conversation.rate" && rateSent) return later(() => rateSent && send(rateSent), f.retry_after);
      }
      if (ref === "visitor.contact") {
        // Shown next to the email field; the address is kept so the visitor can correct it.
        const c = contactPending();
        sentNow.delete("contact");
        setContact(null);
        if (c) { mailEmail.value = c.email; mailCheck.checked = !!c.marketing_consent; mailBox.dataset.purpose = c.purpose; }
        mailBox.hidden = false;
        chrome();
        fieldError(mailErr, f.message || gettext("That email address does not look right."));
        return mailEmail.focus();
      }
      if (ref === "conversation.rate") { rateSent = null; return fieldError(rateErr, f.message || gettext("The rating could not be saved.")); }
      if (p) giveBack([p]);
      if (ref === "conversation.start") {
        starting = false;
        topicSel.value = "";
        giveBack(pending().filter((x) => x.conversation_id == null));
      }
      if (ref === "sync" && f.code === "not_found") { conv = null; st = {}; saveSt(); resetView(); }
      if (f.code === "conversation_ended") requestSync();
      showError(f.message || gettext("Something went wrong."));
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
      if (p.offline && !contactPending()) offEmail.value = offEmail.value || (st.email || "");
    }
    if (items.length) { save("draft", ta.value); composerChanged(); }
    syncIntro();
  }

  /* ---- actions ---- */
  function askContact(purpose, input, check, err) {
    const email = input.value.trim();
    if (!EMAIL_RE.test(email)) { fieldError(err, gettext("Please enter a valid email address.")); input.focus(); return false; }
    purpose = mailBox.dataset.purpose || purpose;
    delete mailBox.dataset.purpose;
    setContact({ email, purpose, conversation_id: conv ? conv.id : null, ...consentOf(check) });
    fieldError(err, "");
    ready ? flush() : connect();
    return true;
  }

  function submit() {
    const body = ta.value;
    if (!body.trim() || (conv && !isLive())) return;
    if (body.length > MAX) return showError(interpolate(gettext("A message can be at most %(max)s characters."), { max: MAX }, true));
    const p = { client_id: uuid(), conversation_id: isLive() ? conv.id : null, body, topic: topicSel.value || null };
    if (offlineMode()) {
      const email = offEmail.value.trim();
      if (!EMAIL_RE.test(email)) {
        fieldError(offErr, email ? gettext("Please enter a valid email address.") : gettext("Please enter your email so we can answer you."));
        return offEmail.focus();
      }
      p.offline = true;
      setContact({ email, purpose: "offline", conversation_id: null, ...consentOf(offCheck) });
    }
    setPending([...pending(), p]);
    typingSentAt = 0; // the agent's "is typing" ends with this message: the next keystroke signals afresh
    ta.value = "";
    save("draft", null);
    composerChanged();
    showError("");
    addPendingEl(p);
    api.sent();
    chrome();
    ready ? flush() : connect();
  }

  function endChat() {
    confirmBar.hidden = true;
    if (isLive() && send({ type: "conversation.end", conversation_id: conv.id })) return ta.focus();
    showError(gettext("Not connected right now; please try again in a moment."));
    endBtn.focus();
  }

  function newChat() {
    conv = null; st = {};
    saveSt();
    resetView();
    note.hidden = true;
    topicSel.value = "";
    rateComment.value = "";
    stars.forEach((x) => x.setAttribute("aria-pressed", "false"));
    chrome();
    syncIntro();
    (offlineMode() ? offEmail : ta).focus();
  }

  function open(trigger) {
    if (trigger && !isLive()) {
      // The trigger's words open the chat, as the site's note, not as an agent's message (R2).
      note.replaceChildren(trigger.message, h("small", "", `\u2014 ${api.siteName() || "us"}`));
      note.hidden = false;
      syncIntro();
    }
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
    (form.hidden ? newBtn : offlineMode() && !offEmail.value ? offEmail : ta).focus();
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

  build();
  chrome();
  addEventListener("online", () => { if (!ws && wantConnection()) connect(); });
  if (load("token") && wantConnection()) connect();

  return {
    open,
    isOpen: () => isOpen,
    refresh: () => chrome(),
    pageView(page) { send({ type: "page.view", url: page.url, title: page.title }); },
  };
});
