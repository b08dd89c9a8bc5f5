/*
 * Drafts per conversation, kept in localStorage: they survive switching chats and reloads.
 */

const DRAFT_PREFIX = "helpdesk:console:draft:";

export const drafts = {
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
