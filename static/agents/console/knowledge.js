/*
 * The knowledge base in the console.
 *
 * R15: "Suggested articles" in the right-hand panel for the open chat, asked for (debounced)
 * when the chat opens and after each new visitor message; "Insert link" puts "Title: <url>"
 * at the composer's caret and counts the insertion. The fetches never block typing: the
 * composer is changed only by the agent's click.
 *
 * R21: "Draft article…" in the chat header: tick agent answers in the transcript, then
 * "Create draft" makes a draft article from them, linked to the chat.
 *
 * Everything from the server goes in as text; only http(s) links are ever inserted.
 */
import { replyContext, setComposerText } from "./composer.js";
import { els, h, redraw } from "./dom.js";
import { endpoint, postJson } from "./http.js";
import { gettext, interpolate, ngettext } from "./i18n.js";
import { showNotice } from "./notice.js";
import { render } from "./render.js";
import { state, threadOf } from "./state.js";

const SUGGEST_DEBOUNCE_MS = 400;
const QUESTION_SHOWN_CHARS = 140;

const $ = (id) => document.getElementById(id);

const ui = {
  section: $("kb-suggest"),
  body: $("kb-suggest-body"),
  draftOpen: $("kb-draft-open"),
  draftBar: $("kb-draft-bar"),
  draftCount: $("kb-draft-count"),
  draftCreate: $("kb-draft-create"),
  draftCancel: $("kb-draft-cancel"),
};

const kb = {
  // conversation id -> {loading, question: {id, body} | null, articles: [{id, title, url}], error}
  suggestions: new Map(),
  asked: new Map(), // conversation id -> the latest visitor seq suggestions were asked for
  scheduled: null, // {id, key} waiting for the debounce
  timer: null,
  picking: null, // conversation id while the agent ticks answers for a draft (R21)
  drafting: false,
};

const isWebAddress = (url) => /^https?:\/\//i.test(String(url || ""));

function latestVisitorSeq(thread) {
  let latest = 0;
  for (const message of thread.messages.values()) {
    if (message.sender === "visitor" && message.seq > latest) latest = message.seq;
  }
  return latest;
}

// --- R15: suggestions ---------------------------------------------------------------

function scheduleSuggest(id, key) {
  clearTimeout(kb.timer);
  kb.scheduled = { id, key };
  kb.timer = setTimeout(() => {
    kb.scheduled = null;
    fetchSuggestions(id, key);
  }, SUGGEST_DEBOUNCE_MS);
}

async function fetchSuggestions(id, key) {
  const url = endpoint("kbSuggestUrl");
  if (!url || !state.conversations.has(id)) return;
  kb.asked.set(id, key);
  kb.suggestions.set(id, { ...(kb.suggestions.get(id) || { articles: [], question: null }), loading: true, error: "" });
  renderSuggestionsFor(id);
  let next;
  try {
    const data = await postJson(url, { conversation_id: id });
    next = {
      loading: false,
      error: "",
      question: data.question || null,
      articles: (Array.isArray(data.articles) ? data.articles : []).filter((a) => a && typeof a.id === "number"),
    };
  } catch (error) {
    next = { ...(kb.suggestions.get(id) || { articles: [], question: null }), loading: false, error: error.message };
  }
  if (kb.asked.get(id) !== key) return; // a newer question was asked meanwhile
  kb.suggestions.set(id, next);
  renderSuggestionsFor(id);
}

function renderSuggestionsFor(id) {
  if (state.openId === id) renderSuggestions(state.conversations.get(id));
}

const clip = (text) => (text.length > QUESTION_SHOWN_CHARS ? `${text.slice(0, QUESTION_SHOWN_CHARS - 1)}…` : text);

