/*
 * The right-hand customer panel: who this is (R22), the follow-up mark (R16), the facts,
 * the pages the visitor saw and their other conversations (`visitor.details`, asked for
 * each time a chat is opened). Everything from the server goes in as text.
 */
import { statusText } from "./chat.js";
import { els, h, redraw } from "./dom.js";
import { formatDateTime, parseTime, topicName, visitorKind } from "./format.js";
import { gettext } from "./i18n.js";
import { showNotice } from "./notice.js";
import { send } from "./socket.js";
import { awaiting, state } from "./state.js";

const STATUS_WORD = { queued: gettext("Queued"), active: gettext("Active"), ended: gettext("Ended") };

/** Ask for the panel's pages and past conversations of chat `id` (again: they change). */
export function requestVisitorDetails(id) {
  if (!state.supports.details || awaiting["visitor.details"].includes(id)) return;
  if (send({ type: "visitor.details", conversation_id: id })) awaiting["visitor.details"].push(id);
}

export function visitorDetailsArrived(frame) {
  const id = frame.conversation_id;
  const index = awaiting["visitor.details"].indexOf(id);
  if (index !== -1) awaiting["visitor.details"].splice(index, 1);
  if (!state.conversations.has(id)) return; // forgotten meanwhile
  state.details.set(id, {
    recent_pages: Array.isArray(frame.recent_pages) ? frame.recent_pages : [],
    past_conversations: Array.isArray(frame.past_conversations) ? frame.past_conversations : [],
  });
}

export function visitorDetailsRefused(id, frame) {
  if (frame.code === "unknown_type") state.supports.details = false;
  if (id == null || !state.conversations.has(id)) return;
  if (frame.code === "not_found") return showNotice(frame.message || gettext("This chat is no longer available."));
  state.details.set(id, { error: frame.message || gettext("The visitor's history could not be loaded.") });
}

const ratingText = (rating) => (rating ? `★ ${rating}/5` : "");

/** Only web addresses become links: a `javascript:` URL in an href would run when clicked. */
const isWebAddress = (url) => /^https?:\/\//i.test(String(url || ""));

function pageItem(page) {
  const label = page.title || page.url || gettext("Untitled page");
  const at = h("time", { className: "muted", datetime: page.at }, formatDateTime(page.at));
  const link = isWebAddress(page.url)
    ? h("a", { href: page.url, target: "_blank", rel: "noopener noreferrer", title: page.url }, label)
    : h("span", null, label);
  return h("li", { className: "visited-page" }, link, " ", at);
}

function pastItem(conv) {
  return h(
    "li",
    { className: "past-conv", "data-conversation-id": conv.id },
    h(
      "div",
      { className: "past-conv-head" },
      h("time", { datetime: conv.created_at }, formatDateTime(conv.created_at)),
      " · ",
      h("span", { className: "past-conv-topic" }, topicName(conv)),
      " · ",
      h("span", { className: `past-conv-status past-conv-status--${conv.status}` }, STATUS_WORD[conv.status] || conv.status),
      conv.rating ? h("span", { className: "rating", title: gettext("The visitor's rating (R19)") }, ratingText(conv.rating)) : null,
    ),
    h("div", { className: "past-conv-preview muted" }, conv.preview || "…"),
  );
}

/** "Pages visited" and "Past conversations", or where they stand while they load. */
function historySections(details) {
  if (!state.supports.details) return [];
  if (!details) return [h("p", { className: "muted customer-loading" }, gettext("Loading the visitor's history…"))];
  if (details.error) return [h("p", { className: "form-error" }, details.error)];
  const pages = [...details.recent_pages].sort((a, b) => (parseTime(b.at) || 0) - (parseTime(a.at) || 0));
  return [
    h("h3", { className: "panel-subheading" }, gettext("Pages visited")),
    pages.length
      ? h("ol", { className: "visited-pages", id: "visited-pages" }, pages.map(pageItem))
      : h("p", { className: "muted" }, gettext("No pages recorded.")),
    h("h3", { className: "panel-subheading" }, gettext("Past conversations")),
    details.past_conversations.length
      ? h("ol", { className: "past-convs", id: "past-conversations" }, details.past_conversations.map(pastItem))
      : h("p", { className: "muted" }, gettext("No other conversations.")),
  ];
}

export function renderCustomer(conv) {
  if (!conv) {
    redraw(els.customer, "none", () => els.customer.replaceChildren(h("p", { className: "muted" }, gettext("No chat open."))));
    return;
  }
  const visitor = conv.visitor || {};
  const kind = visitorKind(conv);
  const rows = [
    [gettext("Visitor"), visitor.name || (visitor.email ? "" : gettext("Anonymous visitor"))],
    [gettext("Email"), visitor.email],
    [gettext("Topic"), topicName(conv)],
    [gettext("Team"), conv.team && conv.team.name],
    [gettext("Started"), formatDateTime(conv.created_at)],
    [gettext("Status"), statusText(conv)],
    [gettext("Rating"), ratingText(conv.rating)],
    [gettext("Chat"), `#${conv.id}`],
  ].filter(([, value]) => value);
  // R22: what a good outcome is depends on who this is.
  const aim =
    kind === "customer" ? gettext("A customer: give the correct answer.")
    : kind === "prospect" ? gettext("A prospect: aim for a sign-up, a demo, or at least an email.")
    : null;
  const details = state.details.get(conv.id);
  const sig = JSON.stringify([rows, kind, conv.needs_follow_up, conv.is_offline_message, details, state.supports.details]);
  redraw(els.customer, sig, () =>
    els.customer.replaceChildren(
      ...[
        kind
          ? h(
              "div",
              { className: `kind-card kind-card--${kind}` },
              h("span", { className: `kind-badge kind--${kind}` }, kind === "customer" ? gettext("Customer") : gettext("Prospect")),
              h("p", null, aim),
            )
          : null,
        conv.needs_follow_up
          ? h("p", { className: "follow-up-note" }, gettext("Needs follow-up: the answer is owed by email (R16)."))
          : null,
        conv.is_offline_message
          ? h("p", { className: "offline-note" }, gettext("Left a message while nobody was online (R3): answer by email if they have gone."))
          : null,
        h("dl", { className: "facts" }, rows.map(([label, value]) => [h("dt", null, label), h("dd", null, value)])),
        ...historySections(details),
      ].filter(Boolean),
    ),
  );
}
