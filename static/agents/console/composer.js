/*
 * The composer: replies and private notes (R17), pending messages until acked, split
 * blocks (R10), the typing signal.
 */
import { closeCanned, openCanned, renderCannedPopup, searchCanned } from "./canned.js";
import { composerVerdict, rememberCheck, renderBackdrop, renderWarnings, requestCheck, runChecks, scheduleCheck } from "./composer-checks.js";
import { els, h, lockIcon, reconcile, redraw } from "./dom.js";
import { drafts } from "./drafts.js";
import { newClientId, unique, words } from "./format.js";
import { gettext, interpolate, ngettext } from "./i18n.js";
import { showNotice } from "./notice.js";
import { render } from "./render.js";
import { isConnected, send } from "./socket.js";
import { isMine, RETRYABLE, retryDelay, serverNow, state, threadOf } from "./state.js";

export const MAX_BODY = 4000;

const CHECK_WAIT_MS = 1500; // Send waits this long for a check before sending unchecked

const TYPING_EVERY_MS = 3000; // at most one `typing` frame per 3 s

// "/" at the very start of the composer opens the canned responses; the rest is the query.
export const SLASH_COMMAND = /^\/(\S{0,40})$/;

const PLACEHOLDER = {
  reply: gettext("Write a reply… (Enter sends, Shift+Enter new line, / for canned responses)"),
  note: gettext("Write a private note for colleagues… the customer never sees it"),
};

const MAX_RETRIES = 5; // server faults on one message; then it shows as not sent

export function messageFrame(id, pending) {
  const frame = { type: "message.send", conversation_id: id, client_id: pending.client_id, body: pending.body };
  if (pending.note) frame.note = true;
  if (pending.overridden && pending.overridden.length) frame.overridden = pending.overridden;
  if (pending.canned_id != null) frame.canned_id = pending.canned_id;
  return frame;
}

export function sendRefused(id, thread, clientId, frame) {
  const pending = thread.pending.get(clientId);
  if (frame.code === "composer_warning") return replyWarned(id, thread, pending, frame);
  if (frame.code === "internal_error") pending.faults = (pending.faults || 0) + 1;
  if (RETRYABLE.has(frame.code) && (pending.faults || 0) <= MAX_RETRIES) {
    // Still pending: resent here, or after a reconnect if the socket drops first.
    setTimeout(() => {
      if (thread.pending.has(clientId)) send(messageFrame(id, pending));
    }, retryDelay(frame));
    return;
  }
  thread.pending.delete(clientId);
  thread.failed.set(clientId, { ...pending, error: frame.message });
  if (frame.code === "not_owner" || frame.code === "conversation_ended") thread.closed = frame.code;
  showNotice(id === state.openId ? frame.message : interpolate(gettext("Chat #%(id)s: %(message)s"), { id, message: frame.message }));
}

/**
 * The server found composer warnings the agent had not chosen to override: nothing was
 * stored. The text goes back into the composer with the warnings shown prominently, so
 * the next Enter sends it anyway (with `overridden`) or the agent fixes it.
 */
function replyWarned(id, thread, pending, frame) {
  thread.pending.delete(pending.client_id);
  const c = thread.composer;
  const warnings = frame.warnings || [];
  rememberCheck(c, pending.body, { warnings, blocks: [pending.body] });
  // An error lists the warnings but not the suggested blocks: ask for them to offer the split.
  if (warnings.some((w) => w.code === "too_long")) requestCheck(id, pending.body);
  const current = id === state.openId ? els.body.value : drafts.load(id);
  const text = current.trim() ? `${current.replace(/\s+$/, "")}\n\n${pending.body}` : pending.body;
  if (id === state.openId) els.body.value = text;
  drafts.save(id, text);
  if (pending.block || current.trim()) c.split = true;
  if (pending.canned_id != null && !c.canned) c.canned = { id: pending.canned_id, shortcut: pending.canned_shortcut };
  c.armed = unique([...(c.armed || []), ...warnings.map((w) => w.code)]);
  if (id !== state.openId) showNotice(interpolate(gettext("Chat #%(id)s: a reply was not sent; it is back in that chat's composer."), { id }));
}

/** The messages the draft sends: one, or each block of a split draft. */
export function composerUnits(c, text) {
  const trimmed = text.trim();
  if (!trimmed) return [];
  if (!c.split) return [trimmed];
  return trimmed
    .split(/\n[ \t]*\n/)
    .map((block) => block.trim())
    .filter(Boolean);
}

/** The open chat, when this agent may reply in it: {id, conv, thread, c}. */
export function replyContext() {
  const id = state.openId;
  const conv = id == null ? null : state.conversations.get(id);
  if (!conv || !isMine(conv)) return null;
  const thread = threadOf(id);
  if (thread.closed) return null;
  return { id, conv, thread, c: thread.composer };
}

/**
 * Enter / Send. Notes go out as they are. A reply goes out once its checks are known:
 * with warnings, the first Enter only shows them prominently ("armed"); the next sends
 * anyway and tells the server which warnings were overridden. A split draft sends each
 * block as its own message, in order.
 */
