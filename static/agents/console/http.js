/*
 * JSON POSTs to the console's HTTP endpoints (knowledge base, feedback), with the
 * session cookie and Django's CSRF token. The socket carries everything live; these
 * carry the few actions that live on plain views.
 */
import { root } from "./dom.js";
import { gettext, interpolate } from "./i18n.js";

/** The console template's `{{ csrf_token }}`, else Django's `csrftoken` cookie. */
export function csrfToken() {
  const fromPage = root && root.dataset.csrfToken;
  if (fromPage) return fromPage;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** An endpoint's URL from the console's data attributes (`data-kb-suggest-url` → "kbSuggestUrl"). */
export const endpoint = (name) => (root && root.dataset[name]) || "";

export class HttpError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** POST `body` as JSON; resolves to the JSON answer, or rejects with an HttpError whose message can be shown. */
export async function postJson(url, body) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    });
  } catch {
    throw new HttpError(gettext("Not connected; try again in a moment."), 0, "network");
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data && data.error;
    let message = error && error.message;
    if (!message && response.status === 403) message = gettext("Your session has expired: reload the console and log in again.");
    throw new HttpError(message || interpolate(gettext("The server could not do that (%(status)s)."), { status: response.status }), response.status, error && error.code);
  }
  return data || {};
}
