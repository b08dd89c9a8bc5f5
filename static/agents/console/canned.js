/*
 * Canned responses (R13, R14): the popup ("/" or the Canned button), search, insert, and
 * “Save as canned” from a sent reply.
 */
import { replyContext, setComposerText, SLASH_COMMAND } from "./composer.js";
import { els, h, reconcile } from "./dom.js";
import { gettext } from "./i18n.js";
import { render } from "./render.js";
import { send } from "./socket.js";
import { awaiting, RETRYABLE, retryDelay, state } from "./state.js";

const SEARCH_DEBOUNCE_MS = 120;

const SCOPE_TEXT = { team: gettext("Team"), personal: gettext("Personal") };

export function openCanned(id, via) {
  const s = state.canned;
  if (!s.open || s.via !== via || s.conversationId !== id) {
    Object.assign(s, { open: true, via, conversationId: id, query: null, results: [], index: 0, error: "" });
  }
  if (!state.supports.canned) s.error = gettext("Canned responses are not available on this server yet.");
}

export function closeCanned() {
  const s = state.canned;
  clearTimeout(s.timer);
  Object.assign(s, { open: false, query: null, results: [], index: 0, loading: false, error: "" });
}

/**
 * `query` is what the composer holds after "/" opened the list ("/ref", as in the
 * protocol's example), or the words typed in the search box.
 */
export function searchCanned(query) {
  const s = state.canned;
  if (!state.supports.canned || query === s.query) return;
  s.query = query;
  s.loading = true;
  clearTimeout(s.timer);
  s.timer = setTimeout(() => {
    const frame = { type: "canned.search", conversation_id: s.conversationId, query };
    if (send(frame)) {
      awaiting["canned.search"].push({ id: s.conversationId, query });
    } else {
      s.loading = false;
      s.error = gettext("Not connected.");
      render();
    }
  }, SEARCH_DEBOUNCE_MS);
}

export function searchRefused(entry, frame) {
  const s = state.canned;
  if (frame.code === "unknown_type") state.supports.canned = false;
  if (!entry || entry.query !== s.query) return;
  s.loading = false;
  s.error =
    frame.code === "unknown_type" ? gettext("Canned responses are not available on this server yet.")
    : frame.message || gettext("The search failed.");
  if (RETRYABLE.has(frame.code)) {
    s.query = null;
    setTimeout(() => s.open && searchCanned(entry.query), retryDelay(frame));
  }
}

export function moveCanned(step) {
  const s = state.canned;
  if (!s.results.length) return;
  s.index = (s.index + step + s.results.length) % s.results.length;
  render();
}

/** Insert a canned response's rendered body: in place of "/query", else at the caret. */
export function insertCanned(result) {
  const ctx = replyContext();
  if (!ctx || !result) return;
  const text = els.body.value;
  let next = result.body;
  let caret = next.length;
  if (state.canned.via !== "slash" && text.trim() && !SLASH_COMMAND.test(text)) {
    const start = els.body.selectionStart ?? text.length;
    const end = els.body.selectionEnd ?? text.length;
    next = text.slice(0, start) + result.body + text.slice(end);
    caret = start + result.body.length;
  }
  closeCanned();
  ctx.c.split = false;
  setComposerText(ctx, next, caret);
  ctx.c.canned = { id: result.id, shortcut: result.shortcut };
  render();
}

/** "Save as canned" on a sent reply: its text, with the names turned back into placeholders. */
export function openSaveCanned(message) {
  const conv = state.conversations.get(message.conversation_id) || {};
  let body = message.body;
  const swap = (name, placeholder) => {
    if (!name) return;
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    body = body.replace(new RegExp(`(?<![\\p{L}\\p{N}])${escaped}(?![\\p{L}\\p{N}])`, "gu"), placeholder);
  };
  swap(conv.visitor && conv.visitor.name, "{visitor.name}");
  swap(state.me && state.me.name ? state.me.name.split(" ")[0] : "", "{agent.first_name}");
  const title = message.body.split(/\s+/).slice(0, 6).join(" ").replace(/[.,!?;:]+$/, "");
  els.cannedTitle.value = title.length > 60 ? `${title.slice(0, 57)}…` : title;
  els.cannedShortcut.value = slugify(title);
  els.cannedShortcut.dataset.edited = "";
  els.cannedBody.value = body;
  els.cannedScope.replaceChildren(
    h("option", { value: "" }, gettext("Only me (personal)")),
    ...((state.me && state.me.teams) || []).map((team) => h("option", { value: team.id }, `Team: ${team.name}`)),
  );
  showCannedError("");
  state.savingCanned = null;
  render();
  els.cannedDialog.showModal();
  els.cannedTitle.select();
}

const slugify = (text) =>
  text
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .split("-")
    .slice(0, 3)
    .join("-")
    .slice(0, 40);

