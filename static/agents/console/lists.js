/*
 * The left-hand lists: the queue and my chats, their R9 waiting timers and the title alert.
 */
import { claim, openConversation } from "./chat.js";
import { els, h, reconcile } from "./dom.js";
import { formatWait, parseTime, topicName, visitorKind, visitorName, waitedSeconds } from "./format.js";
import { gettext, interpolate } from "./i18n.js";
import { labelChips, matchesLabelFilter } from "./labels.js";
import { isAwaiting, isMine, isQueued, serverNow, state, threadOf } from "./state.js";

const AMBER_AFTER_S = 30; // R9: warn well before the 45 s awkward pause

export const RED_AFTER_S = 45;

const ALERT_TITLE = "(!) Customer waiting";

const baseTitle = document.title;

const byTime = (field) => (a, b) => (parseTime(a[field]) || 0) - (parseTime(b[field]) || 0) || a.id - b.id;

export function renderLists() {
  const all = Array.from(state.conversations.values()).filter(matchesLabelFilter);
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
  renderFollowUpsCount(chats);
}

function markCurrent(node, current) {
  if (current) node.setAttribute("aria-current", "true");
  else node.removeAttribute("aria-current");
}

/** Badges of a conversation: customer or prospect (R22), left a message (R3), follow-up (R16), rating (R19). */
export function badges(conv) {
  const kind = visitorKind(conv);
  return [
    kind && h("span", { className: `kind-badge kind--${kind}` }, kind === "customer" ? gettext("Customer") : gettext("Prospect")),
    conv.is_offline_message &&
      h("span", { className: "tag tag--offline", title: gettext("Left a message while nobody was online (R3)") }, gettext("Left a message")),
    conv.needs_follow_up && h("span", { className: "tag tag--follow-up", title: gettext("Needs follow-up (R16)") }, gettext("Follow-up")),
    conv.status === "ended" &&
      conv.rating &&
      h("span", { className: "rating", title: gettext("The visitor's rating (R19)") }, `★ ${conv.rating}/5`),
  ];
}

/** R16: the link to the follow-ups page counts my chats that still owe an answer. */
function renderFollowUpsCount(chats) {
  const owed = chats.filter((conv) => conv.needs_follow_up).length;
  els.followUpsCount.textContent = owed;
  els.followUpsCount.hidden = owed === 0;
}

export const isVisitorTyping = (id) => threadOf(id).visitorTypingUntil > Date.now();

const queueItemSig = (conv) =>
  JSON.stringify([
    conv.topic,
    conv.preview,
    conv.waiting_since,
    visitorName(conv),
    visitorKind(conv),
    conv.needs_follow_up,
    conv.is_offline_message,
    conv.team,
    conv.id === state.openId,
    isAwaiting("conversation.claim", conv.id),
    conv.labels,
  ]);

function fillQueueItem(node, conv) {
  const claiming = isAwaiting("conversation.claim", conv.id);
  node.className = `conv conv--queued${conv.id === state.openId ? " conv--open" : ""}`;
  markCurrent(node, conv.id === state.openId);
  const meta = [visitorName(conv), `#${conv.id}`, conv.team && interpolate(gettext("for %(team)s"), { team: conv.team.name })].filter(Boolean).join(" · ");
  node.replaceChildren(
    h("div", { className: "conv-row" }, h("span", { className: "conv-title" }, topicName(conv)), badges(conv), timer(conv)),
    h("div", { className: "conv-preview" }, conv.preview || "…"),
    h("div", { className: "conv-labels" }, labelChips(conv)),
    h(
      "div",
      { className: "conv-row" },
      h("span", { className: "conv-meta" }, meta),
      h(
        "button",
        { type: "button", className: "claim btn btn-sm btn-primary", disabled: claiming },
        claiming ? gettext("Claiming…") : gettext("Claim"),
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
    conv.is_offline_message,
    conv.id === state.openId,
    threadOf(conv.id).unread.size,
    isVisitorTyping(conv.id),
    conv.labels,
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
    h("div", { className: "conv-labels" }, labelChips(conv)),
    typing
      ? h("div", { className: "conv-preview conv-preview--typing" }, "typing…")
      : h("div", { className: "conv-preview" }, conv.preview || "…"),
  );
}

/** The R9 timer of a conversation whose customer waits for a reply, else nothing. */
export function timer(conv) {
  if (!conv.waiting_since) return null;
  const node = h("span", {
    className: "timer",
    "data-since": conv.waiting_since,
    title: gettext("Customer waiting for a reply"),
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

let flashOn = false;

export function tick() {
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

/** Clicks in the lists open or claim a chat; the timers catch up when the window regains focus. */
export function wireLists() {
  els.lists.addEventListener("click", (event) => {
    const item = event.target.closest("li.conv");
    if (!item) return;
    const id = Number(item.dataset.conversationId);
    if (event.target.closest("button.claim")) claim(id);
    else openConversation(id, { focusComposer: true });
  });
  window.addEventListener("focus", tick);
}
