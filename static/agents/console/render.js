/*
 * `render()` brings the whole page in line with `state`, reusing DOM nodes by key so
 * focus, selection and scroll survive.
 */
import { renderChat } from "./chat.js";
import { replyContext } from "./composer.js";
import { els } from "./dom.js";
import { renderLists } from "./lists.js";
import { renderMe } from "./presence.js";
import { state } from "./state.js";

export function render() {
  renderMe();
  renderLists();
  renderChat();
  renderDialogs();
}

function renderDialogs() {
  const transferring = !!state.transfer;
  els.transferSubmit.disabled = transferring;
  els.transferSubmit.textContent = transferring ? "Transferring…" : "Transfer";
  if (els.transferDialog.open && !replyContext() && !transferring) els.transferDialog.close();
  els.cannedSubmit.disabled = !!state.savingCanned;
  els.cannedSubmit.textContent = state.savingCanned ? "Saving…" : "Save";
}
