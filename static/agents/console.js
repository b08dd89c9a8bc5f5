/*
 * The agent console: queue, claim, reply, end, the R9 waiting timer, and the playbook
 * helpers around the composer: composer checks (R10-R12), canned responses (R13, R14),
 * private notes (R17), transfers, follow-ups (R16), typing indicators, presence, and the
 * customer panel.
 *
 * Everything live comes over the agent socket (docs/protocol.md). Frames and the
 * agent's actions change one `state` object (console/state.js); `render()`
 * (console/render.js) then brings the page in line with it. Plain JavaScript modules,
 * one per feature under console/, no framework, no build step.
 */
import { wireCanned } from "./console/canned.js";
import { wireChat } from "./console/chat.js";
import { wireComposerChecks } from "./console/composer-checks.js";
import { wireComposer } from "./console/composer.js";
import { root } from "./console/dom.js";
import { wireKeyboard } from "./console/keyboard.js";
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
  wireComposerChecks();
  wireCanned();
  wireTransfer();
  wireKeyboard();
  wireSocket();
  setConnection("connecting");
  render();
  connect();
  setInterval(tick, 1000);
}
