/*
 * The notice above the composer: errors and news about the open chat, for 10 seconds.
 */
import { els, h } from "./dom.js";

const NOTICE_MS = 10000;

let noticeTimer = null;

/** `link` ({href, text}) adds a link after the text, e.g. to the draft just created. */
export function showNotice(text, kind = "error", link = null) {
  const linked = link && link.href && /^(https?:\/\/|\/(?!\/))/i.test(link.href);
  els.notice
    .querySelector(".notice-text")
    .replaceChildren(text, ...(linked ? [" ", h("a", { href: link.href, className: "notice-link" }, link.text || link.href)] : []));
  els.notice.dataset.kind = kind;
  els.notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(hideNotice, NOTICE_MS);
}

export function hideNotice() {
  clearTimeout(noticeTimer);
  els.notice.hidden = true;
}

/** The notice's close button. */
export function wireNotice() {
  els.notice.querySelector(".notice-close").addEventListener("click", hideNotice);
}
