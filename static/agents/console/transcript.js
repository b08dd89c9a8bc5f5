/*
 * The transcript: messages stored once per seq, sync and gap recovery, unread counts, and
 * how messages, pending replies and private notes show.
 */
import { fileNode } from "./attachments.js";
import { openSaveCanned } from "./canned.js";
import { els, h, lockIcon, reconcile } from "./dom.js";
import { formatTime, visitorName } from "./format.js";
import { gettext, interpolate } from "./i18n.js";
import { showNotice } from "./notice.js";
import { send } from "./socket.js";
import { awaiting, RETRYABLE, retryDelay, state, threadOf } from "./state.js";

/** Add messages to a thread, each seq once; returns those it did not hold yet. */
export function storeMessages(id, messages) {
  const thread = threadOf(id);
  const added = [];
  for (const message of messages) {
    const known = thread.messages.get(message.seq);
    // A stored message comes again only to carry its file's link, signed anew (links expire).
    if (known && !known.local && !message.attachment) continue;
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
export const hasGap = (thread) => thread.messages.size > thread.lastSeq;

export function countUnread(thread, messages) {
  for (const message of messages) if (message.sender === "visitor") thread.unread.add(message.seq);
}

export function requestSync(id) {
  const thread = threadOf(id);
  if (thread.syncing) return; // the answer in flight covers everything stored before it
  if (send({ type: "sync", conversation_id: id, after_seq: thread.lastSeq })) {
    thread.syncing = true;
    awaiting.sync.push(id);
  }
}

// The message before an acked reply is usually on its way (two servers commit and send
// independently): wait this long for its message.new before asking for it.
const IN_FLIGHT_MS = 1500;

/** Sync if the thread still misses a message once those in flight have had time to come. */
export function syncIfStillMissing(id) {
  setTimeout(() => {
    if (hasGap(threadOf(id))) requestSync(id);
  }, IN_FLIGHT_MS);
}

export function syncRefused(id, frame) {
  if (id == null) return;
  threadOf(id).syncing = false;
  if (RETRYABLE.has(frame.code)) {
    setTimeout(() => requestSync(id), retryDelay(frame));
  } else if (frame.code === "not_found") {
    state.conversations.delete(id);
    if (state.openId === id) {
      state.openId = null;
      showNotice(gettext("This chat is no longer available."), "info");
    }
  } else {
    showNotice(frame.message);
  }
}

export function renderTranscript(id, thread) {
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
    sig: ({ message, state: s }) => `${s}:${message.local ? "local" : "stored"}:${message.attachment ? message.attachment.url : ""}`,
    create: () => h("li"),
    fill: fillMessage,
  });
  if (state.scrollToEnd || nearEnd) list.scrollTop = list.scrollHeight;
  state.scrollToEnd = false;
  showReadState(id, thread);
}

/** Read state: tell the server what the owner has seen; show "Seen" under the latest
 * reply the visitor has read. */
function showReadState(id, thread) {
  const conversation = state.conversations.get(id) || {};
  const mine = state.me && conversation.agent && conversation.agent.id === state.me.id;
  if (mine && document.visibilityState === "visible" && thread.lastSeq > (thread.readSent || 0)) {
    if (send({ type: "read", conversation_id: id, seq: thread.lastSeq })) thread.readSent = thread.lastSeq;
  }
  els.transcript.querySelectorAll(".msg-seen").forEach((node) => node.remove());
  const seen = conversation.visitor_read_seq || 0;
  const read = [...els.transcript.querySelectorAll("li.msg--agent[data-seq]")].filter((n) => +n.dataset.seq <= seen);
  if (read.length) read[read.length - 1].append(h("div", { className: "msg-seen" }, gettext("Seen")));
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
    author = s === "stored" ? message.author_name || gettext("Agent") : state.me ? state.me.name : gettext("You");
  }
  const status =
    s === "pending" ? h("span", { className: "msg-status" }, gettext("Sending…"))
    : s === "failed" ? h("span", { className: "msg-status" }, interpolate(gettext("Not sent: %(error)s"), { error: message.error }))
    : null;
  const label = sender === "note" ? h("span", { className: "msg-note-label" }, lockIcon(), gettext("Private note")) : null;
  const action =
    sender === "agent" && s === "stored"
      ? h("button", { type: "button", className: "msg-action", "data-action": "save-canned" }, gettext("Save as canned"))
      : null;
  // R21: ticked while picking answers for a draft article (shown by .transcript.is-picking).
  const pick =
    sender === "agent" && s === "stored"
      ? h("input", { type: "checkbox", className: "msg-pick", "aria-label": gettext("Use this answer in a draft article") })
      : null;
  node.replaceChildren(
    h(
      "div",
      { className: "msg-meta" },
      pick,
      action,
      label,
      label && " · ",
      h("span", { className: "msg-author" }, author),
      " ",
      time,
      status && " ",
      status,
    ),
    h("div", { className: "msg-body" }, message.attachment ? fileNode(message.attachment) : message.body),
  );
}

/** “Save as canned” on a sent reply. */
export function wireTranscript() {
  els.transcript.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action=save-canned]");
    if (!button || state.openId == null) return;
    const message = threadOf(state.openId).messages.get(Number(button.closest("li.msg").dataset.seq));
    if (message) openSaveCanned(message);
  });
}
