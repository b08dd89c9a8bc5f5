"""Markup typed anywhere is shown as text everywhere, and a real browser runs none of it.

Every free-text field a person can fill holds a payload - the visitor's name, messages
both ways, a private note, a canned response, an article's title and Markdown body, a
backlog item's summary and quote, a trigger's message, and the agent's, the site's, the
topic's, the team's and a label's names. Then every place they appear is rendered in
Chromium: the widget on a customer's page (and a new visitor's trigger nudge and the chat
it opens), the console (chat list, transcript, customer panel, suggestions, canned list),
the admin's transcript and label lists and a transcript's page, the transcript email's
HTML, the help centre's article and search results, the backlog, the knowledge-base
console, the chat search, and the supervisors' floor, watched transcript and reports. On
each page: no payload ran (`window.__xss` unset, no "XSS" on the console, no dialog), no
element carries an `on…` attribute or a `javascript:` link, and the payload's characters
are visible as text.
"""

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.browser.conftest import ChatServer, expect, watch_errors

pytestmark = pytest.mark.browser

AGENT_PASSWORD = "xss-browser-pass-2026"
# Short enough for the 100-character name fields; each vector sets window.__xss if it runs.
PAYLOAD = '<img src=x onerror=__xss=1><script>__xss=2</script>"><svg onload=__xss=3>'
# For a label's name, at most 50 characters.
SHORT = "L<img src=x onerror=__xss=7>"
LONG = f'{PAYLOAD} javascript:__xss=4 [link](javascript:__xss=5) http://x.example/"onmouseover=__xss=6 parcel'
ALERT = "<img src=x onerror=\"alert('XSS');console.log('XSS')\">"

# Every element (inside open shadow roots too) with an event-handler attribute, a
# javascript: URL, a script carrying the payload, or a JSON data block holding a raw "<".
FIND_ACTIVE_MARKUP = """() => {
  const found = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll("*")) {
      for (const a of el.attributes) {
        if (/^on/i.test(a.name) || (/^(href|src|action|formaction|xlink:href)$/i.test(a.name) &&
            /^\\s*javascript:/i.test(a.value))) found.push(el.outerHTML.slice(0, 160));
      }
      // A JSON data block never runs; a raw "<" in one could still close it early.
      const data = el.tagName === "SCRIPT" && /json/i.test(el.type);
      if (el.tagName === "SCRIPT" && (data ? el.textContent.includes("<") : el.textContent.includes("__xss")))
        found.push(el.outerHTML.slice(0, 160));
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return found;
}"""


def seed(origin: str) -> dict[str, Any]:
    """Every field a person can type into, holding a payload; runs in the server's subprocess."""
    from agents.models import Agent
    from chat import services
    from chat.models import Label, Site, Trigger
    from feedback.services import feedback_log
    from knowledgebase.models import Article
    from tests.agents.factories import make_agent, make_canned, make_team
    from tests.chat.factories import make_topic, make_visitor

    site = Site.objects.create(name=f"S{PAYLOAD}", allowed_origins=origin)
    Trigger.objects.create(site=site, name="Everywhere", url_pattern="/*", delay_seconds=0, message=f"T {LONG}")
    topic = make_topic(site=site, slug="returns")
    topic.name = f"T{PAYLOAD}"
    topic.save(update_fields=["name"])
    team = make_team(name=f"G{PAYLOAD}", topics=[topic], is_default=True)
    label = Label.objects.create(name=SHORT)
    agent = make_agent(teams=[team], name=f"A{PAYLOAD}", password=AGENT_PASSWORD, max_chats=10)
    agent.user.is_staff = agent.user.is_superuser = True  # the admin's transcript review too
    agent.user.save(update_fields=["is_staff", "is_superuser"])
    make_canned(shortcut="xss", title=f"C{PAYLOAD}"[:120], body=f"Canned {LONG}", team=team)
    article = Article.objects.create(
        title=f"Parcel {PAYLOAD}",
        slug="parcel-help",
        status=Article.Status.PUBLISHED,
        body=f"# Parcel\n\n{LONG}\n\n{ALERT}",
    )

    visitor, token = make_visitor(site=site)
    visitor.name = f"V{PAYLOAD}"
    visitor.save(update_fields=["name"])
    services.visitor_pages_record(visitor=visitor, pages=[{"url": "https://shop.example/p", "title": LONG}])
    everything = ["too_long", "cold_reply", "slang", "blocked"]
    ids = []
    for step in ("ended", "open"):
        conversation = services.conversation_start(visitor=visitor, topic_slug="returns")
        services.message_post(conversation_id=conversation.pk, author=visitor, body=f"Q {LONG}", client_id="v1")
        services.conversation_claim(conversation_id=conversation.pk, agent=agent)
        services.message_post(
            conversation_id=conversation.pk, author=agent, body=f"R {LONG}", client_id="a1", overridden=everything
        )
        services.message_post(
            conversation_id=conversation.pk, author=agent, body=f"N {LONG}", client_id="n1", note=True
        )
        if step == "ended":
            services.visitor_contact_set(
                visitor=visitor, email="v@example.com", purpose="transcript", conversation_id=conversation.pk
            )
            services.conversation_rate(conversation_id=conversation.pk, visitor=visitor, rating=2, comment=LONG)
            services.conversation_end(conversation_id=conversation.pk, ended_by=agent)
            feedback_log(
                conversation=conversation, agent=agent, kind="feature", summary=f"F{PAYLOAD}", quote=f"Q {LONG}"
            )
        else:
            services.conversation_label_add(conversation=conversation, label=label, actor=agent.user)
        ids.append(conversation.pk)
    Agent.objects.filter(pk=agent.pk).update(status=Agent.Status.ONLINE)
    return {
        "agent_email": agent.user.email,
        "site_key": site.key,
        "token": token,
        "ended": ids[0],
        "open": ids[1],
        "article_url": article.get_absolute_url(),
    }


