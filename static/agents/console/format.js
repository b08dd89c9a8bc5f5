/*
 * Pure helpers: times from the server, how they read, names of a conversation's people.
 */
import { gettext, interpolate, language } from "./i18n.js";

/** Milliseconds since the epoch of a server ISO 8601 time (microseconds allowed). */
export function parseTime(iso) {
  return iso ? Date.parse(String(iso).replace(/(\.\d{3})\d+/, "$1")) : NaN;
}

export function waitedSeconds(since, now) {
  const start = parseTime(since);
  return Number.isNaN(start) ? 0 : Math.max(0, Math.floor((now - start) / 1000));
}

export function formatWait(seconds) {
  const hours = Math.floor(seconds / 3600);
  const mm = String(Math.floor((seconds % 3600) / 60)).padStart(2, "0");
  const ss = String(seconds % 60).padStart(2, "0");
  return hours ? `${hours}:${mm}:${ss}` : `${mm}:${ss}`;
}

// In the page's language and the browser's own time zone.
const timeFormat = new Intl.DateTimeFormat(language, { hour: "2-digit", minute: "2-digit" });

const dateTimeFormat = new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "short" });

export function formatTime(iso) {
  const time = parseTime(iso);
  return Number.isNaN(time) ? "" : timeFormat.format(time);
}

export function formatDateTime(iso) {
  const time = parseTime(iso);
  if (Number.isNaN(time)) return "";
  if (new Date(time).toDateString() === new Date().toDateString()) return interpolate(gettext("Today, %(time)s"), { time: timeFormat.format(time) });
  return dateTimeFormat.format(time);
}

export const topicName = (conv) => (conv.topic ? conv.topic.name : gettext("No topic"));

export function visitorName(conv) {
  const visitor = conv.visitor || {};
  return visitor.name || visitor.email || gettext("Anonymous visitor");
}

/** R22: "customer" or "prospect", or null when the server does not say. */
export function visitorKind(conv) {
  const flag = conv.visitor && conv.visitor.is_customer;
  return typeof flag === "boolean" ? (flag ? "customer" : "prospect") : null;
}

export const words = (text) => (text.trim() ? text.trim().split(/\s+/).length : 0);

export const unique = (items) => Array.from(new Set(items));

export function newClientId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; plain http on a LAN address is not one.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
