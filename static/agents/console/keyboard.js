/*
 * Keyboard use: Enter sends, the canned list's keys, Alt+↑/↓ between chats, Alt+N, Alt+S,
 * Alt+F log feedback (R20), Esc back to the chat list, arrow keys in the lists.
 */
import { closeCanned, insertCanned, moveCanned } from "./canned.js";
import { openConversation } from "./chat.js";
import { replyContext, setMode, splitReply, submitReply } from "./composer.js";
import { els } from "./dom.js";
import { openFeedback } from "./feedback.js";
import { render } from "./render.js";
import { state } from "./state.js";

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

/** Keys in the lists, in the composer and anywhere on the page. */
export function wireKeyboard() {
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
    } else if (plain && event.altKey && event.code === "KeyF" && state.openId != null) {
      event.preventDefault();
      openFeedback();
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
}
