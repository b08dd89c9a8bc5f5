/*
 * Composer checks (R10-R12): `composer.check` while the agent types, the warnings they
 * give, the flagged terms highlighted under the text and replaced from their suggestions.
 */
import { composerUnits, MAX_BODY, replyContext, setComposerText, splitReply, submitReply } from "./composer.js";
import { els, h, redraw } from "./dom.js";
import { unique, words } from "./format.js";
import { gettext, interpolate } from "./i18n.js";
import { send } from "./socket.js";
import { awaiting, RETRYABLE, retryDelay, state, threadOf } from "./state.js";

const CHECK_DEBOUNCE_MS = 300; // composer.check while the agent types

const CHECK_CACHE_SIZE = 30;

export function rememberCheck(c, body, result) {
  c.checks.delete(body);
  c.checks.set(body, result);
  if (c.checks.size > CHECK_CACHE_SIZE) c.checks.delete(c.checks.keys().next().value);
}

/**
 * What the checks say about `units`: `complete` once every unit has an answer, the
 * warnings as {unit, index, warning}, and the codes per unit (what `overridden` carries).
 */
export function composerVerdict(c, units) {
  let complete = true;
  const items = [];
  const perUnit = units.map((unit, index) => {
    const result = c.checks.get(unit);
    if (!result) {
      complete = false;
      return [];
    }
    for (const warning of result.warnings) items.push({ unit, index, warning, blocks: result.blocks });
    return unique(result.warnings.map((w) => w.code));
  });
  return { complete, items, perUnit, codes: unique(perUnit.flat()) };
}

export function scheduleCheck(id, delay = CHECK_DEBOUNCE_MS) {
  const c = threadOf(id).composer;
  clearTimeout(c.checkTimer);
  c.checkTimer = setTimeout(() => runChecks(id), delay);
}

/** Ask the server to check every unit of the open draft it has not checked yet. */
export function runChecks(id) {
  const ctx = replyContext();
  if (!ctx || ctx.id !== id || ctx.c.mode !== "reply" || !state.supports.check) return;
  for (const body of composerUnits(ctx.c, els.body.value)) {
    if (body.length > MAX_BODY || ctx.c.checks.has(body)) continue;
    requestCheck(id, body);
  }
}

export function requestCheck(id, body) {
  if (!state.supports.check || awaiting["composer.check"].some((e) => e.id === id && e.body === body)) return;
  if (send({ type: "composer.check", conversation_id: id, body })) awaiting["composer.check"].push({ id, body });
}

/** A check came back: finish what waited for it. */
export function checkArrived(id) {
  const ctx = replyContext();
  if (!ctx || ctx.id !== id) return;
  const verdict = composerVerdict(ctx.c, composerUnits(ctx.c, els.body.value));
  if (!verdict.complete) return;
  if (ctx.c.splitWhenChecked) splitReply();
  if (ctx.c.sendWhenChecked) submitReply();
}

export function checkRefused(entry, frame) {
  if (frame.code === "unknown_type") state.supports.check = false;
  if (!entry) return;
  if (RETRYABLE.has(frame.code) && state.supports.check) {
    setTimeout(() => runChecks(entry.id), retryDelay(frame));
    return;
  }
  // No warnings known for this text: the server checks it again when it is sent.
  rememberCheck(threadOf(entry.id).composer, entry.body, { warnings: [], blocks: [entry.body], unchecked: true });
  checkArrived(entry.id);
}

/**
 * Where the warnings' terms are in the composer's text, as [start, end) UTF-16 offsets.
 * A term's offsets count characters of the body that was checked; when that body is no
 * longer where it was (the agent kept typing), the term is looked for by its text.
 */
