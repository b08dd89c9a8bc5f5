/*
 * R20, R22: "Log feedback" from the open chat in two keystrokes: Alt+F opens the form with
 * the summary focused (the quote is prefilled from the text selected in the transcript,
 * or the customer's latest message), Enter logs it. While the summary is typed, similar
 * open items are offered: "Add mention" counts this chat on one of them instead of
 * logging a duplicate. The form says whether this is a prospect (→ CRM) or a customer
 * (→ product backlog).
 */
import { els, h } from "./dom.js";
import { visitorKind } from "./format.js";
import { endpoint, postJson } from "./http.js";
import { gettext, interpolate } from "./i18n.js";
import { showNotice } from "./notice.js";
import { state, threadOf } from "./state.js";

const SIMILAR_DEBOUNCE_MS = 300;
const SIMILAR_MIN_CHARS = 3;

const KIND_LABEL = {
  feature: gettext("Feature request"), complaint: gettext("Complaint"), bug: gettext("Bug"), policy_gap: gettext("Policy gap"),
};
const SOURCE_LABEL = { prospect: gettext("Prospect"), customer: gettext("Customer") };
const ROUTE = {
  prospect: gettext("A prospect (visitor): this goes to the CRM."),
  customer: gettext("A customer: this goes to the product backlog."),
};

const $ = (id) => document.getElementById(id);

const ui = {
  open: $("feedback-open"),
  dialog: $("feedback-dialog"),
  form: $("feedback-form"),
  who: $("feedback-who"),
  route: $("feedback-route"),
  kind: $("feedback-kind"),
  summary: $("feedback-summary"),
  similar: $("feedback-similar"),
  quote: $("feedback-quote"),
  error: $("feedback-error"),
  submit: $("feedback-submit"),
};

const fb = { conversationId: null, timer: null, asked: "", items: [], busy: false };

/** The text selected in the transcript, else the customer's latest message. */
function quoteFor(id) {
  const selection = window.getSelection();
  if (selection && !selection.isCollapsed && els.transcript.contains(selection.anchorNode)) {
    const text = selection.toString().trim();
    if (text) return text;
  }
  const visitor = Array.from(threadOf(id).messages.values())
    .filter((message) => message.sender === "visitor")
    .sort((a, b) => b.seq - a.seq)[0];
  return visitor ? visitor.body : "";
}

export function openFeedback() {
  const conv = state.openId == null ? null : state.conversations.get(state.openId);
  if (!conv || ui.dialog.open) return;
  const kind = visitorKind(conv);
  fb.conversationId = conv.id;
  fb.items = [];
  fb.asked = "";
  fb.busy = false;
  clearTimeout(fb.timer);
  ui.who.replaceChildren(
    kind ? h("span", { className: `kind-badge kind--${kind}`, id: "feedback-source" }, SOURCE_LABEL[kind]) : "",
  );
  ui.route.textContent = ROUTE[kind] || "";
  ui.route.hidden = !kind;
  ui.kind.value = "feature";
  ui.summary.value = "";
  ui.quote.value = quoteFor(conv.id);
  ui.error.hidden = true;
  setBusy(false);
  renderSimilar();
  ui.dialog.showModal();
  ui.summary.focus();
}

function setBusy(busy) {
  fb.busy = busy;
  ui.submit.disabled = busy;
  ui.submit.textContent = busy ? gettext("Logging…") : gettext("Log as new");
  for (const button of ui.similar.querySelectorAll("button")) button.disabled = busy;
}

function scheduleSimilar() {
  clearTimeout(fb.timer);
  const text = ui.summary.value.trim();
  if (text.length < SIMILAR_MIN_CHARS) {
    fb.asked = "";
    fb.items = [];
    renderSimilar();
    return;
  }
  fb.timer = setTimeout(() => fetchSimilar(text), SIMILAR_DEBOUNCE_MS);
}

async function fetchSimilar(text) {
  const url = endpoint("feedbackSimilarUrl");
  if (!url || !ui.dialog.open) return;
  fb.asked = text;
  try {
    const data = await postJson(url, { text });
    if (fb.asked !== text || !ui.dialog.open) return; // the summary changed meanwhile
    fb.items = Array.isArray(data.items) ? data.items.filter((item) => item && typeof item.id === "number") : [];
  } catch {
    if (fb.asked !== text) return;
    fb.items = []; // offering merges is a help; logging still works without it
  }
  renderSimilar();
}

function renderSimilar() {
  ui.similar.hidden = !fb.items.length;
  if (!fb.items.length) {
    ui.similar.replaceChildren();
    return;
  }
  ui.similar.replaceChildren(
    h("p", { className: "feedback-similar-head" }, gettext("Similar open items — add this chat to one instead of logging a duplicate:")),
    h(
      "ul",
      { className: "feedback-similar-list" },
      fb.items.map((item) =>
        h(
          "li",
          { className: "feedback-similar-item", "data-item-id": item.id },
          h(
            "div",
            { className: "feedback-similar-text" },
            h("span", { className: "feedback-similar-summary" }, String(item.summary || "")),
            h(
              "span",
              { className: "muted feedback-similar-meta" },
              [KIND_LABEL[item.kind] || item.kind, SOURCE_LABEL[item.source] || item.source, item.status].filter(Boolean).join(" · "),
            ),
          ),
          h("button", { type: "button", className: "btn btn-sm", "data-merge": item.id, disabled: fb.busy }, gettext("Add mention")),
        ),
      ),
    ),
  );
}

async function logFeedback(mergeInto) {
  const url = endpoint("feedbackLogUrl");
  if (fb.busy || fb.conversationId == null || !url) return;
  const body = {
    conversation_id: fb.conversationId,
    kind: ui.kind.value,
    summary: ui.summary.value.trim(),
    quote: ui.quote.value.trim(),
  };
  if (mergeInto != null) body.merge_into = mergeInto;
  else if (!body.summary) {
    ui.summary.focus();
    return;
  }
  ui.error.hidden = true;
  setBusy(true);
  try {
    const data = await postJson(url, body);
    const item = data.item || {};
    if (ui.dialog.open) ui.dialog.close();
    const what = KIND_LABEL[item.kind] || gettext("Feedback");
    const logged = item.source === "customer"
      ? gettext("%(what)s logged: “%(summary)s” — customer, for the product backlog.")
      : gettext("%(what)s logged: “%(summary)s” — prospect, for the CRM.");
    showNotice(
      interpolate(mergeInto != null ? gettext("Added this chat as a mention of “%(summary)s” (%(what)s).") : logged,
        { summary: item.summary, what }),
      "success",
    );
  } catch (error) {
    ui.error.textContent = error.message;
    ui.error.hidden = false;
  } finally {
    setBusy(false);
  }
}

/** Called from renderChat(): the header's "Log feedback" button. */
export function renderFeedback(conv) {
  ui.open.hidden = !conv;
}

/** Alt+F (in keyboard.js) and the header button open the form; its buttons. */
export function wireFeedback() {
  ui.open.addEventListener("click", openFeedback);
  ui.summary.addEventListener("input", scheduleSimilar);
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    logFeedback(null);
  });
  ui.similar.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-merge]");
    if (button && !button.disabled) logFeedback(Number(button.dataset.merge));
  });
  ui.dialog.addEventListener("close", () => {
    clearTimeout(fb.timer);
    fb.asked = "";
  });
}
