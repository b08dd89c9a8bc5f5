/* Helpdesk chat widget. Sites embed it with one tag:
 *   <script src="https://HOST/static/widget/loader.js" data-site="SITE_KEY" async></script>
 * Optional, for a logged-in customer (docs/protocol.md, `hello`): data-customer-id,
 * data-customer-signature (HMAC computed by the site's server), data-customer-name, data-customer-email.
 *
 * This loader stays small: the bubble, honest availability (R3), the invitation (R1) and
 * proactive triggers (R2), from GET /widget/<key>/config. The chat itself (chat.js, the
 * visitor socket of docs/protocol.md) loads only when the panel opens, or at once for a
 * returning visitor with an open chat. Everything renders into an open shadow root on
 * <div id="helpdesk-widget">, so the host page's styles and ours never mix.
 *
 * Language: the config answers the site's fixed language, else the best of navigator.languages;
 * for anything but English the widget fetches that language's catalogue (GET /widget/i18n/<code>.json,
 * Django's djangojs domain, cached) before chat.js loads. gettext/ngettext/interpolate below follow
 * Django's JavaScript catalogue API, so `makemessages -d djangojs` finds every string.
 */
(() => {
  "use strict";
  if (document.getElementById("helpdesk-widget")) return;
  const script = document.currentScript || document.querySelector('script[data-site][src*="loader.js"]') ||
    document.querySelector("script[data-site]");
  const SITE = script && script.dataset.site;
  if (!SITE) return;
  const VERSION = "4"; // chat.js?v=: a cached loader never pairs with a newer chat.js
  const server = new URL(script.src, location.href);
  const HTTP = `${server.origin}/widget/${encodeURIComponent(SITE)}`;
  const ds = script.dataset;
  const identity = ds.customerId && ds.customerSignature ? {
    id: ds.customerId, signature: ds.customerSignature, name: ds.customerName || "", email: ds.customerEmail || "",
  } : null;

  /* ---- i18n: Django's JavaScript catalogue API over the catalogue of the widget's language ---- */
  let catalog = {}, language = "en";
  // English and German (LANGUAGES) both have one singular form; a language with other plural rules
  // would need its Plural-Forms here (evaluating the catalogue's expression needs eval, which host
  // pages' CSP may forbid).
  const pluralIndex = (n) => (n === 1 ? 0 : 1);
  const gettext = (msgid) => {
    const value = catalog[msgid];
    if (value == null) return msgid;
    return typeof value === "string" ? value : value[0];
  };
  const ngettext = (singular, plural, count) => {
    const value = catalog[singular];
    if (value == null || typeof value === "string") return count === 1 ? singular : plural;
    return value[pluralIndex(count)] || (count === 1 ? singular : plural);
  };
  const interpolate = (fmt, obj, named) => named
    ? fmt.replace(/%\(\w+\)s/g, (m) => String(obj[m.slice(2, -2)]))
    : fmt.replace(/%s/g, () => String(obj.shift()));
  const browserLanguages = () => (navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ""])
    .slice(0, 8).join(",");

  /* ---- storage: helpdesk:<site>:<name>; memory when storage is unavailable ---- */
  const mem = {};
  const key = (name) => `helpdesk:${SITE}:${name}`;
  const load = (name, area = "localStorage") => {
    try { return window[area].getItem(key(name)); } catch (e) { return mem[area + name] ?? null; }
  };
  const save = (name, value, area = "localStorage") => {
    try {
      value == null ? window[area].removeItem(key(name)) : window[area].setItem(key(name), value);
    } catch (e) { value == null ? delete mem[area + name] : (mem[area + name] = value); }
  };
  const loadJSON = (name, fallback, area) => { try { return JSON.parse(load(name, area)) || fallback; } catch (e) { return fallback; } };
  const uuid = () => crypto.randomUUID ? crypto.randomUUID() : // not on plain-http pages
    "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
      (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));

  let browserId = load("browser");
  if (!browserId) save("browser", (browserId = uuid()));

  // The pages this browser saw (last 20): sent in `hello` so the agent knows where the question came from.
  const pages = () => loadJSON("pages", []);
  function recordPage() {
    const page = { url: location.href.slice(0, 400), title: (document.title || "").slice(0, 200), at: new Date().toISOString() };
    save("pages", JSON.stringify([...pages(), page].slice(-20)));
    return page;
  }
  recordPage();

  // A visitor "already chats" with an unsent message or a chat not yet seen to its end.
  const chatting = () => {
    const st = loadJSON("conv", {});
    return loadJSON("pending", []).length > 0 || (!!st.id && !st.done);
  };

  /* ---- DOM ---- */
  const h = (tag, cls, text, attrs = {}) => {
    const el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text != null) el.textContent = text;
    for (const k in attrs) el.setAttribute(k, attrs[k]);
    return el;
  };
  const button = (cls, text, attrs) => h("button", cls, text, { type: "button", ...attrs });

  const CSS = `:host{all:initial}*{box-sizing:border-box}[hidden]{display:none!important}
.hd{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1f2937}
button,input,select,textarea{font:inherit;color:inherit}button{cursor:pointer}
:focus-visible{outline:3px solid #93c5fd;outline-offset:2px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.hd-bubble{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:60px;height:60px;border:0;border-radius:50%;background:#2563eb;color:#fff;box-shadow:0 6px 20px #0004;display:grid;place-items:center}
.hd-bubble:hover{background:#1d4ed8}.hd-bubble svg{width:28px;height:28px;fill:currentColor}
.hd-bubble[data-state=unavailable]{background:#6b7280}
.hd-dot{position:absolute;bottom:3px;right:3px;width:14px;height:14px;border-radius:50%;border:2px solid #fff;background:#9ca3af}
[data-state=online] .hd-dot{background:#16a34a}[data-state=busy] .hd-dot{background:#f59e0b}
.hd-badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#dc2626;color:#fff;font-size:12px;font-weight:700;line-height:18px;text-align:center;border:2px solid #fff}
.hd-nudge{position:fixed;right:20px;bottom:92px;z-index:2147483000;max-width:min(300px,calc(100vw - 40px));display:flex;align-items:flex-start;background:#fff;border-radius:14px;box-shadow:0 8px 28px #0003;border:1px solid #e5e7eb;animation:hd-in .25s ease-out}
.hd-nudge:after{content:"";position:absolute;right:24px;bottom:-7px;width:14px;height:14px;background:#fff;border:solid #e5e7eb;border-width:0 1px 1px 0;transform:rotate(45deg)}
.hd-nudge-text{flex:1;text-align:left;background:none;border:0;padding:12px 4px 12px 14px;line-height:1.4}
.hd-nudge-text small{display:block;color:#6b7280;font-size:12px;margin-bottom:2px}
.hd-nudge-close{background:none;border:0;color:#6b7280;font-size:18px;line-height:1;width:32px;height:32px;margin:4px;border-radius:8px}
.hd-nudge-close:hover{background:#f3f4f6}
@keyframes hd-in{from{opacity:0;transform:translateY(8px)}}
@media (prefers-reduced-motion:reduce){.hd-nudge{animation:none}}
@media (max-width:480px){.hd-bubble{right:14px;bottom:14px}.hd-nudge{right:14px;bottom:84px}}`;

  let root, wrap, bubble, badge, unreadText, nudgeEl, nudgeText, nudgeClose;
  // A function: the words come from the catalogue, which arrives after the bubble is drawn.
  const labels = () => ({
    online: gettext("Chat with us"), busy: gettext("All agents busy — you can still write"),
    offline: gettext("Leave a message"), closed: gettext("Leave a message"), unavailable: gettext("Chat unavailable"),
  });
  let availability = { state: "unknown", message: "", can_chat_live: false };

  function build() {
    const host = h("div", "", null, { id: "helpdesk-widget" });
    root = host.attachShadow({ mode: "open" });
    bubble = button("hd-bubble", null, {
      "aria-label": gettext("Open chat"), "aria-expanded": "false", "aria-controls": "hd-panel", "aria-describedby": "hd-unread",
    });
    bubble.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8.5L4 21.5V18a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/></svg>';
    badge = h("span", "hd-badge", null, { "aria-hidden": "true" });
    bubble.append(h("span", "hd-dot", null, { "aria-hidden": "true" }), badge);
    unreadText = h("span", "sr", null, { id: "hd-unread" });
    nudgeEl = h("div", "hd-nudge", null, { role: "status" });
    nudgeText = button("hd-nudge-text");
    const x = nudgeClose = button("hd-nudge-close", "\u00d7");
    relabel();
    nudgeEl.append(nudgeText, x);
    badge.hidden = nudgeEl.hidden = true;
    wrap = h("div", "hd");
    wrap.append(nudgeEl, bubble, unreadText);
    root.append(h("style", "", CSS), wrap);
    document.body.append(host);
    bubble.onclick = () => open(null);
    nudgeText.onclick = () => { const t = nudge && nudge.trigger; hideNudge(); open(t); };
    x.onclick = () => { hideNudge(); bubble.focus(); };
  }

  function relabel() {
    nudgeEl.setAttribute("aria-label", gettext("Message from the site"));
    nudgeClose.setAttribute("aria-label", gettext("Dismiss"));
  }

  // R3: the bubble always shows and says what is true now; never "online" unless it is.
  function setAvailability(a) {
    availability = a || availability;
    const LABELS = labels();
    const label = LABELS[availability.state] || gettext("Chat");
    bubble.dataset.state = availability.state;
    bubble.setAttribute("aria-label", availability.state in LABELS
      ? interpolate(gettext("Open chat: %(label)s"), { label }, true) : gettext("Open chat"));
    bubble.title = availability.message && availability.state !== "unavailable" ? `${label}. ${availability.message}` : label;
    if (chat) chat.refresh();
  }

  /* ---- config: availability, invitation, triggers due for this browser ---- */
  let config = null, configTries = 0, catalogReady = Promise.resolve();
  // The catalogue of the widget's language; a failure leaves the widget in English, never broken.
  function loadCatalog(lang) {
    if (!lang || !lang.catalog_url) { catalog = {}; language = (lang && lang.code) || "en"; return Promise.resolve(); }
    return fetch(new URL(lang.catalog_url, server).href, { mode: "cors", credentials: "omit" })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((data) => { catalog = data.catalog || {}; language = lang.code; })
      .catch(() => {});
  }
  function fetchConfig() {
    const query = `browser_id=${encodeURIComponent(browserId)}&languages=${encodeURIComponent(browserLanguages())}`;
    fetch(`${HTTP}/config?${query}`, { mode: "cors", credentials: "omit", cache: "no-store" })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((c) => (catalogReady = loadCatalog(c.language)).then(() => c))
      .then((c) => {
        config = c;
        relabel();
        setAvailability(c.availability);
        // A returning visitor with an open or unseen chat connects at once, so a late answer
        // shows as a badge; the panel itself never opens on its own (R1, R9).
        if (load("token") && chatting()) loadChat();
      })
      .catch((status) => {
        setAvailability({ state: "unavailable", message: gettext("Chat is unavailable on this page right now.") });
        // Refused (unknown site or origin): final. A network failure: a few slow retries, no loop.
        // (No "x++ < n": xgettext, behind makemessages, reads "< 3" as the start of an E4X literal.)
        if (typeof status !== "number" && configTries < 3) setTimeout(fetchConfig, 5000 * 2 ** ++configTries);
      });
  }

  /* ---- nudges: the invitation (R1) and triggers (R2), one at a time, never the panel itself ---- */
  let nudge = null, openedTrigger = null, replied = false, firedHere = false, onPage = 0, href = location.href;

  function showNudge(text, trigger) {
    nudge = { trigger };
    nudgeText.replaceChildren(h("small", "", (config && config.site && config.site.name) || gettext("Chat")), text);
    nudgeText.setAttribute("aria-label", interpolate(gettext("%(message)s — open the chat"), { message: text }, true));
    if (trigger) nudgeEl.dataset.trigger = trigger.id; else delete nudgeEl.dataset.trigger;
    nudgeEl.hidden = false;
  }
  function hideNudge() { nudge = null; nudgeEl.hidden = true; }

  const matches = (pattern, path) =>
    new RegExp(`^${pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`).test(path);
  const HOUR = 3600e3;
  function firedRecently(id) { return Date.now() - (loadJSON("fired", {})[id] || 0) < HOUR; }
  function noteFired(id) {
    const fired = loadJSON("fired", {}), now = Date.now();
    for (const k in fired) if (now - fired[k] > HOUR) delete fired[k];
    fired[id] = now;
    save("fired", JSON.stringify(fired));
  }
  function firing(trigger, outcome) {
    fetch(`${HTTP}/firings`, {
      method: "POST", mode: "cors", credentials: "omit", keepalive: true, headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ trigger_id: trigger.id, browser_id: browserId, outcome, page_url: location.pathname }),
    }).catch(() => {});
  }

  function nudges(browsed) {
    if (!config || isOpen() || chatting()) return;
    if (!firedHere) {
      const t = (config.triggers || []).find((x) => matches(x.url_pattern, location.pathname) && !firedRecently(x.id));
      if (t && onPage >= t.delay_seconds) {
        firedHere = true; // at most one per page; a trigger wins over the invitation
        noteFired(t.id);
        firing(t, "shown");
        return showNudge(t.message, t);
      }
    }
    const inv = config.invitation || {};
    if (!nudge && inv.delay_seconds > 0 && browsed >= inv.delay_seconds && !load("invited")) {
      save("invited", "1");
      showNudge(inv.message, null);
    }
  }

  // Time counts only while the tab is visible; browsing time adds up over the session's pages.
  let last = Date.now();
  function tick() {
    const now = Date.now(), dt = Math.min(now - last, 2000) / 1000;
    last = now;
    if (location.href !== href) { // a single-page app moved on
      href = location.href;
      onPage = 0;
      firedHere = false;
      const page = recordPage();
      if (chat) chat.pageView(page);
    }
    if (document.visibilityState !== "visible") return;
    onPage += dt;
    const browsed = (+load("browsed", "sessionStorage") || 0) + dt;
    save("browsed", String(browsed), "sessionStorage");
    nudges(browsed);
  }

  /* ---- the chat: loaded on demand ---- */
  let chat = null, chatLoading = null;
  const isOpen = () => !!chat && chat.isOpen();

  function loadChat() {
    if (!chatLoading) {
      // After the catalogue: chat.js draws its words once, in the widget's language.
      chatLoading = catalogReady.then(() => new Promise((resolve, reject) => {
        window.__helpdeskWidget = { attach: (factory) => { chat = factory(api); resolve(chat); } };
        const s = h("script", "", null, { src: new URL(`chat.js?v=${VERSION}`, server).href, async: "" });
        s.onerror = () => { chatLoading = null; s.remove(); reject(new Error("chat.js")); };
        document.head.append(s);
      }));
    }
    return chatLoading;
  }

  function open(trigger) {
    if (availability.state === "unavailable") {
      return showNudge(gettext("Chat is unavailable on this page right now. Please try again later."), null);
    }
    hideNudge();
    firedHere = true; // the visitor came to us: no more nudges on this page
    if (!load("invited")) save("invited", "1");
    if (trigger) { openedTrigger = trigger; replied = false; firing(trigger, "opened"); }
    bubble.setAttribute("aria-busy", "true");
    loadChat().then((c) => { bubble.removeAttribute("aria-busy"); c.open(trigger); })
      .catch(() => { bubble.removeAttribute("aria-busy"); showNudge(gettext("The chat could not load. Please try again."), null); });
  }

  // What chat.js shares with the loader.
  const api = {
    SITE, server, identity, load, save, loadJSON, h, button, uuid, pages, gettext, ngettext, interpolate,
    language: () => language,
    get root() { return root; }, get wrap() { return wrap; }, get bubble() { return bubble; }, get badge() { return badge; },
    get unreadText() { return unreadText; },
    availability: () => availability,
    siteName: () => (config && config.site && config.site.name) || "",
    topics: () => (config && config.site && config.site.topics) || [],
    setAvailability,
    sent() { // R2: the visitor answered the trigger it opened
      if (openedTrigger && !replied) { replied = true; firing(openedTrigger, "replied"); }
    },
  };

  function start() {
    build();
    setAvailability(availability);
    fetchConfig();
    setInterval(tick, 500);
    addEventListener("online", () => { if (!config) fetchConfig(); });
  }

  document.body ? start() : addEventListener("DOMContentLoaded", start);
})();
