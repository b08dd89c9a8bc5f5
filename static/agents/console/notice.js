/*
 * The notice above the composer: errors and news about the open chat, for 10 seconds.
 */
import { els } from "./dom.js";

const NOTICE_MS = 10000;

let noticeTimer = null;

export function showNotice(text, kind = "error") {
  els.notice.querySelector(".notice-text").textContent = text;
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
