/*
 * The page's elements, found once, and small helpers that build and update the DOM.
 * Text always goes in as text (`append` of a string), never as HTML.
 */

export const root = document.getElementById("console");

const $ = (id) => document.getElementById(id);

export const els = {
  lists: document.querySelector("#console .console-lists"),
  status: $("connection-status"),
  presence: $("presence"),
  agentStatus: $("agent-status"),
  capacity: $("capacity"),
  followUpsCount: $("follow-ups-count"),
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

/** A DOM element: h("li", {className: "x", "data-id": 3}, child, "text", ...). */
export function h(tag, props, ...children) {
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

export function lockIcon() {
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
export function reconcile(container, items, { key, sig, create, fill }) {
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
export function redraw(node, sig, draw) {
  if (node.dataset.sig === sig) return;
  node.dataset.sig = sig;
  draw();
}
