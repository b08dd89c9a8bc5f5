/*
 * Frames from the server: each changes `state`; `receive()` renders after it.
 */
import { searchRefused, showCannedError } from "./canned.js";
import { claimRefused, endRefused, openConversation } from "./chat.js";
import { checkArrived, checkRefused, rememberCheck, scheduleCheck } from "./composer-checks.js";
import { messageFrame, sendRefused } from "./composer.js";
import { els } from "./dom.js";
import { drafts } from "./drafts.js";
import { parseTime, visitorName } from "./format.js";
import { gettext, interpolate } from "./i18n.js";
import { showNotice } from "./notice.js";
import { requestVisitorDetails, visitorDetailsArrived, visitorDetailsRefused } from "./panel.js";
import { render } from "./render.js";
import { send, setConnection, socket, startHeartbeat } from "./socket.js";
import { answered, awaiting, forgetUnlisted, isMine, isQueued, isStale, isTaken, serverNow, state, take, threadOf } from "./state.js";
import { countUnread, hasGap, requestSync, storeMessages, syncIfStillMissing, syncRefused } from "./transcript.js";
import { transferDone, transferRefused, transferTargetsArrived } from "./transfer.js";

const TYPING_SHOWN_MS = 5000; // "is typing" lasts 5 s after the last frame

export const handlers = {
  welcome(frame) {
    state.me = frame.agent;
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

    if (state.openId != null) {
      requestSync(state.openId);
      requestVisitorDetails(state.openId);
    }
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
    // The hole may be one of our own replies, not acked yet: give its ack time to come.
    if (hasGap(thread)) (thread.pending.size ? syncIfStillMissing : requestSync)(id);
  },

  "message.ack"(frame) {
    const id = frame.conversation_id;
    const thread = threadOf(id);
    if (frame.message) {
      // The ack carries the stored message in place of its message.new to this socket (docs/protocol.md).
      storeMessages(id, [frame.message]);
      if (frame.conversation) applyConversation(frame.conversation);
    } else {
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
    }
    if (hasGap(thread)) syncIfStillMissing(id);
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
    const saved = canned.scope === "team"
      ? gettext("Saved canned response /%(shortcut)s (shared with your team). Type /%(shortcut)s to use it.")
      : gettext("Saved canned response /%(shortcut)s (personal). Type /%(shortcut)s to use it.");
    showNotice(interpolate(saved, { shortcut: canned.shortcut }), "success");
  },

  read(frame) {
    const conversation = state.conversations.get(frame.conversation_id);
    if (frame.reader !== "visitor" || !conversation) return;
    conversation.visitor_read_seq = Math.max(conversation.visitor_read_seq || 0, frame.seq);
  },

  typing(frame) {
    if (frame.sender && frame.sender !== "visitor") return;
    const thread = threadOf(frame.conversation_id);
    thread.visitorTypingUntil = Date.now() + TYPING_SHOWN_MS;
    setTimeout(render, TYPING_SHOWN_MS + 50);
  },

  "transfer.targets"(frame) {
    transferTargetsArrived(frame);
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

  "visitor.details"(frame) {
    visitorDetailsArrived(frame);
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
      case "transfer.targets":
        state.transferTargetsFor = null;
        return showNotice(frame.message || gettext("The server refused a request."));
      case "conversation.follow_up":
        awaiting[ref].shift();
        return showNotice(frame.message || gettext("The follow-up mark could not be changed."));
      case "sync":
        return syncRefused(awaiting[ref].shift(), frame);
      case "composer.check":
        return checkRefused(awaiting[ref].shift(), frame);
      case "canned.search":
        return searchRefused(awaiting[ref].shift(), frame);
      case "canned.save":
        awaiting[ref].shift();
        state.savingCanned = null;
        return showCannedError(frame.message || gettext("The response could not be saved."));
      case "agent.status":
        awaiting[ref].shift();
        state.statusWanted = null;
        return showNotice(frame.message || gettext("Your status could not be changed."));
      case "visitor.details":
        return visitorDetailsRefused(awaiting[ref].shift(), frame);
      case "typing":
        if (frame.code === "unknown_type") state.supports.typing = false;
        return; // a lost typing signal changes nothing
      case "read":
        return; // the next render sends a newer mark anyway
      case "ping":
        if (frame.code === "unknown_type") startHeartbeat(0);
        return;
      default:
        break;
    }
    for (const [id, thread] of state.threads) {
      if (ref && thread.pending.has(ref)) return sendRefused(id, thread, ref, frame);
    }
    showNotice(frame.message || gettext("The server refused a request."));
  },
};

/** Take a server description of a conversation and act on what changed. */
function applyConversation(update) {
  const before = state.conversations.get(update.id);
  if (before && isStale(before, update)) return;
  // A new message sends only what it changed (no people, topic, team or labels): merged
  // into the conversation held. One not held yet waits for its whole form (sync, a list).
  if (!before && !("visitor" in update)) return;
  const incoming = before ? { ...before, ...update } : update;
  state.conversations.set(incoming.id, incoming);
  const conv = incoming;
  const thread = threadOf(conv.id);

  if (isMine(conv) && answered("conversation.claim", conv.id)) {
    openConversation(conv.id, { focusComposer: true });
  } else if (isMine(conv) && (!before || !isMine(before))) {
    // Not claimed here: a colleague transferred it, or the team assigned it.
    showNotice(interpolate(gettext("%(name)s (#%(id)s) is now yours — it is in My chats."), { name: visitorName(conv), id: conv.id }), "info");
  }
  if (conv.status === "ended") answered("conversation.end", conv.id);
  take("conversation.follow_up", conv.id, (entry) => entry.needs === !!conv.needs_follow_up);
  if (!isMine(conv) && answered("conversation.transfer", conv.id)) transferDone(conv);
  if (conv.id === state.openId) {
    if (before && isQueued(before) && isTaken(conv)) showNotice(gettext("Another agent took this chat."), "info");
    if (before && isMine(before) && !isMine(conv) && conv.status !== "ended" && !state.transferred.has(conv.id)) {
      showNotice(conv.agent ? interpolate(gettext("This chat now belongs to %(name)s."), { name: conv.agent.name }) : gettext("This chat went back to the queue."), "info");
    }
    if (conv.last_seq > thread.lastSeq) requestSync(conv.id);
  }
  forgetUnlisted();
}
