"""The widget's behaviour on a customer's site, in Chromium against a real Daphne server.

R1 (the invitation after a delay, once), R2 (a trigger fires once across product pages and
its firing is recorded), R3 (honest availability and "leave a message"), R4 (email only on
request), R6 (queue position), R9 (unread badge after a reload), R19 (rating), and the
allowed/refused origins of the widget. Customer pages on other origins are generated
files served by a plain HTTP server (the `page_origin` fixture). Screenshots go to
test-results/widget/.
"""

import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page

from tests.browser.conftest import TIMEOUT_MS, ChatServer, expect
from tests.servers import PROJECT_ROOT

pytestmark = pytest.mark.browser

AGENT_NAME = "Alex Agent"
AGENT_PASSWORD = "browser-test-pass-2026"
REPLY = "Hi! Yes, of course. Which size would you like instead?"
SHOTS = PROJECT_ROOT / "test-results" / "widget"


# --- Data, in the server's database (run through ChatServer.call) -------------------------------


def seed(origin: str) -> dict[str, Any]:
    from chat.models import Site
    from tests.agents.factories import make_agent, make_team

    # The demo page looks its site up by this name; no invitation unless a test sets one.
    site = Site.objects.create(name="Demo Shop", allowed_origins=origin, invitation_delay_seconds=0)
    team = make_team(is_default=True)
    agent = make_agent(teams=[team], name=AGENT_NAME, password=AGENT_PASSWORD)
    return {"agent_email": agent.user.email, "site_key": site.key}


def site_update(fields: dict[str, Any]) -> int:
    from chat.models import Site

    return Site.objects.filter(name="Demo Shop").update(**fields)


def origin_allow(origin: str) -> None:
    from chat.models import Site

    site = Site.objects.get(name="Demo Shop")
    site.allowed_origins = f"{site.allowed_origins}\n{origin}"
    site.save()


def trigger_add(pattern: str, delay: int, message: str) -> int:
    from chat.models import Site, Trigger

    site = Site.objects.get(name="Demo Shop")
    return Trigger.objects.create(
        site=site, name="Products", url_pattern=pattern, delay_seconds=delay, message=message
    ).pk


def agents_update(fields: dict[str, Any]) -> int:
    from agents.models import Agent

    return Agent.objects.update(**fields)


def agents_away() -> int:
    from agents.models import Agent

    return Agent.objects.update(status=Agent.Status.OFFLINE, last_seen_at=None)


def firings() -> list[list[Any]]:
    from chat.models import TriggerFiring

    return [[f.trigger_id, f.outcome, f.page_url] for f in TriggerFiring.objects.order_by("shown_at")]


def conversations() -> list[dict[str, Any]]:
    from chat.models import Conversation

    return [
        {
            "id": c.pk,
            "status": c.status,
            "offline": c.is_offline_message,
            "email": c.visitor.email,
            "rating": c.rating,
            "comment": c.rating_comment,
            "transcript": c.transcript_requested,
            "bodies": list(c.messages.filter(sender="visitor").values_list("body", flat=True)),
        }
        for c in Conversation.objects.select_related("visitor").order_by("created_at")
    ]


def stored_counts() -> dict[str, int]:
    from chat.models import ConsentRecord, Message, Visitor

    return {
        "visitors": Visitor.objects.count(),
        "messages": Message.objects.count(),
        "consents": ConsentRecord.objects.count(),
    }


# --- Helpers ------------------------------------------------------------------------------------


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _visitor(browser: Browser, errors: list[str], width: int = 1280) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport={"width": width, "height": 800 if width > 480 else 740})
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    return context, page


def _widget(page: Page) -> Locator:
    return page.locator("#helpdesk-widget")  # Playwright's CSS pierces the open shadow root


def _send(widget: Locator, text: str) -> None:
    widget.locator("textarea[name=body]").fill(text)
    widget.locator("button.hd-send").click()
    expect(widget.locator(".hd-msg--visitor[data-seq]").filter(has_text=text)).to_have_count(1)


