/*
 * Transfers (R5): to a colleague or back to a team's queue, with a reason.
 */
import { replyContext } from "./composer.js";
import { els, h } from "./dom.js";
import { gettext, interpolate } from "./i18n.js";
import { showNotice } from "./notice.js";
import { render } from "./render.js";
import { send } from "./socket.js";
import { awaiting, state } from "./state.js";

function agentAvailability(agent) {
  if (agent.available) return ["available", gettext("Available")];
  // Online but not available: at their chat limit, or no console open right now.
  if (agent.status === "online") return ["busy", gettext("Busy or not connected")];
  if (agent.status === "away") return ["away", gettext("Away")];
  return ["offline", gettext("Offline")];
}

function openTransfer() {
  const ctx = replyContext();
  if (!ctx) return;
  // Asked for now, not kept from `welcome`: who is available is current when the dialog shows.
  if (!send({ type: "transfer.targets" })) return showNotice(gettext("Not connected; try again once the console has reconnected."));
  state.transferTargetsFor = ctx.id;
}

export function transferTargetsArrived(frame) {
  state.teams = frame.teams || [];
  state.agents = frame.agents || [];
  const wanted = state.transferTargetsFor;
  state.transferTargetsFor = null;
  const ctx = replyContext();
  // The agent may have opened another chat meanwhile: then the click no longer applies.
  if (ctx && ctx.id === wanted && !els.transferDialog.open) showTransferDialog();
}

function showTransferDialog() {
  const others = state.agents
    .filter((agent) => !state.me || agent.id !== state.me.id)
    .sort((a, b) => Number(!!b.available) - Number(!!a.available) || a.name.localeCompare(b.name));
  const choice = (value, label, extra, kind) =>
    h(
      "li",
      null,
      h(
        "label",
        { className: `choice${kind ? ` choice--${kind}` : ""}` },
        h("input", { type: "radio", name: "target", value, required: true }),
        h("span", { className: "choice-label" }, label),
        extra,
      ),
    );
  els.transferAgents.replaceChildren(
    ...others.map((agent) => {
      const [kind, text] = agentAvailability(agent);
      return choice(
        `agent:${agent.id}`,
        agent.name,
        h("span", { className: `availability availability--${kind}` }, text),
        kind,
      );
    }),
  );
  els.transferAgentsEmpty.hidden = others.length > 0;
  els.transferTeams.replaceChildren(...state.teams.map((team) => choice(`team:${team.id}`, team.name, null, "")));
  els.transferReason.value = "";
  showTransferError("");
  state.transfer = null;
  render();
  els.transferDialog.showModal();
  const first = els.transferForm.querySelector(".choice--available input") || els.transferForm.querySelector("input");
  if (first) first.focus();
}

function submitTransfer() {
  const ctx = replyContext();
  if (!ctx || state.transfer) return;
  const picked = els.transferForm.querySelector("input[name=target]:checked");
  const reason = els.transferReason.value.trim();
  if (!picked || !reason) return;
  const [kind, rawId] = picked.value.split(":");
  const targetId = Number(rawId);
  const frame = { type: "conversation.transfer", conversation_id: ctx.id, reason };
  let label;
  if (kind === "agent") {
    frame.to_agent_id = targetId;
    label = (state.agents.find((a) => a.id === targetId) || {}).name || gettext("a colleague");
  } else {
    frame.to_team_id = targetId;
    label = interpolate(gettext("the %(team)s queue"), { team: (state.teams.find((t) => t.id === targetId) || {}).name || gettext("team") });
  }
  if (!send(frame)) return showTransferError(gettext("Not connected; try again once the console has reconnected."));
  awaiting["conversation.transfer"].push(ctx.id);
  state.transfer = { id: ctx.id, label };
  showTransferError("");
  render();
}

export function showTransferError(text) {
  els.transferError.textContent = text;
  els.transferError.hidden = !text;
}

export function transferRefused(id, frame) {
  state.transfer = null;
  if (id == null) return showNotice(frame.message);
  const text =
    frame.code === "at_capacity" ? gettext("That agent already carries their limit of chats. Pick someone else or a team.")
    : frame.message || gettext("The chat could not be transferred.");
  if (els.transferDialog.open) showTransferError(text);
  else showNotice(text);
}

export function transferDone(conv) {
  const label = state.transfer && state.transfer.id === conv.id ? state.transfer.label : "";
  state.transfer = null;
  state.transferred.set(conv.id, label || (conv.agent ? conv.agent.name : "the queue"));
  if (els.transferDialog.open) els.transferDialog.close();
  showNotice(interpolate(gettext("Transferred to %(target)s."), { target: state.transferred.get(conv.id) }), "success");
}

/** The Transfer button and dialog. */
export function wireTransfer() {
  els.transferOpen.addEventListener("click", openTransfer);
  els.transferForm.addEventListener("submit", (event) => {
    event.preventDefault();
    submitTransfer();
  });
}