def allow_origin(origin: str) -> int:
    from chat.models import Site

    site = Site.objects.get()
    site.allowed_origins = f"{site.allowed_origins}\n{origin}"
    site.save(update_fields=["allowed_origins"])
    return site.pk


def transcript_email_html(conversation_id: int) -> str:
    from chat.emails import transcript_render
    from chat.models import Conversation

    _subject, _text, html = transcript_render(Conversation.objects.get(pk=conversation_id))
    return html


class Watched:
    """A page whose dialogs and console lines are recorded."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.console: list[str] = []
        watch_errors(page, self.errors)
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("console", lambda message: self.console.append(message.text))

    def assert_inert(self, where: str) -> None:
        self.page.wait_for_timeout(300)  # an onerror fires once the broken image fails to load
        assert self.page.evaluate("typeof window.__xss") == "undefined", where
        assert self.page.evaluate(FIND_ACTIVE_MARKUP) == [], where
        assert not [line for line in self.console if "XSS" in line], where
        assert self.dialogs == [], where
        assert self.errors == [], where


def agent_login(page: Page, server: ChatServer) -> None:
    page.goto(f"{server.url}/accounts/login/")
    page.locator("input[name=username]").fill(server.agent_email)
    page.locator("input[name=password]").fill(AGENT_PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def check_widget(browser: Browser, server: ChatServer, shop: str) -> None:
    data = server.data
    context: BrowserContext = browser.new_context()
    try:
        # A returning visitor with an open chat: the widget loads it at once.
        stored = {"token": data["token"], "conv": json.dumps({"id": data["open"]})}
        prefix = f"helpdesk:{data['site_key']}:"
        context.add_init_script(
            ";".join(f"localStorage.setItem({json.dumps(prefix + k)}, {json.dumps(v)})" for k, v in stored.items())
        )
        watched = Watched(context.new_page())
        watched.page.goto(shop)
        widget = watched.page.locator("#helpdesk-widget")
        widget.locator(".hd-bubble").click()
        messages = widget.locator(".hd-messages")
        expect(messages).to_contain_text(f"Q {PAYLOAD}")
        expect(messages).to_contain_text(f"R {PAYLOAD}")
        expect(widget).to_contain_text(f"A{PAYLOAD}")  # the agent's name, on its join message
        assert f"N {PAYLOAD}" not in messages.inner_text()  # notes never reach the visitor
        watched.assert_inert("widget")
    finally:
        context.close()


def check_trigger(browser: Browser, shop: str) -> None:
    """A new visitor: the trigger's nudge, then the chat it opens with the trigger's words."""
    context: BrowserContext = browser.new_context()
    try:
        watched = Watched(context.new_page())
        watched.page.goto(shop)
        widget = watched.page.locator("#helpdesk-widget")
        expect(widget.locator(".hd-nudge")).to_contain_text(f"T {PAYLOAD}")
        watched.assert_inert("trigger nudge")
        widget.locator(".hd-nudge-text").click()
        expect(widget.locator(".hd-panel")).to_contain_text(f"T {PAYLOAD}")
        watched.assert_inert("chat opened by a trigger")
    finally:
        context.close()


def check_email(browser: Browser, server: ChatServer) -> None:
    html = server.call(transcript_email_html, server.data["ended"])
    context = browser.new_context()
    try:
        watched = Watched(context.new_page())
        watched.page.set_content(html)
        body = watched.page.locator("body")
        expect(body).to_contain_text(f"Q {PAYLOAD}")
        expect(body).to_contain_text(f"R {PAYLOAD}")
        assert f"N {PAYLOAD}" not in body.inner_text()  # private notes stay out of the customer's email
        watched.assert_inert("transcript email")
    finally:
        context.close()


def check_console(watched: Watched, server: ChatServer) -> None:
    page = watched.page
    page.goto(f"{server.url}/console/")
    expect(page.locator("#connection-status")).to_have_text("Connected")
    chat = page.locator(f"#chats li[data-conversation-id='{server.data['open']}']")
    expect(chat).to_contain_text(f"V{PAYLOAD}")
    chat.locator(".conv-title").click()
    transcript = page.locator("#transcript")
    for text in (f"Q {PAYLOAD}", f"R {PAYLOAD}", f"N {PAYLOAD}"):
        expect(transcript).to_contain_text(text)
    customer = page.locator("#customer")
    expect(customer).to_contain_text(f"V{PAYLOAD}")
    expect(customer.locator("#visited-pages")).to_contain_text(PAYLOAD)
    expect(customer.locator("#past-conversations")).to_contain_text(f"Q {PAYLOAD}")
    expect(page.locator("#kb-suggest-body")).to_contain_text(f"Parcel {PAYLOAD}")
    page.locator("#canned-open").click()
    expect(page.locator("#canned-list")).to_contain_text(f"C{PAYLOAD}"[:120])
    watched.assert_inert("console")


# (path, text it must show) for every server-rendered page the payloads reach.
PAGES = [
    ("/admin/chat/conversation/", f"V{PAYLOAD}"),
    ("/admin/chat/conversation/{ended}/change/", f"R {PAYLOAD}"),
    ("/admin/feedback/feedbackitem/", f"F{PAYLOAD}"),
    ("/console/backlog/", f"F{PAYLOAD}"),
    ("/console/follow-ups/", ""),
    ("/console/kb/articles/", f"Parcel {PAYLOAD}"),
    ("/console/kb/unanswered/", ""),
    ("{article_url}", f"Parcel {PAYLOAD}"),
    ("/help/?q=parcel", f"Parcel {PAYLOAD}"),
    ("/help/", ""),
    ("/admin/chat/label/", SHORT),
    ("/console/search/?q=parcel", f"V{PAYLOAD}"),
    ("/console/floor/", f"V{PAYLOAD}"),
    ("/console/floor/chats/{open}/", f"Q {PAYLOAD}"),
    ("/console/reports/", f"A{PAYLOAD}"),
]


# One test, one server: starting Daphne and migrating a database is most of the time taken.
def test_no_payload_runs_anywhere_it_is_shown(
    browser: Browser, chat_server: ChatServer, page_origin: Any, tmp_path: Path
) -> None:
    (tmp_path / "index.html").write_text(
        "<!doctype html><title>Customer site</title><h1>Shop</h1>"
        f'<script src="{chat_server.url}/static/widget/loader.js" data-site="{chat_server.data["site_key"]}" async>'
        "</script>"
    )
    shop = page_origin(tmp_path)
    chat_server.call(allow_origin, shop)

    check_widget(browser, chat_server, shop)
    check_trigger(browser, shop)
    check_email(browser, chat_server)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        watched = Watched(context.new_page())
        agent_login(watched.page, chat_server)
        check_console(watched, chat_server)
        for path, shows in PAGES:
            watched.page.goto(chat_server.url + path.format(**chat_server.data))
            if shows:
                expect(watched.page.locator("body")).to_contain_text(shows)
            watched.assert_inert(path)
    finally:
        context.close()
