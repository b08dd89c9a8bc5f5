"""A visitor and an agent chat in real browsers, through a real Daphne server.

Headless Chromium drives two browser contexts: the visitor on the demo shop with the
widget, and the agent in the console. The server, its own database and the browser
come from the fixtures in tests/browser/conftest.py; `seed()` below is this scenario's
data, created in the server's database once its port is known.
"""

import re

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import ChatServer, ask_from_widget, expect, log_in_to_console, watch_errors

pytestmark = pytest.mark.browser

AGENT_NAME = "Alex Agent"
AGENT_PASSWORD = "browser-test-pass-2026"
TOPIC_SLUG = "returns"
TOPIC_NAME = "Returns"
QUESTION = "Hello, the jacket I ordered is too small. Can I exchange it?"
REPLY = "Hi! Yes, of course. Which size would you like instead?"


def seed(origin: str) -> dict[str, str]:
    """Create the scenario's data; runs in a subprocess with the server's environment."""
    from chat.models import Site
    from tests.agents.factories import make_agent, make_team
    from tests.chat.factories import make_topic

    # The demo page looks its site up by this name (chat.views.demo_shop).
    site = Site.objects.create(name="Demo Shop", allowed_origins=origin)
    topic = make_topic(site=site, slug=TOPIC_SLUG)
    team = make_team(topics=[topic], is_default=True)
    agent = make_agent(teams=[team], name=AGENT_NAME, password=AGENT_PASSWORD)
    return {"agent_email": agent.user.email}


# --- The scenario -------------------------------------------------------------------------------


def test_visitor_and_agent_chat_through_widget_and_console(browser: Browser, chat_server: ChatServer) -> None:
    errors: list[str] = []
    visitor = browser.new_context(viewport={"width": 1280, "height": 800})
    agent = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        # Given a visitor on the shop who picks a topic and asks a question
        shop = watch_errors(visitor.new_page(), errors)
        widget = ask_from_widget(shop, chat_server.url, TOPIC_SLUG, QUESTION)

        # When an agent logs in, the chat waits in the queue with its R9 timer running
        console = log_in_to_console(agent, chat_server, AGENT_PASSWORD, errors)

        queued = console.locator("#queue li[data-conversation-id]")
        expect(queued).to_have_count(1)
        expect(queued).to_contain_text(TOPIC_NAME)
        expect(queued).to_contain_text(QUESTION)
        expect(queued.locator(".timer")).to_have_text(re.compile(r"^\d{2}:\d{2}$"))

        # And claims it: it moves to "My chats", still waiting for a reply, and opens
        queued.locator("button.claim").click()
        mine = console.locator("#chats li[data-conversation-id]")
        expect(mine).to_have_count(1)
        expect(console.locator("#queue li[data-conversation-id]")).to_have_count(0)
        expect(mine.locator(".timer")).to_have_text(re.compile(r"^\d{2}:\d{2}$"))
        expect(console.locator("#transcript .msg--visitor")).to_contain_text(QUESTION)
        expect(console.locator("#customer")).to_contain_text("Anonymous visitor")

        # And replies from the keyboard
        composer = console.locator("#composer textarea[name=body]")
        expect(composer).to_be_focused()
        composer.fill(REPLY)
        composer.press("Enter")
        expect(console.locator("#transcript .msg--agent[data-seq]")).to_contain_text(REPLY)
        expect(console.locator("#transcript .msg--pending")).to_have_count(0)
        expect(composer).to_have_value("")
        expect(composer).to_be_focused()

        # Then the customer is answered: the console stops the timer
        expect(mine.locator(".timer")).to_have_count(0)

        # And the visitor sees the agent join and the reply
        expect(widget.locator(".hd-messages .hd-msg--system")).to_contain_text(f"{AGENT_NAME} joined")
        expect(widget.locator(".hd-messages .hd-msg--agent")).to_contain_text(REPLY)

        # And each side sees that the other has read: the agent opened the chat after the
        # question, the visitor has the panel open while the reply arrives
        expect(widget.locator(".hd-messages .hd-msg--visitor .hd-seen")).to_have_text("Seen")
        expect(console.locator("#transcript .msg--agent .msg-seen")).to_have_text("Seen")

        # And after a reload the widget shows the whole conversation again, in order
        shop.reload()
        widget.locator(".hd-bubble").click()
        shown = widget.locator(".hd-messages .hd-msg[data-seq]")
        expect(shown).to_have_count(3)
        expect(shown.nth(0)).to_contain_text(QUESTION)
        expect(shown.nth(1)).to_contain_text(f"{AGENT_NAME} joined")
        expect(shown.nth(2)).to_contain_text(REPLY)
        assert [shown.nth(i).get_attribute("data-seq") for i in range(3)] == ["1", "2", "3"]

        assert errors == []
    finally:
        visitor.close()
        agent.close()
