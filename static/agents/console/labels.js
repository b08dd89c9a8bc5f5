/*
 * Labels on chats: coloured chips in the lists and in the open chat's header, where the
 * chat's owner (or a supervisor) adds and removes them, and a filter of the lists by one
 * label. A change goes over HTTP; the server then sends every console showing the chat a
 * `conversation.updated` with its labels, so the other consoles follow live.
 */
import { h, redraw, root } from "./dom.js";
import { HttpError, postJson } from "./http.js";
import { gettext, interpolate } from "./i18n.js";
import { showNotice } from "./notice.js";
import { render } from "./render.js";
import { state } from "./state.js";

const TEXT = {
  add: gettext("Add label…"),
  remove: (name) => interpolate(gettext("Remove the label %(name)s"), { name }),
  none: gettext("No labels"),
  failed: gettext("The label could not be changed; try again."),
};

// Every label there is, from the page ({id, name, colour, text_colour}); admins manage them.
const catalogue = (() => {
  const node = document.getElementById("console-labels");
  try {
    return node ? JSON.parse(node.textContent) : [];
  } catch {
    return [];
  }
})();

let filterId = null; // the label the lists show, or null for every chat
const pending = new Set(); // conversation ids with a change in flight

const labelsOf = (conv) => conv.labels || [];

export const matchesLabelFilter = (conv) => filterId == null || labelsOf(conv).some((label) => label.id === filterId);

function chip(label, ...extra) {
  const node = h("span", { className: "label-chip", "data-label-id": label.id }, label.name, ...extra);
  node.style.backgroundColor = label.colour;
  node.style.color = label.text_colour;
  return node;
}

/** The chips of a conversation in a list item. */
export const labelChips = (conv) => labelsOf(conv).map((label) => chip(label));

const canEdit = (conv) => !!state.me && (state.me.is_supervisor || (!!conv.agent && conv.agent.id === state.me.id));

/** The open chat's labels in its header: chips with a remove button, and a picker for the others. */
export function renderLabels(conv) {
  const box = document.getElementById("chat-labels");
  if (!box) return;
  if (!conv) {
    redraw(box, "", () => box.replaceChildren());
    return;
  }
  const editable = canEdit(conv);
  const busy = pending.has(conv.id);
  redraw(box, JSON.stringify([conv.id, labelsOf(conv), editable, busy]), () => {
    const on = new Set(labelsOf(conv).map((label) => label.id));
    const chips = labelsOf(conv).map((label) =>
      editable
        ? chip(
            label,
            h(
              "button",
              { type: "button", className: "label-remove", "data-label-id": label.id, "aria-label": TEXT.remove(label.name), disabled: busy },
              "×",
            ),
          )
        : chip(label),
    );
    const rest = catalogue.filter((label) => !on.has(label.id));
    const picker =
      editable && rest.length
        ? h(
            "select",
            { className: "label-add form-select", "aria-label": TEXT.add, disabled: busy },
            h("option", { value: "" }, TEXT.add),
            rest.map((label) => h("option", { value: label.id }, label.name)),
          )
        : null;
    box.replaceChildren(...chips, picker || (chips.length ? "" : h("span", { className: "muted" }, TEXT.none)));
  });
}

async function change(conversationId, labelId, on) {
  if (pending.has(conversationId)) return;
  pending.add(conversationId);
  render();
  try {
    const url = root.dataset.labelsUrl.replace("/0/", `/${conversationId}/`);
    const data = await postJson(url, { label_id: labelId, on });
    const conv = state.conversations.get(conversationId);
    // The socket brings the same change; showing the answer now spares the wait.
    if (conv && data.conversation) state.conversations.set(conversationId, { ...conv, labels: data.conversation.labels });
  } catch (error) {
    showNotice(error instanceof HttpError ? error.message : TEXT.failed);
  } finally {
    pending.delete(conversationId);
    render();
  }
}

export function wireLabels() {
  const box = document.getElementById("chat-labels");
  box?.addEventListener("click", (event) => {
    const button = event.target.closest("button.label-remove");
    if (button && state.openId != null) change(state.openId, Number(button.dataset.labelId), false);
  });
  box?.addEventListener("change", (event) => {
    const select = event.target.closest("select.label-add");
    if (select && select.value && state.openId != null) change(state.openId, Number(select.value), true);
  });
  document.getElementById("label-filter")?.addEventListener("change", (event) => {
    filterId = event.target.value ? Number(event.target.value) : null;
    render();
  });
}
