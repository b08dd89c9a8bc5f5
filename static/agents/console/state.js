/*
 * The one `state` object the frames and the agent's actions change, and `render()` shows;
 * what this page holds of each conversation; the frames waiting for an answer.
 */

const STATUS_RANK = { queued: 0, active: 1, ended: 2 };

export const state = {
  me: null, // {id, name, is_supervisor, status, max_chats, teams} from `welcome`
  teams: [], // transfer targets, from the last `transfer.targets`: [{id, name}]
  agents: [], // transfer targets, from the last `transfer.targets`: [{id, name, status, available}]
  transferTargetsFor: null, // the chat whose transfer dialog waits for `transfer.targets`
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
  // The customer panel's `visitor.details` per conversation: {recent_pages, past_conversations}, or {error}.
  details: new Map(),
  // Server features this page uses when the server has them; an `unknown_type` answer turns one off.
  supports: { check: true, canned: true, typing: true, details: true },
};

export function threadOf(id) {
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

export const isQueued = (conv) => conv.status === "queued";

export const isMine = (conv) =>
  conv.status === "active" && !!conv.agent && !!state.me && conv.agent.id === state.me.id;

export const isTaken = (conv) => conv.status === "active" && !isMine(conv);

/**
 * True when `next` describes an older state than `current` (events may arrive late or
 * twice). Every change of owner or status posts a message, so a newer description has
 * a higher `last_seq`, or the same one and a status no earlier. A transfer to a team puts
 * an active chat back in the queue, with the transfer's messages.
 */
export function isStale(current, next) {
  if (next.last_seq !== current.last_seq) return next.last_seq < current.last_seq;
  return (STATUS_RANK[next.status] ?? 0) < (STATUS_RANK[current.status] ?? 0);
}

/** Drop conversations in neither list, except the open one. */
export function forgetUnlisted() {
  for (const [id, conv] of state.conversations) {
    if (isQueued(conv) || isMine(conv) || id === state.openId) continue;
    state.conversations.delete(id);
    state.acknowledged.delete(id);
    state.transferred.delete(id);
    state.details.delete(id);
    const thread = state.threads.get(id);
    if (thread && !thread.pending.size) state.threads.delete(id);
  }
}

// Frames awaiting an answer, per type, in send order. An `error` names only the frame
// type in `ref`, and the server answers one socket's frames in order, so the oldest
// unanswered frame of that type is the one refused. Entries are conversation ids, or
// objects with an `id` when the answer must be matched to more than the conversation.
export const awaiting = {
  "conversation.claim": [],
  "conversation.end": [],
  "conversation.transfer": [],
  "conversation.follow_up": [],
  sync: [],
  "composer.check": [],
  "canned.search": [],
  "canned.save": [],
  "agent.status": [],
  "visitor.details": [],
};

const entryId = (entry) => (entry !== null && typeof entry === "object" ? entry.id : entry);

/** Remove and return the first entry of `type` for conversation `id` that `match` accepts. */
export function take(type, id, match = () => true) {
  const list = awaiting[type];
  const index = list.findIndex((entry) => entryId(entry) === id && match(entry));
  return index === -1 ? null : list.splice(index, 1)[0];
}

export const answered = (type, id) => take(type, id) !== null;

export const isAwaiting = (type, id) => awaiting[type].some((entry) => entryId(entry) === id);

export const serverNow = () => Date.now() + state.clockOffset;

// Refusals that change nothing stored and ask for the same frame again later.
export const RETRYABLE = new Set(["rate_limited", "internal_error"]);

export const retryDelay = (frame) => (frame.retry_after || (frame.code === "internal_error" ? 2 : 1)) * 1000;