function submitSaveCanned() {
  if (state.savingCanned) return;
  const scope = els.cannedScope.value;
  const frame = {
    type: "canned.save",
    title: els.cannedTitle.value.trim(),
    shortcut: els.cannedShortcut.value.trim().replace(/^\/+/, ""),
    body: els.cannedBody.value.trim(),
    team_id: scope ? Number(scope) : null,
  };
  if (!frame.title || !frame.shortcut || !frame.body) return;
  if (!send(frame)) return showCannedError(gettext("Not connected; try again once the console has reconnected."));
  awaiting["canned.save"].push(frame.shortcut);
  state.savingCanned = frame;
  showCannedError("");
  render();
}

export function showCannedError(text) {
  els.cannedError.textContent = text;
  els.cannedError.hidden = !text;
}

export function renderCannedPopup(allowed) {
  const s = state.canned;
  const show = allowed && s.open && s.conversationId === state.openId;
  els.cannedPopup.hidden = !show;
  els.cannedOpen.setAttribute("aria-expanded", String(show));
  if (!show) return;
  els.cannedSearchRow.hidden = s.via !== "button";
  els.cannedPopup.dataset.via = s.via;
  reconcile(els.cannedList, s.results, {
    key: (result) => String(result.id),
    sig: (result) => JSON.stringify([result, s.results[s.index] === result]),
    create: (result) => h("li", { role: "option", id: `canned-option-${result.id}`, className: "canned-item" }),
    fill: (node, result) => {
      const selected = s.results[s.index] === result;
      node.setAttribute("aria-selected", String(selected));
      node.replaceChildren(
        h(
          "div",
          { className: "canned-item-head" },
          h("span", { className: "canned-shortcut" }, `/${result.shortcut}`),
          h("span", { className: "canned-title" }, result.title),
          h("span", { className: `tag tag--${result.scope}` }, SCOPE_TEXT[result.scope] || result.scope),
        ),
        h("div", { className: "canned-body" }, result.body),
      );
    },
  });
  const selected = els.cannedList.querySelector("[aria-selected=true]");
  if (selected) {
    selected.scrollIntoView({ block: "nearest" });
    els.cannedSearch.setAttribute("aria-activedescendant", selected.id);
  } else {
    els.cannedSearch.removeAttribute("aria-activedescendant");
  }
  let empty = "";
  if (s.error) empty = s.error;
  else if (s.loading && !s.results.length) empty = gettext("Searching…");
  else if (!s.results.length && s.query != null) {
    empty = s.query.replace(/^\//, "").trim()
      ? gettext("No canned response matches.")
      : gettext("No canned responses yet. Hover a good reply of yours and pick “Save as canned”.");
  }
  els.cannedEmpty.textContent = empty;
  els.cannedEmpty.hidden = !empty;
}

/** The popup, its search box and list, and the save dialog. */
export function wireCanned() {
  els.cannedOpen.addEventListener("click", () => {
    const ctx = replyContext();
    if (!ctx) return;
    if (state.canned.open && state.canned.via === "button") {
      closeCanned();
      render();
      els.body.focus();
      return;
    }
    openCanned(ctx.id, "button");
    els.cannedSearch.value = "";
    searchCanned("");
    render();
    els.cannedSearch.focus();
  });
  els.cannedSearch.addEventListener("input", () => {
    searchCanned(els.cannedSearch.value.trim());
    render();
  });
  els.cannedSearch.addEventListener("keydown", (event) => {
    const s = state.canned;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      moveCanned(event.key === "ArrowDown" ? 1 : -1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (s.results.length) insertCanned(s.results[s.index]);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      closeCanned();
      render();
      els.body.focus();
    }
  });
  // Pointer picks keep the focus in the composer (mousedown would move it to the list).
  els.cannedList.addEventListener("mousedown", (event) => event.preventDefault());
  els.cannedList.addEventListener("click", (event) => {
    const item = event.target.closest("li.canned-item");
    if (!item) return;
    insertCanned(state.canned.results.find((r) => String(r.id) === item.dataset.key));
  });
  document.addEventListener("mousedown", (event) => {
    if (!state.canned.open || els.cannedPopup.contains(event.target) || event.target === els.cannedOpen) return;
    if (event.target === els.body && state.canned.via === "slash") return;
    closeCanned();
    render();
  });
  els.cannedForm.addEventListener("submit", (event) => {
    event.preventDefault();
    submitSaveCanned();
  });
  els.cannedTitle.addEventListener("input", () => {
    if (!els.cannedShortcut.dataset.edited) els.cannedShortcut.value = slugify(els.cannedTitle.value);
  });
  els.cannedShortcut.addEventListener("input", () => {
    els.cannedShortcut.dataset.edited = "1";
  });
}