def _eventually(read: Any, check: Any, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if check(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def _customer_pages(directory: Path, server: ChatServer, names: list[str]) -> None:
    """A customer's site: plain pages embedding the widget by absolute URL."""
    for name in names:
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{name}</title>"
            '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
            f"<body><h1>{name}</h1><p>A page of a shop on another origin.</p>"
            f'<script src="{server.url}/static/widget/loader.js" data-site="{server.data["site_key"]}" async></script>'
            "</body></html>"
        )


class AgentSocket:
    """The agent's side through its own socket, from a logged-in page: no console UI needed."""

    def __init__(self, browser: Browser, server: ChatServer) -> None:
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.page.goto(f"{server.url}/accounts/login/")
        self.page.locator("input[name=username]").fill(server.agent_email)
        self.page.locator("input[name=password]").fill(AGENT_PASSWORD)
        self.page.locator("button[type=submit]").click()
        self.page.wait_for_url("**/console/")
        self.page.goto(f"{server.url}/accounts/login/")  # leave the console: this test speaks the protocol
        ws_url = server.url.replace("http", "ws", 1) + "/ws/agent/"
        self.page.evaluate(
            """url => new Promise((resolve, reject) => {
                const ws = new WebSocket(url);
                window.__frames = [];
                ws.onmessage = (e) => window.__frames.push(JSON.parse(e.data));
                ws.onopen = () => { window.__ws = ws; resolve(); };
                ws.onerror = reject;
            })""",
            ws_url,
        )
        self.wait("f => f.type === 'welcome'")

    def send(self, frame: dict[str, Any]) -> None:
        self.page.evaluate("frame => window.__ws.send(JSON.stringify(frame))", frame)

    def wait(self, predicate: str) -> Any:
        handle = self.page.wait_for_function(
            f"() => window.__frames && window.__frames.find({predicate})", timeout=TIMEOUT_MS
        )
        return handle.json_value()

    def close(self) -> None:
        self.context.close()


# --- R1: the invitation -------------------------------------------------------------------------


def test_invitation_appears_after_the_delay_once_and_never_opens_the_panel(
    browser: Browser, chat_server: ChatServer
) -> None:
    chat_server.call(site_update, {"invitation_delay_seconds": 3, "invitation_message": "Questions? Ask us here."})
    errors: list[str] = []
    context, shop = _visitor(browser, errors)
    try:
        started = time.monotonic()
        shop.goto(f"{chat_server.url}/demo/")
        widget = _widget(shop)
        bubble = widget.locator("button.hd-bubble")
        expect(bubble).to_have_attribute("aria-label", "Open chat: Chat with us")
        nudge = widget.locator(".hd-nudge")
        shop.wait_for_timeout(1000)
        expect(nudge).to_be_hidden()

        expect(nudge).to_be_visible(timeout=8000)
        assert time.monotonic() - started >= 2.5
        expect(nudge).to_contain_text("Questions? Ask us here.")
        expect(widget.locator(".hd-panel")).to_have_count(0)  # the chat itself is not even loaded
        _shot(shop, "invitation-desktop")

        # Only once: not after a reload, however long the visitor stays
        shop.reload()
        shop.wait_for_timeout(4500)
        expect(widget.locator(".hd-nudge")).to_be_hidden()
        expect(widget.locator(".hd-panel")).to_have_count(0)
        assert errors == []
    finally:
        context.close()


# --- R2: triggers on a second origin; a third origin is refused -------------------------------


def test_trigger_fires_once_across_product_pages_and_records_its_outcomes(
    browser: Browser, chat_server: ChatServer, page_origin: Any, tmp_path: Path
) -> None:
    _customer_pages(tmp_path, chat_server, ["products/mug.html", "products/towel.html", "about.html"])
    shop = page_origin(tmp_path)
    chat_server.call(origin_allow, shop)
    trigger_id = chat_server.call(trigger_add, "/products/*", 1, "Can I help with this product?")
    errors: list[str] = []
    context, mug = _visitor(browser, errors)
    try:
        # The trigger shows after its delay on the first product page, and is recorded as shown
        mug.goto(f"{shop}/products/mug.html")
        nudge = _widget(mug).locator(".hd-nudge")
        expect(nudge).to_be_hidden()
        expect(nudge).to_be_visible(timeout=6000)
        expect(nudge).to_contain_text("Can I help with this product?")
        expect(nudge).to_have_attribute("data-trigger", str(trigger_id))
        _shot(mug, "trigger-desktop")
        shown = _eventually(lambda: chat_server.call(firings), lambda f: len(f) == 1)
        assert shown == [[trigger_id, "shown", "/products/mug.html"]]

        # The next product page (another tab, then the same tab moving on) does not fire it again
        towel = context.new_page()
        towel.on("pageerror", lambda error: errors.append(f"{towel.url}: {error}"))
        for path in ["/products/towel.html", "/about.html", "/products/towel.html"]:
            towel.goto(f"{shop}{path}")
            expect(_widget(towel).locator("button.hd-bubble")).to_have_attribute("data-state", "online")
            towel.wait_for_timeout(2500)
            expect(_widget(towel).locator(".hd-nudge")).to_be_hidden()
        towel.close()
        assert len(chat_server.call(firings)) == 1

        # Opening it records "opened" and starts the chat with the trigger's words
        _widget(mug).locator(".hd-nudge-text").click()
        widget = _widget(mug)
        expect(widget.locator(".hd-panel")).to_be_visible()
        expect(widget.locator(".hd-note")).to_contain_text("Can I help with this product?")
        expect(widget.locator("textarea[name=body]")).to_be_focused()
        opened = _eventually(lambda: chat_server.call(firings), lambda f: f and f[0][1] == "opened")
        assert opened == [[trigger_id, "opened", "/products/mug.html"]]
        _shot(mug, "trigger-opened-desktop")

        # Answering it records "replied"; the chat from this allowed origin reaches the server
        _send(widget, "Is the mug dishwasher safe?")
        replied = _eventually(lambda: chat_server.call(firings), lambda f: f and f[0][1] == "replied")
        assert [f[1] for f in replied] == ["replied"]
        assert chat_server.call(conversations)[0]["bodies"] == ["Is the mug dishwasher safe?"]
        assert errors == []
    finally:
        context.close()


def test_widget_on_an_origin_not_allowed_is_refused(
    browser: Browser, chat_server: ChatServer, page_origin: Any, tmp_path: Path
) -> None:
    _customer_pages(tmp_path, chat_server, ["products/mug.html"])
    other = page_origin(tmp_path)  # not in the site's allowed origins
    errors: list[str] = []
    context, page = _visitor(browser, errors)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    config_requests: list[str] = []
    page.on("request", lambda r: config_requests.append(r.url) if "/config" in r.url else None)
    try:
        page.goto(f"{other}/products/mug.html")
        widget = _widget(page)
        bubble = widget.locator("button.hd-bubble")
        expect(bubble).to_have_attribute("data-state", "unavailable")
        expect(bubble).to_have_attribute("aria-label", "Open chat: Chat unavailable")
        bubble.click()
        expect(widget.locator(".hd-nudge")).to_contain_text("unavailable")
        page.wait_for_timeout(1500)
        expect(widget.locator(".hd-panel")).to_have_count(0)
        _shot(page, "refused-origin")
        assert len(config_requests) == 1  # asked once, refused, not retried
        request = urllib.request.Request(config_requests[0], headers={"Origin": other})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403
        assert refused.value.headers.get("Access-Control-Allow-Origin") is None
        assert sockets == []
        assert chat_server.call(stored_counts) == {"visitors": 0, "messages": 0, "consents": 0}
        assert errors == []
    finally:
        context.close()


# --- R3, R4: nobody there: leave a message ------------------------------------------------------


def test_offline_visitor_leaves_a_message_with_email_and_it_queues(browser: Browser, chat_server: ChatServer) -> None:
    chat_server.call(agents_away)
    errors: list[str] = []
    context, shop = _visitor(browser, errors, width=375)
    try:
        shop.goto(f"{chat_server.url}/demo/")
        widget = _widget(shop)
        bubble = widget.locator("button.hd-bubble")
        expect(bubble).to_have_attribute("aria-label", "Open chat: Leave a message")
        expect(bubble).to_have_attribute("data-state", "offline")
        bubble.click()
        expect(widget.locator(".hd-title")).to_have_text("Leave a message")
        expect(widget.locator(".hd-intro")).to_contain_text("No one is available right now")
        assert "online" not in widget.locator(".hd-panel").inner_text().lower()
        email = widget.locator(".hd-offline input[name=email]")
        consent = widget.locator(".hd-offline input[name=marketing_consent]")
        expect(email).to_be_visible()
        expect(consent).not_to_be_checked()

        # The email is required here (the answer comes by email), and checked next to the field
        widget.locator("textarea[name=body]").fill("Do you ship to Norway?")
        widget.locator("button.hd-send").click()
        expect(widget.locator(".hd-offline .hd-field-error")).to_contain_text("email")
        expect(email).to_be_focused()
        _shot(shop, "offline-mobile")
        email.fill("anna@example.com")
        widget.locator("button.hd-send").click()
        expect(widget.locator(".hd-msg--visitor[data-seq]")).to_contain_text("Do you ship to Norway?")
        expect(widget.locator(".hd-contact-done")).to_contain_text("We'll answer by email at anna@example.com")
        expect(widget.locator(".hd-offline")).to_be_hidden()
        _shot(shop, "offline-sent-mobile")

        stored = _eventually(lambda: chat_server.call(conversations), lambda c: c and c[0]["bodies"])
        assert len(stored) == 1
        assert stored[0]["offline"] is True
        assert stored[0]["status"] == "queued"
        assert stored[0]["email"] == "anna@example.com"
        assert stored[0]["bodies"] == ["Do you ship to Norway?"]
        assert chat_server.call(stored_counts)["consents"] == 0  # the marketing box stayed unticked
        assert errors == []
    finally:
        context.close()


# --- R6: the queue ------------------------------------------------------------------------------


def test_queue_position_with_two_visitors_and_no_free_agent(browser: Browser, chat_server: ChatServer) -> None:
    chat_server.call(agents_update, {"max_chats": 0})  # present, but at its limit: "busy"
    errors: list[str] = []
    first_context, first = _visitor(browser, errors)
    second_context, second = _visitor(browser, errors, width=375)
    agent = None
    try:
        widgets = []
        for page, question in [(first, "First in line here."), (second, "Second one, hello.")]:
            page.goto(f"{chat_server.url}/demo/")
            widget = _widget(page)
            expect(widget.locator("button.hd-bubble")).to_have_attribute(
                "aria-label", "Open chat: All agents busy \u2014 you can still write"
            )
            widget.locator("button.hd-bubble").click()
            _send(widget, question)
            widgets.append(widget)
        first_widget, second_widget = widgets
        expect(second_widget.locator(".hd-queue")).to_contain_text("You're number 2 in line")
        expect(first_widget.locator(".hd-queue")).to_contain_text("You're number 1 in line")
        expect(second_widget.locator(".hd-msg--system")).to_contain_text("your message has arrived")
        _shot(second, "queue-number-2-mobile")
        _shot(first, "queue-number-1-desktop")

        # The agent frees a slot and claims the first chat: the second moves up
        chat_server.call(agents_update, {"max_chats": 1})
        agent = AgentSocket(browser, chat_server)
        first_id = chat_server.call(conversations)[0]["id"]
        agent.send({"type": "conversation.claim", "conversation_id": first_id})
        expect(second_widget.locator(".hd-queue")).to_contain_text("You're number 1 in line")
        expect(first_widget.locator(".hd-queue")).to_be_hidden()
        expect(first_widget.locator(".hd-status")).to_have_text(f"Chatting with {AGENT_NAME}")
        _shot(second, "queue-number-1-mobile")
        assert errors == []
    finally:
        if agent:
            agent.close()
        first_context.close()
        second_context.close()


# --- R9, R19, R4: unread badge after a reload, rating, transcript on request -------------------


def test_returning_visitor_badge_then_rating_and_transcript_after_the_agent_ends(
    browser: Browser, chat_server: ChatServer
) -> None:
    errors: list[str] = []
    context, shop = _visitor(browser, errors)
    agent = AgentSocket(browser, chat_server)
    try:
        shop.goto(f"{chat_server.url}/demo/")
        widget = _widget(shop)
        widget.locator("button.hd-bubble").click()
        _send(widget, "Can I exchange a jacket?")
        expect(widget.locator(".hd-transcript-link")).to_be_visible()
        widget.locator(".hd-close").click()

        conversation_id = chat_server.call(conversations)[0]["id"]
        agent.send({"type": "conversation.claim", "conversation_id": conversation_id})
        agent.wait("f => f.type === 'conversation.updated' && f.conversation.status === 'active'")
        agent.send({"type": "message.send", "conversation_id": conversation_id, "client_id": "r-1", "body": REPLY})
        agent.wait("f => f.type === 'message.ack'")

        # Back later: the answers are there, counted on the bubble; the panel stays closed
        shop.reload()
        badge = widget.locator(".hd-badge")
        expect(badge).to_have_text("2")  # "Alex Agent joined" and the reply
        expect(widget.locator(".hd-panel")).to_be_hidden()
        _shot(shop, "returning-badge-desktop")
        widget.locator("button.hd-bubble").click()
        expect(widget.locator(".hd-msg--agent")).to_contain_text(REPLY)
        expect(badge).to_be_hidden()

        # The agent ends the chat: rating, comment and the transcript request
        agent.send({"type": "conversation.end", "conversation_id": conversation_id})
        expect(widget.locator(".hd-status")).to_have_text("Chat ended")
        rate = widget.locator(".hd-rate")
        expect(rate).to_be_visible()
        expect(rate.locator("button.hd-star")).to_have_count(5)
        expect(widget.locator("button.hd-new")).to_be_visible()
        _shot(shop, "rating-desktop")
        rate.locator("button[aria-label^='5 of 5']").click()
        expect(rate.locator("button[aria-label^='5 of 5']")).to_have_attribute("aria-pressed", "true")
        rate.locator("textarea[name=comment]").fill("Quick and kind")
        rate.locator("button.hd-rate-send").click()
        expect(widget.locator(".hd-rate-thanks")).to_be_visible()
        expect(rate).to_be_hidden()

        widget.locator(".hd-transcript-link").click()
        box = widget.locator(".hd-transcript")
        expect(box.locator("input[name=marketing_consent]")).not_to_be_checked()
        box.locator("input[name=email]").fill("not-an-email")
        box.locator("button[type=submit]").click()
        expect(box.locator(".hd-field-error")).to_contain_text("valid email")
        box.locator("input[name=email]").fill("anna@example.com")
        box.locator("button[type=submit]").click()
        expect(widget.locator(".hd-contact-done")).to_contain_text("anna@example.com")
        expect(widget.locator(".hd-transcript-link")).to_be_hidden()
        _shot(shop, "rated-desktop")

        stored = _eventually(lambda: chat_server.call(conversations), lambda c: c[0]["transcript"])[0]
        assert (stored["rating"], stored["comment"], stored["transcript"]) == (5, "Quick and kind", True)
        assert stored["email"] == "anna@example.com"
        assert errors == []
    finally:
        agent.close()
        context.close()
