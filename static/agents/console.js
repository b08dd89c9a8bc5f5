/*
 * The agent console: queue, claim, reply, end, the R9 waiting timer, and the playbook
 * helpers around the composer: composer checks (R10-R12), canned responses (R13, R14),
 * private notes (R17), transfers, follow-ups (R16), typing indicators, presence, and the
 * customer panel, suggested articles and drafts from chats (R15, R21), and logging
 * feedback (R20, R22).
 *
 * Everything live comes over the agent socket (docs/protocol.md). Frames and the
 * agent's actions change one `state` object (console/state.js); `render()`
 * (console/render.js) then brings the page in line with it. Plain JavaScript modules,
 * one per feature under console/, no framework, no build step.
 */
import { wireAttachments } from "./console/attachments.js";
import { wireCanned } from "./console/canned.js";
import { wireChat } from "./console/chat.js";
import { wireComposerChecks } from "./console/composer-checks.js";
import { wireComposer } from "./console/composer.js";
import { root } from "./console/dom.js";
import { wireFeedback } from "./console/feedback.js";
import { wireKeyboard } from "./console/keyboard.js";
import { wireKnowledge } from "./console/knowledge.js";
import { wireLabels } from "./console/labels.js";
import { tick, wireLists } from "./console/lists.js";
import { wireNotice } from "./console/notice.js";
import { wirePresence } from "./console/presence.js";
import { render } from "./console/render.js";
import { connect, setConnection, wireSocket } from "./console/socket.js";
import { wireTranscript } from "./console/transcript.js";
import { wireTransfer } from "./console/transfer.js";

if (root) {
  wireLists();
  wirePresence();
  wireChat();
  wireNotice();
  wireTranscript();
  wireComposer();
  wireAttachments();
  wireComposerChecks();
  wireCanned();
  wireTransfer();
  wireKnowledge();
  wireFeedback();
  wireLabels();
  wireKeyboard();
  // Every dialog's Cancel button.
  for (const button of root.querySelectorAll("dialog [data-close]")) {
    button.addEventListener("click", () => button.closest("dialog").close());
  }
  wireSocket();
  setConnection("connecting");
  render();
  connect();
  setInterval(tick, 1000);
}