function suggestionContent(s, canInsert) {
  if (!s || (s.loading && !s.articles.length && !s.question)) {
    return [h("p", { className: "muted kb-status" }, gettext("Looking for articles…"))];
  }
  const nodes = [];
  if (s.error) nodes.push(h("p", { className: "form-error" }, interpolate(gettext("Suggestions could not be loaded: %(error)s"), { error: s.error })));
  if (!s.question) {
    if (!s.error) nodes.push(h("p", { className: "muted kb-status" }, gettext("Suggestions appear when the customer asks something.")));
    return nodes;
  }
  nodes.push(h("p", { className: "muted kb-question" }, interpolate(gettext("For “%(question)s”"), { question: clip(String(s.question.body || "")) })));
  if (!s.articles.length) {
    nodes.push(
      h("p", { className: "muted kb-status" }, gettext("No article answers this yet. Once you have answered, “Draft article…” turns the answer into one.")),
    );
    return nodes;
  }
  nodes.push(
    h(
      "ul",
      { className: "kb-articles", id: "kb-articles" },
      s.articles.map((article) =>
        h(
          "li",
          { className: "kb-article", "data-article-id": article.id },
          h("span", { className: "kb-article-title" }, String(article.title || gettext("Untitled"))),
          h(
            "button",
            {
              type: "button",
              className: "btn btn-sm kb-insert",
              "data-article-id": article.id,
              disabled: !canInsert,
              title: canInsert ? gettext("Insert “Title: link” at the cursor in your reply") : gettext("Claim the chat to insert links"),
            },
            gettext("Insert link"),
          ),
        ),
      ),
    ),
  );
  return nodes;
}

function renderSuggestions(conv) {
  if (!conv) return;
  const s = kb.suggestions.get(conv.id);
  const ctx = replyContext();
  const canInsert = !!ctx && ctx.id === conv.id;
  redraw(ui.body, JSON.stringify([conv.id, s || null, canInsert]), () =>
    ui.body.replaceChildren(...suggestionContent(s, canInsert)),
  );
  ui.body.setAttribute("aria-busy", String(!!(s && s.loading)));
}

function insertArticle(articleId) {
  const ctx = replyContext();
  if (!ctx) return;
  const s = kb.suggestions.get(ctx.id);
  const article = s && s.articles.find((a) => a.id === articleId);
  if (!article) return;
  if (!isWebAddress(article.url)) return showNotice(gettext("This article has no link to insert."));
  const text = `${article.title}: ${article.url}`;
  const value = els.body.value;
  const start = Math.min(els.body.selectionStart ?? value.length, value.length);
  const end = Math.max(start, Math.min(els.body.selectionEnd ?? start, value.length));
  const before = value.slice(0, start);
  const after = value.slice(end);
  const inserted = `${before && !/\s$/.test(before) ? " " : ""}${text}${after && !/^\s/.test(after) ? " " : ""}`;
  setComposerText(ctx, before + inserted + after, start + inserted.length);
  const url = endpoint("kbInsertUrl");
  if (!url) return;
  // Counted after the fact: the agent never waits for the server to use a link.
  postJson(url, { conversation_id: ctx.id, article_id: article.id }).catch((error) =>
    showNotice(interpolate(gettext("The link is in your reply, but the insertion was not counted: %(error)s"), { error: error.message }), "info"),
  );
}

// --- R21: a draft article from picked answers --------------------------------------------

function pickedSeqs() {
  return Array.from(els.transcript.querySelectorAll("li.msg input.msg-pick:checked"), (input) =>
    Number(input.closest("li.msg").dataset.seq),
  );
}

function stopPicking() {
  kb.picking = null;
  for (const input of els.transcript.querySelectorAll("input.msg-pick:checked")) input.checked = false;
}

function togglePicking() {
  if (state.openId == null) return;
  if (kb.picking === state.openId) stopPicking();
  else kb.picking = state.openId;
  render();
  if (kb.picking != null) {
    const first = els.transcript.querySelector("input.msg-pick");
    if (first) first.focus();
  }
}