function termRanges(text, items) {
  const ranges = [];
  const units = new Map(); // checked body -> where it starts in `text`
  let from = 0;
  for (const { unit } of items) {
    if (units.has(unit)) continue;
    const at = text.indexOf(unit, from);
    units.set(unit, at);
    if (at !== -1) from = at + unit.length;
  }
  for (const item of items) {
    for (const hit of item.warning.terms || []) {
      const range = locateTerm(text, item.unit, units.get(item.unit), hit);
      if (range && !ranges.some(([s, e]) => range[0] < e && s < range[1])) {
        ranges.push([...range, item.warning.code, hit]);
      }
    }
  }
  return ranges.sort((a, b) => a[0] - b[0]);
}

function locateTerm(text, unit, unitAt, hit) {
  const term = String(hit.term || "");
  if (unitAt != null && unitAt !== -1 && Number.isInteger(hit.start) && Number.isInteger(hit.end)) {
    // Offsets count code points (the server's characters); JavaScript strings count UTF-16 units.
    const chars = Array.from(unit);
    const start = unitAt + chars.slice(0, hit.start).join("").length;
    const end = start + chars.slice(hit.start, hit.end).join("").length;
    if (!term || text.slice(start, end).toLowerCase() === term.toLowerCase()) return [start, end];
  }
  if (!term) return null;
  const escaped = term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const match = new RegExp(`(^|[^\\p{L}\\p{N}])(${escaped})(?![\\p{L}\\p{N}])`, "iu").exec(text);
  if (!match) return null;
  const start = match.index + match[1].length;
  return [start, start + match[2].length];
}

/**
 * What a term's suggestion offers: a replacement text, or removal. A suggestion in
 * parentheses is advice for the agent ("(remove it)", "(not appropriate for customers)"),
 * not words to put in the reply.
 */
function suggestionFix(suggestion) {
  const text = String(suggestion || "").trim();
  if (!text) return null;
  if (/^\(.*\)$/.test(text)) return /\bremove\b/i.test(text) ? { text: "", label: gettext("Remove it") } : null;
  return { text, label: interpolate(gettext("Replace with “%(text)s”"), { text }) };
}

/** The flagged word as the agent typed it (the term is the configured, lowercased one). */
function termText(unit, hit) {
  const chars = Array.from(unit);
  const typed = Number.isInteger(hit.start) ? chars.slice(hit.start, hit.end).join("") : "";
  return typed && typed.toLowerCase() === String(hit.term).toLowerCase() ? typed : hit.term;
}

/** R12: put the suggestion where the flagged term is, keeping a capital at the start. */
function replaceTerm(start, end, suggestion) {
  const ctx = replyContext();
  if (!ctx) return;
  const text = els.body.value;
  const original = text.slice(start, end);
  let before = text.slice(0, start);
  let after = text.slice(end);
  let replacement = suggestion;
  if (!replacement) {
    // Removing a word: no double space, no space before punctuation, a capital kept at a sentence start.
    if (/\s$/.test(before) || !before) after = after.replace(/^[ \t]+/, "");
    if (/^[,.!?;:]/.test(after)) before = before.replace(/[ \t]+$/, "");
    if (/^\p{Lu}/u.test(original) && (!before.trim() || /[.!?]\s*$/.test(before))) {
      after = after.replace(/^\p{Ll}/u, (letter) => letter.toUpperCase());
    }
  } else if (/^\p{Lu}/u.test(original) && /^\p{Ll}/u.test(replacement)) {
    replacement = replacement[0].toUpperCase() + replacement.slice(1);
  }
  setComposerText(ctx, before + replacement + after, before.length + replacement.length);
}

