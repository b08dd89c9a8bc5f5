/*
 * The agent's own status (online / away) and how many chats it carries.
 */
import { els, h } from "./dom.js";
import { gettext, interpolate, ngettext } from "./i18n.js";
import { showNotice } from "./notice.js";
import { render } from "./render.js";
import { isConnected, send } from "./socket.js";
import { awaiting, isMine, state } from "./state.js";

function changeStatus(status) {
  if (!state.me || status === state.me.status) return;
  if (!send({ type: "agent.status", status })) {
    showNotice(gettext("Not connected; change your status once the console has reconnected."));
    render();
    return;
  }
  awaiting["agent.status"].push(status);
  state.statusWanted = status;
  // The server announces only a change: when another tab changed it first, nothing comes.
  setTimeout(() => {
    if (state.statusWanted !== status) return;
    state.statusWanted = null;
    awaiting["agent.status"].length = 0;
    render();
  }, 5000);
  render();
}

export function renderMe() {
  const me = state.me;
  const known = !!me && typeof me.status === "string";
  const status = state.statusWanted || (known ? me.status : "offline");
  const select = els.agentStatus;
  if (!select.querySelector(`option[value="${status}"]`)) {
    select.append(h("option", { value: status, disabled: true }, status[0].toUpperCase() + status.slice(1)));
  }
  select.value = status;
  select.disabled = !known || !isConnected() || !!state.statusWanted;
  els.presence.dataset.status = status;
  const carried = Array.from(state.conversations.values()).filter(isMine).length;
  els.capacity.textContent = me && me.max_chats
    ? interpolate(ngettext("%(carried)s of %(max)s chat", "%(carried)s of %(max)s chats", me.max_chats), { carried, max: me.max_chats })
    : "";
}

/** The status menu. */
export function wirePresence() {
  els.agentStatus.addEventListener("change", () => changeStatus(els.agentStatus.value));
}