export function submitReply({ unchecked = false } = {}) {
  const ctx = replyContext();
  if (!ctx) return;
  const { id, c } = ctx;
  const text = els.body.value;
  if (!text.trim()) return;
  c.sendWhenChecked = false;
  clearTimeout(c.waitTimer);
  if (c.mode === "note") {
    if (text.trim().length > MAX_BODY) return showNotice(interpolate(gettext("A note can be at most %(max)s characters."), { max: MAX_BODY }));
    postMessages(id, [{ body: text.trim(), note: true }]);
    return;
  }
  const units = composerUnits(c, text);
  if (units.some((unit) => unit.length > MAX_BODY)) {
    showNotice(interpolate(gettext("A message can be at most %(max)s characters."), { max: MAX_BODY }));
    return;
  }
  const verdict = composerVerdict(c, units);
  if (!verdict.complete && !unchecked && state.supports.check && isConnected()) {
    c.sendWhenChecked = true;
    runChecks(id);
    c.waitTimer = setTimeout(() => {
      if (c.sendWhenChecked && state.openId === id) submitReply({ unchecked: true });
    }, CHECK_WAIT_MS);
    render();
    return;
  }
  const codes = verdict.codes;
  if (codes.length && !(c.armed && codes.every((code) => c.armed.includes(code)))) {
    c.armed = codes;
    render();
    return;
  }
  postMessages(
    id,
    units.map((body, index) => ({
      body,
      overridden: verdict.perUnit[index],
      // The canned response is where the first block came from; the server measures the edits.
      canned_id: index === 0 && c.canned ? c.canned.id : null,
      canned_shortcut: index === 0 && c.canned ? c.canned.shortcut : null,
      block: units.length > 1,
    })),
  );
}

function postMessages(id, messages) {
  const thread = threadOf(id);
  for (const message of messages) {
    const pending = { ...message, client_id: newClientId(), created_at: new Date(serverNow()).toISOString() };
    thread.pending.set(pending.client_id, pending);
    send(messageFrame(id, pending)); // when offline it goes out with the resends after reconnecting
  }
  els.body.value = "";
  drafts.save(id, "");
  resetComposer(thread.composer);
  // The visitor's "is typing" ends with this message: the next keystroke signals afresh.
  thread.composer.typingSentAt = 0;
  closeCanned();
  state.scrollToEnd = true;
  render();
  els.body.focus();
}

function resetComposer(c) {
  c.split = false;
  c.canned = null;
  c.armed = null;
  c.sendWhenChecked = false;
  c.splitWhenChecked = false;
  c.shownItems = [];
  clearTimeout(c.waitTimer);
}

/** Set the composer's text as if the agent had typed it. */
export function setComposerText(ctx, text, caret = text.length) {
  els.body.value = text;
  drafts.save(ctx.id, text);
  ctx.c.armed = null;
  if (!text.trim()) resetComposer(ctx.c);
  els.body.focus();
  els.body.setSelectionRange(caret, caret);
  scheduleCheck(ctx.id, 0);
  render();
}

/** R10, Alt+S: replace a long draft with the server's blocks, each sent as its own message. */
export function splitReply() {
  const ctx = replyContext();
  if (!ctx || ctx.c.mode !== "reply") return;
  const { c } = ctx;
  c.splitWhenChecked = false;
  const units = composerUnits(c, els.body.value);
  const verdict = composerVerdict(c, units);
  if (!verdict.complete) {
    c.splitWhenChecked = true;
    runChecks(ctx.id);
    return;
  }
  if (!verdict.codes.includes("too_long")) return; // short enough already
  const blocks = units.flatMap((unit) => {
    const suggested = (c.checks.get(unit).blocks || []).map((b) => b.trim()).filter(Boolean);
    return verdict.perUnit[units.indexOf(unit)].includes("too_long") && suggested.length > 1 ? suggested : [unit];
  });
  if (blocks.length === units.length) {
    showNotice(gettext("There is no sentence boundary to split at; shorten the reply or send it anyway."), "info");
    return;
  }
  c.split = true;
  setComposerText(ctx, blocks.join("\n\n"));
}

function joinBlocks() {
  const ctx = replyContext();
  if (!ctx) return;
  const units = composerUnits(ctx.c, els.body.value);
  ctx.c.split = false;
  setComposerText(ctx, units.join(" "));
}

export function setMode(mode) {
  const ctx = replyContext();
  if (!ctx || ctx.c.mode === mode) return;
  ctx.c.mode = mode;
  ctx.c.armed = null;
  ctx.c.sendWhenChecked = false;
  closeCanned();
  if (mode === "reply") scheduleCheck(ctx.id, 0);
  render();
  els.body.focus();
}