async function createDraft() {
  const id = kb.picking;
  const url = endpoint("kbDraftUrl");
  if (id == null || kb.drafting || !url) return;
  const thread = threadOf(id);
  const messages = pickedSeqs()
    .map((seq) => thread.messages.get(seq))
    .filter(Boolean);
  if (!messages.length) return;
  const ids = messages.map((message) => message.id).filter((value) => Number.isInteger(value));
  if (ids.length !== messages.length) {
    // The draft endpoint names messages by database id; the socket's MESSAGE has only `seq`.
    showNotice(gettext("The server does not tell the console the ids of messages, so the picked answers cannot be sent: drafting needs a server update (R21). Please report it."));
    return;
  }
  kb.drafting = true;
  render();
  try {
    const data = await postJson(url, { conversation_id: id, message_ids: ids });
    if (kb.picking === id) stopPicking();
    showNotice(interpolate(gettext("Draft article created: “%(title)s”."), { title: data.title || gettext("Untitled") }), "success", {
      href: data.edit_url,
      text: gettext("Edit the draft"),
    });
  } catch (error) {
    showNotice(interpolate(gettext("The draft could not be created: %(error)s"), { error: error.message }));
  } finally {
    kb.drafting = false;
    render();
  }
}

function renderDraft(conv, thread) {
  if (kb.picking != null && (!conv || kb.picking !== conv.id)) stopPicking(); // another chat opened
  const picking = !!conv && kb.picking === conv.id;
  els.transcript.classList.toggle("is-picking", picking);
  ui.draftBar.hidden = !picking;
  if (!conv) {
    ui.draftOpen.hidden = true;
    return;
  }
  const answers = Array.from(thread.messages.values()).some((message) => message.sender === "agent");
  ui.draftOpen.hidden = !answers && !picking;
  ui.draftOpen.setAttribute("aria-pressed", String(picking));
  if (!picking) return;
  const count = pickedSeqs().length;
  ui.draftCount.textContent = count
    ? interpolate(ngettext("%(count)s answer picked for the article.", "%(count)s answers picked for the article.", count), { count })
    : gettext("Tick the agent answers to turn into an article.");
  ui.draftCreate.disabled = !count || kb.drafting;
  ui.draftCreate.textContent = kb.drafting ? gettext("Creating…") : gettext("Create draft");
}

// --- Hooks ------------------------------------------------------------------------------

/** Called from renderChat(): the panel's suggestions and the draft picking for `conv` (or none). */
export function renderKnowledge(conv) {
  ui.section.hidden = !conv;
  renderDraft(conv, conv ? threadOf(conv.id) : null);
  if (!conv) {
    clearTimeout(kb.timer);
    kb.scheduled = null;
    return;
  }
  const key = latestVisitorSeq(threadOf(conv.id));
  const scheduled = kb.scheduled && kb.scheduled.id === conv.id && kb.scheduled.key === key;
  if (kb.asked.get(conv.id) !== key && !scheduled) scheduleSuggest(conv.id, key);
  renderSuggestions(conv);
}

/** The panel's "Insert link" buttons, the draft button, bar and transcript checkboxes. */
export function wireKnowledge() {
  ui.body.addEventListener("click", (event) => {
    const button = event.target.closest("button.kb-insert");
    if (button && !button.disabled) insertArticle(Number(button.dataset.articleId));
  });
  // Keep the composer's caret where it was: a mouse click on the button must not move it.
  ui.body.addEventListener("mousedown", (event) => {
    if (event.target.closest("button.kb-insert")) event.preventDefault();
  });
  ui.draftOpen.addEventListener("click", togglePicking);
  ui.draftCancel.addEventListener("click", () => {
    stopPicking();
    render();
  });
  ui.draftCreate.addEventListener("click", createDraft);
  els.transcript.addEventListener("change", (event) => {
    if (event.target.matches("input.msg-pick")) render();
  });
}
