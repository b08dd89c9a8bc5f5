/*
 * The open chat: opening, claiming and ending it, the follow-up mark, its header and footer.
 */
import { closeCanned } from "./canned.js";
import { scheduleCheck } from "./composer-checks.js";
import { renderComposer, replyContext, updateCount } from "./composer.js";
import { els, h, redraw } from "./dom.js";
import { drafts } from "./drafts.js";
import { renderFeedback } from "./feedback.js";
import { topicName, visitorKind, visitorName, waitedSeconds } from "./format.js";
import { badges, isVisitorTyping, RED_AFTER_S, tick, timer } from "./lists.js";
import { gettext, interpolate, ngettext } from "./i18n.js";
import { hideNotice, showNotice } from "./notice.js";
import { renderKnowledge } from "./knowledge.js";
import { renderCustomer, requestVisitorDetails } from "./panel.js";
import { render } from "./render.js";
import { send } from "./socket.js";
import { awaiting, forgetUnlisted, isAwaiting, isMine, isQueued, isTaken, serverNow, state, threadOf } from "./state.js";
import { renderTranscript, requestSync } from "./transcript.js";

export function openConversation(id, { focusComposer = false } = {}) {
  const conv = state.conversations.get(id);
  if (!conv) return;
  if (state.openId !== id) {
    state.openId = id;
    state.scrollToEnd = true;
    hideNotice();
    closeCanned();
    forgetUnlisted();
    requestVisitorDetails(id);
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

export function claim(id) {
  if (isAwaiting("conversation.claim", id)) return;
  if (!send({ type: "conversation.claim", conversation_id: id })) {
    showNotice(gettext("Not connected; claim again once the console has reconnected."));
    return;
  }
  awaiting["conversation.claim"].push(id);
  render();
}

function endChat() {
  const conv = state.openId == null ? null : state.conversations.get(state.openId);
  if (!conv || !isMine(conv) || isAwaiting("conversation.end", conv.id)) return;
  if (!window.confirm(interpolate(gettext("End the chat with %(name)s? They will see that it ended."), { name: visitorName(conv) }))) return;
  if (!send({ type: "conversation.end", conversation_id: conv.id })) {
    showNotice(gettext("Not connected; end the chat once the console has reconnected."));
    return;
  }
  awaiting["conversation.end"].push(conv.id);
  render();
}

function toggleFollowUp() {
  const ctx = replyContext();
  if (!ctx || isAwaiting("conversation.follow_up", ctx.id)) return;
  const needs = !ctx.conv.needs_follow_up;
  if (!send({ type: "conversation.follow_up", conversation_id: ctx.id, needs })) {
    showNotice(gettext("Not connected; try again once the console has reconnected."));
    return;
  }
  awaiting["conversation.follow_up"].push({ id: ctx.id, needs });
  render();
}

export function claimRefused(id, frame) {
  const conv = id == null ? null : state.conversations.get(id);
  if (!conv) return showNotice(frame.message);
  if (frame.code === "already_claimed") {
    showNotice(gettext("Another agent took this chat."), "info");
    // Out of the queue now; the owner's conversation.updated, when it comes, fills in who.
    if (isQueued(conv)) state.conversations.set(id, { ...conv, status: "active", agent: conv.agent || null });
  } else if (frame.code === "at_capacity") {
    const carried = Array.from(state.conversations.values()).filter(isMine).length;
    const limit = (state.me && state.me.max_chats) || carried;
    const count = Math.max(carried, limit);
    showNotice(interpolate(ngettext("You already have %(count)s chat — end one first or raise your limit.", "You already have %(count)s chats — end one first or raise your limit.", count), { count }));
  } else if (frame.code === "conversation_ended") {
    showNotice(gettext("This chat has already ended."), "info");
    state.conversations.set(id, { ...conv, status: "ended", waiting_since: null });
  } else if (frame.code === "not_found") {
    showNotice(gettext("This chat is no longer available."), "info");
    state.conversations.delete(id);
    if (state.openId === id) state.openId = null;
  } else {
    showNotice(frame.message);
  }
  forgetUnlisted();
}

export function endRefused(id, frame) {
  if (id != null && frame.code === "not_owner") threadOf(id).closed = frame.code;
  showNotice(frame.message);
}

function chatMode(conv, thread) {
  if (conv.status === "ended") return conv.agent && state.me && conv.agent.id === state.me.id ? "closed" : "readonly";
  if (isMine(conv)) return thread.closed ? "closed" : "reply";
  if (isQueued(conv)) return "queued";
  return "readonly";
}

function chatStateText(conv, thread) {
  if (conv.status === "ended") return gettext("Chat ended");
  if (state.transferred.has(conv.id) && !isMine(conv)) return interpolate(gettext("You transferred this chat to %(target)s."), { target: state.transferred.get(conv.id) });
  if (isTaken(conv)) {
    return conv.agent && conv.agent.name
      ? interpolate(gettext("Another agent took this chat (%(name)s)."), { name: conv.agent.name })
      : gettext("Another agent took this chat.");
  }
  if (thread.closed === "not_owner") return gettext("You no longer own this chat.");
  return "";
}

export function statusText(conv) {
  if (conv.status === "ended") return gettext("Ended");
  if (isQueued(conv)) return conv.team ? interpolate(gettext("Waiting in the %(team)s queue"), { team: conv.team.name }) : gettext("Waiting in queue");
  if (isMine(conv)) return gettext("With you");
  return conv.agent && conv.agent.name ? interpolate(gettext("With %(name)s"), { name: conv.agent.name }) : gettext("With another agent");
}

export function renderChat() {
  const conv = state.openId == null ? null : state.conversations.get(state.openId);
  els.empty.hidden = !!conv;
  els.header.hidden = !conv;
  els.transcript.hidden = !conv;
  els.footer.hidden = !conv;
  renderCustomer(conv);
  renderKnowledge(conv);
  renderFeedback(conv);
  if (!conv) {
    els.typing.hidden = true;
    return;
  }

  const thread = threadOf(conv.id);
  const mode = chatMode(conv, thread);
  els.title.textContent = visitorName(conv);
  const kind = visitorKind(conv);
  const badgesSig = JSON.stringify([kind, conv.needs_follow_up, conv.is_offline_message, conv.status, conv.rating]);
  redraw(els.kind, badgesSig, () => els.kind.replaceChildren(...badges(conv).filter(Boolean)));
  els.subtitle.textContent = `${topicName(conv)} · #${conv.id} · ${statusText(conv)}`;
  const waiting = conv.waiting_since ? [h("span", { className: "muted" }, `${gettext("Waiting")} `), timer(conv)] : [];
  els.chatTimer.replaceChildren(...waiting);
  els.endChat.hidden = mode !== "reply";
  els.endChat.disabled = isAwaiting("conversation.end", conv.id);
  els.transferOpen.hidden = mode !== "reply";
  els.followUp.hidden = mode !== "reply";
  const followUpWanted = awaiting["conversation.follow_up"].find((e) => e.id === conv.id);
  const flagged = followUpWanted ? followUpWanted.needs : !!conv.needs_follow_up;
  els.followUp.setAttribute("aria-pressed", String(flagged));
  els.followUp.disabled = !!followUpWanted;
  els.followUp.textContent = flagged ? gettext("Follow-up ✓") : gettext("Needs follow-up");

  const stateText = chatStateText(conv, thread);
  els.chatState.hidden = !stateText;
  els.chatState.textContent = stateText;
  els.chatState.dataset.kind = conv.status === "ended" ? "ended" : "info";

  const claiming = isAwaiting("conversation.claim", conv.id);
  els.claimBar.hidden = mode !== "queued";
  els.claimOpen.disabled = claiming;
  els.claimOpen.textContent = claiming ? gettext("Claiming…") : gettext("Claim");

  const typing = isVisitorTyping(conv.id) && conv.status !== "ended";
  els.typing.hidden = !typing;
  if (typing) els.typingText.textContent = interpolate(gettext("%(name)s is typing…"), { name: (conv.visitor && conv.visitor.name) || gettext("Visitor") });

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

/** The header's and the claim bar's buttons. */
export function wireChat() {
  els.claimOpen.addEventListener("click", () => {
    if (state.openId != null) claim(state.openId);
  });
  els.endChat.addEventListener("click", endChat);
  els.followUp.addEventListener("click", toggleFollowUp);
}