export function renderWarnings(c, units, items, verdict) {
  const armed = !!c.armed && items.length > 0;
  const sig = JSON.stringify([items.map((i) => [i.index, i.warning, i.blocks]), armed, c.split, units.length]);
  els.warnings.hidden = items.length === 0;
  els.warnings.classList.toggle("composer-warnings--armed", armed);
  els.composer.classList.toggle("composer--armed", armed);
  redraw(els.warnings, sig, () => {
    const several = c.split && units.length > 1;
    const prefix = (item) => (several ? interpolate(gettext("Block %(number)s: "), { number: item.index + 1 }) : "");
    const rows = items.map((item) => {
      const { warning } = item;
      const row = h("li", { className: `warning warning--${warning.code}`, title: warning.message || null });
      if (warning.code === "too_long") {
        const count = words(item.unit);
        const blocks = (item.blocks || []).filter((b) => b.trim()).length;
        row.append(
          h("span", { className: "warning-text" }, prefix(item) + interpolate(gettext("%(count)s words — split into blocks"), { count })),
          h("span", { className: "muted" }, ` ${gettext("customers read short blocks while you type the next (about 30 words each)")}`),
          blocks > 1
            ? h(
                "button",
                { type: "button", className: "btn btn-sm warning-action", "data-action": "split" },
                interpolate(gettext("Split into %(count)s blocks"), { count: blocks }),
                h("kbd", null, "Alt"),
                h("kbd", null, "S"),
              )
            : null,
        );
      } else if (warning.code === "slang" || warning.code === "blocked") {
        row.append(h("span", { className: "warning-text" }, `${prefix(item)}${warning.message || gettext("Check the wording.")}`));
        const terms = h("ul", { className: "warning-terms" });
        for (const hit of warning.terms || []) {
          const fix = suggestionFix(hit.suggestion);
          terms.append(
            h(
              "li",
              null,
              h("mark", { className: `hl hl--${warning.code}` }, termText(item.unit, hit)),
              fix
                ? h(
                    "button",
                    {
                      type: "button",
                      className: "btn btn-sm warning-action",
                      "data-action": "replace",
                      "data-term": hit.term,
                      "data-suggestion": fix.text,
                      "data-unit": item.unit,
                      "data-start": hit.start,
                      "data-end": hit.end,
                    },
                    fix.label,
                  )
                : hit.suggestion && h("span", { className: "muted" }, hit.suggestion.replace(/^\(|\)$/g, "")),
            ),
          );
        }
        row.append(terms);
      } else {
        row.append(h("span", { className: "warning-text" }, `${prefix(item)}${warning.message || warning.code}`));
      }
      return row;
    });
    const list = h("ul", { className: "warning-list" }, rows);
    const head = armed
      ? h(
          "p",
          { className: "warnings-armed" },
          h("strong", null, gettext("Press Enter again to send anyway")),
          ` ${gettext("— or fix it first. Supervisors see which warnings were overridden.")}`,
        )
      : null;
    els.warnings.replaceChildren(...[head, list].filter(Boolean));
  });
  if (!verdict.complete && items.length) els.warnings.dataset.stale = "";
  else delete els.warnings.dataset.stale;
}

/** The highlight layer under the transparent textarea: the flagged terms, marked (R12). */
export function renderBackdrop(text, items) {
  const ranges = els.body.disabled ? [] : termRanges(text, items);
  const sig = JSON.stringify([text, ranges]);
  redraw(els.backdrop, sig, () => {
    const parts = [];
    let at = 0;
    for (const [start, end, code] of ranges) {
      parts.push(text.slice(at, start), h("mark", { className: `hl hl--${code}` }, text.slice(start, end)));
      at = end;
    }
    // A trailing newline needs a character after it to take up its line, as in the textarea.
    parts.push(`${text.slice(at)}\u200b`);
    els.backdrop.replaceChildren(...parts);
  });
  // The textarea's scrollbar narrows its text; the layer must wrap at the same width.
  const scrollbar = Math.max(0, els.body.offsetWidth - els.body.clientWidth - 2);
  els.backdrop.style.paddingRight = `${10 + scrollbar}px`;
  els.backdrop.scrollTop = els.body.scrollTop;
}

/** The warnings' buttons: split the reply, replace a term. */
export function wireComposerChecks() {
  els.warnings.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    if (button.dataset.action === "split") {
      splitReply();
      return;
    }
    const { term, suggestion, unit, start, end } = button.dataset;
    const hit = { term, start: Number(start), end: Number(end) };
    const text = els.body.value;
    const range = locateTerm(text, unit, text.indexOf(unit), hit);
    if (range) replaceTerm(range[0], range[1], suggestion);
  });
}
