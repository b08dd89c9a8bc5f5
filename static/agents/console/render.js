/*
 * `render()` brings the whole page in line with `state`, reusing DOM nodes by key so
 * focus, selection and scroll survive.
 */
import { renderChat } from "./chat.js";
import { replyContext } from "./composer.js";
import { els } from "./dom.js";
import { gettext } from "./i18n.js";
import { renderLabels } from "./labels.js";
import { renderLists } from "./lists.js";
import { renderMe } from "./presence.js";
import { state } from "./state.js";

export function render() {
  renderMe();
  renderLists();
  renderChat();
  renderLabels(state.openId == null ? null : state.conversations.get(state.openId));
  renderDialogs();
}

function renderDialogs() {
  const transferring = !!state.transfer;
  els.transferSubmit.disabled = transferring;
  els.transferSubmit.textContent = transferring ? gettext("Transferring…") : gettext("Transfer");
  if (els.transferDialog.open && !replyContext() && !transferring) els.transferDialog.close();
  els.cannedSubmit.disabled = !!state.savingCanned;
  els.cannedSubmit.textContent = state.savingCanned ? gettext("Saving…") : gettext("Save");
}