function signalTyping(ctx) {
  const { c } = ctx;
  if (!state.supports.typing || c.mode !== "reply") return; // a note is no news for the visitor
  const now = Date.now();
  if (now - c.typingSentAt < TYPING_EVERY_MS) return;
  if (send({ type: "typing", conversation_id: ctx.id })) c.typingSentAt = now;
}

/** The agent typed in the composer. */
function composerInput() {
  const id = Number(els.body.dataset.conversationId);
  if (id) drafts.save(id, els.body.value);
  const ctx = replyContext();
  if (ctx && ctx.id === id) {
    const { c } = ctx;
    const text = els.body.value;
    c.armed = null;
    c.sendWhenChecked = false;
    c.splitWhenChecked = false;
    if (!text.trim()) resetComposer(c); // a cleared composer forgets its canned response and blocks
    const slash = c.mode === "reply" ? SLASH_COMMAND.exec(text) : null;
    if (slash) {
      openCanned(id, "slash");
      searchCanned(text);
    } else if (state.canned.open && state.canned.via === "slash") {
      closeCanned();
    }
    if (text.trim()) signalTyping(ctx);
    if (c.mode === "reply" && !slash) scheduleCheck(id);
  }
  render();
}

export function renderComposer(thread, mode) {
  const c = thread.composer;
  const replying = mode === "reply";
  const noting = c.mode === "note";
  els.composer.dataset.mode = c.mode;
  els.modeReply.setAttribute("aria-pressed", String(!noting));
  els.modeNote.setAttribute("aria-pressed", String(noting));
  els.modeReply.disabled = els.modeNote.disabled = !replying;
  els.cannedOpen.hidden = noting;
  els.cannedOpen.disabled = !replying;
  els.body.placeholder = PLACEHOLDER[c.mode];
  els.body.setAttribute("aria-label", noting ? gettext("Private note") : gettext("Reply"));

  const text = els.body.value;
  const units = replying && !noting ? composerUnits(c, text) : [];
  const verdict = composerVerdict(c, units);
  if (verdict.complete) c.shownItems = verdict.items;
  const items = verdict.complete ? verdict.items : c.shownItems;

  renderBlocks(c, units, verdict);
  renderWarnings(c, units, items, verdict);
  if (!els.composer.hidden) fitComposer();
  renderBackdrop(text, items);
  renderCannedPopup(replying && !noting);

  let label = gettext("Send");
  if (noting) label = gettext("Add note");
  else if (c.sendWhenChecked) label = gettext("Checking…");
  else if (c.armed) label = gettext("Send anyway");
  else if (units.length > 1) label = interpolate(gettext("Send %(count)s blocks"), { count: units.length });
  if (els.send.textContent !== label) els.send.textContent = label;

  let hint = null;
  if (noting) hint = [lockIcon(), " Private note — only agents see it"];
  else if (c.canned) hint = c.canned.shortcut ? interpolate(gettext("From canned response /%(shortcut)s"), { shortcut: c.canned.shortcut }) : gettext("From canned response");
  redraw(els.hint, JSON.stringify([c.mode, c.canned]), () => els.hint.replaceChildren(...[hint].flat().filter(Boolean)));
}

function renderBlocks(c, units, verdict) {
  const show = c.split && units.length > 1;
  els.blocks.hidden = !show;
  if (!show) return;
  els.blocksTitle.textContent = interpolate(gettext("Sends as %(count)s messages, in this order"), { count: units.length });
  const items = units.map((unit, index) => ({ unit, index, long: verdict.perUnit[index].includes("too_long") }));
  reconcile(els.blocksList, items, {
    key: (item) => String(item.index),
    sig: (item) => JSON.stringify([item.unit, item.long]),
    create: () => h("li", { className: "block" }),
    fill: (node, item) => {
      node.classList.toggle("block--long", item.long);
      node.replaceChildren(
        h("span", { className: "block-body" }, item.unit),
        h("span", { className: "block-meta" }, interpolate(ngettext("%(count)s word", "%(count)s words", words(item.unit)), { count: words(item.unit) })),
      );
    },
  });
}

/** The composer grows with its text, up to its CSS max-height; then it scrolls. */
function fitComposer() {
  if (els.body.dataset.fitFor === els.body.value) return;
  els.body.dataset.fitFor = els.body.value;
  els.body.style.height = "auto";
  els.body.style.height = `${els.body.scrollHeight + 2}px`;
}

export function updateCount() {
  const left = MAX_BODY - els.body.value.length;
  els.count.textContent = left <= 500 ? interpolate(ngettext("%(count)s character left", "%(count)s characters left", left), { count: left }) : "";
}

/** The composer's form, mode buttons and text area. */
export function wireComposer() {
  els.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    submitReply();
  });
  els.modeReply.addEventListener("click", () => setMode("reply"));
  els.modeNote.addEventListener("click", () => setMode("note"));
  els.blocksJoin.addEventListener("click", joinBlocks);
  els.body.addEventListener("input", composerInput);
  els.body.addEventListener("scroll", () => {
    els.backdrop.scrollTop = els.body.scrollTop;
  });
}
