"""Languages in real browsers: a German visitor's widget, and a German agent's console.

The visitor's browser context has the locale de-DE (navigator.languages and Accept-Language);
the widget picks German from its config, loads the German catalogue and says hello in German,
so the system message of the claim is stored in German. The agent's browser is English, but
the agent chose German (Agent.language): the console, its JavaScript catalogue included, is
German.
"""

import re

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import ChatServer, expect, watch_errors
from tests.servers import PROJECT_ROOT

pytestmark = pytest.mark.browser

AGENT_NAME = "Alex Agent"
AGENT_PASSWORD = "browser-test-pass-2026"
QUESTION = "Guten Tag, die Jacke ist zu klein. Kann ich sie umtauschen?"
SHOTS = PROJECT_ROOT / "test-results" / "languages"


def seed(origin: str) -> dict[str, str]:
    from chat.models import Site
    from tests.agents.factories import make_agent, make_team
    from tests.chat.factories import make_topic

    site = Site.objects.create(name="Demo Shop", allowed_origins=origin)
    topic = make_topic(site=site, slug="returns")
    team = make_team(topics=[topic], is_default=True)
    agent = make_agent(teams=[team], name=AGENT_NAME, password=AGENT_PASSWORD)
    agent.language = "de"
    agent.save()
    return {"agent_email": agent.user.email}


def visitor_languages() -> list[str]:
    from chat.models import Visitor

    return list(Visitor.objects.values_list("language", flat=True))


def test_german_visitor_and_german_agent(browser: Browser, chat_server: ChatServer) -> None:
    errors: list[str] = []
    visitor = browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 800})
    agent = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    try:
        # Given a visitor whose browser speaks German, on the shop
        shop = watch_errors(visitor.new_page(), errors)
        shop.goto(f"{chat_server.url}/demo/")
        widget = shop.locator("#helpdesk-widget")  # Playwright's CSS pierces the open shadow root

        # Then the bubble and the panel speak German
        bubble = widget.locator(".hd-bubble")
        expect(bubble).to_have_attribute("aria-label", "Chat öffnen: Chatten Sie mit uns")
        bubble.click()
        expect(widget.locator(".hd-status")).to_have_text("Chatten Sie mit uns")
        expect(widget.locator("textarea[name=body]")).to_have_attribute("placeholder", "Ihre Nachricht…")
        expect(widget.locator("button.hd-send")).to_have_text("Senden")
        expect(widget.locator("select[name=topic] option[value='']")).to_have_text("Kein Thema / Nur eine Frage")

        # When the visitor asks, the hello carried the widget's language
        widget.locator("textarea[name=body]").fill(QUESTION)
        widget.locator("button.hd-send").click()
        expect(widget.locator(".hd-messages .hd-msg--visitor[data-seq]")).to_contain_text(QUESTION)
        assert chat_server.call(visitor_languages) == ["de"]

        # And an agent who chose German logs in from an English browser: the console is German
        console = watch_errors(agent.new_page(), errors)
        console.goto(f"{chat_server.url}/console/")
        expect(console).to_have_url(re.compile(r"/accounts/login/"))
        console.locator("input[name=username]").fill(chat_server.agent_email)
        console.locator("input[name=password]").fill(AGENT_PASSWORD)
        console.locator("button[type=submit]").click()
        expect(console).to_have_url(re.compile(r"/console/$"))
        expect(console.locator("html")).to_have_attribute("lang", "de")
        expect(console.locator("#chats-heading")).to_contain_text("Meine Chats")
        expect(console.locator("#connection-status")).to_have_text("Verbunden")  # the JavaScript catalogue

        # When the agent claims the chat (its button drawn by the console's JavaScript)
        queued = console.locator("#queue li[data-conversation-id]")
        expect(queued).to_have_count(1)
        queued.locator("button.claim").click()
        expect(console.locator("#chats li[data-conversation-id]")).to_have_count(1)

        # Then the visitor reads the claim in German, and the widget's status says who is there
        joined = f"{AGENT_NAME} ist dem Chat beigetreten."
        expect(widget.locator(".hd-messages .hd-msg--system")).to_contain_text(joined)
        expect(widget.locator(".hd-status")).to_have_text(f"Im Chat mit {AGENT_NAME}")
        SHOTS.mkdir(parents=True, exist_ok=True)
        shop.screenshot(path=str(SHOTS / "widget-de.png"))
        console.screenshot(path=str(SHOTS / "console-de.png"))
        assert errors == []
    finally:
        visitor.close()
        agent.close()


def test_english_browser_gets_the_english_widget(browser: Browser, chat_server: ChatServer) -> None:
    errors: list[str] = []
    context = browser.new_context(locale="fr-FR")  # French is not offered: English, the default
    try:
        shop = watch_errors(context.new_page(), errors)
        shop.goto(f"{chat_server.url}/demo/")
        widget = shop.locator("#helpdesk-widget")
        expect(widget.locator(".hd-bubble")).to_have_attribute("aria-label", "Open chat: Chat with us")
        widget.locator(".hd-bubble").click()
        expect(widget.locator("button.hd-send")).to_have_text("Send")
        assert errors == []
    finally:
        context.close()
