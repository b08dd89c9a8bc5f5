"""The console shows every string from the server as text, never as HTML, in a real browser.

A visitor (a raw visitor socket opened from a page of the site, so the widget plays no
part) reports the pages it saw, one titled with markup, leaves a message while nobody is
online, ends that chat and leaves a second one with the same markup. The agent opens the
second chat: the message, its preview, the page title and the first chat's preview all
show as the characters typed, no element is made from them and no script of theirs runs.
The customer panel lists the pages newest first as links that open in a new tab, and the
past conversation with its rating (R19); the queue marks a message left offline (R3).

Screenshots go to test-results/console_escaping/ (git-ignored).
"""

import shutil

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import ChatServer, expect, log_in_to_console, watch_errors
from tests.servers import PROJECT_ROOT

pytestmark = pytest.mark.browser

AGENT_NAME = "Alex Agent"
AGENT_PASSWORD = "browser-test-pass-2026"
TOPIC_SLUG = "returns"
MARKUP = '<img src=x onerror="window.__xss=1">'
FIRST_MESSAGE = f"First question {MARKUP}"
SECOND_MESSAGE = f"Still waiting {MARKUP}"
OLDER_PAGE = {"url": "https://shop.example.com/mugs", "title": "Mugs", "at": "2026-11-25T10:00:00Z"}
NEWER_PAGE = {"url": "https://shop.example.com/basket?x=1", "title": MARKUP, "at": "2026-11-25T10:05:00Z"}

SCREENSHOTS = PROJECT_ROOT / "test-results" / "console_escaping"

# A visitor client in the page: each step sends a frame and waits for the answer it names.
VISITOR_SCRIPT = """async ({siteKey, pages, first, second}) => {
  const ws = new WebSocket(`ws://${location.host}/ws/visitor/${siteKey}/`);
  const frames = [];
  let wake = null;
  ws.onmessage = (event) => { frames.push(JSON.parse(event.data)); if (wake) wake(); };
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  const next = async (test) => {
    for (;;) {
      const index = frames.findIndex(test);
      if (index !== -1) return frames.splice(index, 1)[0];
      await new Promise((resolve) => { wake = resolve; });
    }
  };
  const ask = async (frame, test) => { ws.send(JSON.stringify(frame)); return next(test); };
  const failed = (f) => f.type === "error";
  await ask({type: "hello", token: null, pages}, (f) => f.type === "welcome" || failed(f));
  for (const [body, end] of [[first, true], [second, false]]) {
    const started = await ask({type: "conversation.start", topic: "returns", offline: true},
      (f) => (f.type === "conversation.updated" && f.conversation.status === "queued") || failed(f));
    if (failed(started)) return started;
    const id = started.conversation.id;
    const acked = await ask({type: "message.send", conversation_id: id, client_id: crypto.randomUUID(), body},
      (f) => f.type === "message.ack" || failed(f));
    if (failed(acked)) return acked;
    if (end) {
      const ended = await ask({type: "conversation.end", conversation_id: id},
        (f) => (f.type === "conversation.updated" && f.conversation.status === "ended") || failed(f));
      if (failed(ended)) return ended;
    }
  }
  ws.close();
  return "ok";
}"""


def seed(origin: str) -> dict[str, object]:
    from chat.models import Site
    from tests.agents.factories import make_agent, make_team
    from tests.chat.factories import make_topic

    site = Site.objects.create(name="Demo Shop", allowed_origins=origin)
    topic = make_topic(site=site, slug=TOPIC_SLUG)
    team = make_team(topics=[topic], is_default=True)
    agent = make_agent(teams=[team], name=AGENT_NAME, password=AGENT_PASSWORD)
    return {"agent_email": agent.user.email, "site_key": site.key}


def rate_ended_chats(rating: int) -> int:
    """What the visitor's `conversation.rate` stores; here without an agent's answer first."""
    from chat.models import Conversation

    return Conversation.objects.filter(status="ended").update(rating=rating)


def test_console_shows_server_strings_as_text_never_as_html(browser: Browser, chat_server: ChatServer) -> None:
    errors: list[str] = []
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    visitor = browser.new_context()
    agent = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        # Given a visitor whose page title and messages carry markup, with an ended, rated chat
        page = watch_errors(visitor.new_page(), errors)
        page.goto(f"{chat_server.url}/accounts/login/")
        outcome = page.evaluate(
            VISITOR_SCRIPT,
            {
                "siteKey": chat_server.data["site_key"],
                "pages": [OLDER_PAGE, NEWER_PAGE],
                "first": FIRST_MESSAGE,
                "second": SECOND_MESSAGE,
            },
        )
        assert outcome == "ok"
        assert chat_server.call(rate_ended_chats, 4) == 1

        # When the agent logs in, the queue shows the waiting message as text, marked as left offline
        console = log_in_to_console(agent, chat_server, AGENT_PASSWORD, errors)
        expect(console.locator("#follow-ups-link")).to_have_attribute("href", "/console/follow-ups/")
        queued = console.locator("#queue li[data-conversation-id]")
        expect(queued).to_have_count(1)
        expect(queued.locator(".conv-preview")).to_have_text(SECOND_MESSAGE)
        expect(queued.locator(".tag--offline")).to_have_text("Left a message")

        # And opens it
        queued.locator(".conv-title").click()
        expect(console.locator("#transcript .msg--visitor .msg-body")).to_have_text(SECOND_MESSAGE)
        expect(console.locator("#chat-kind .tag--offline")).to_have_text("Left a message")

        # Then the customer panel lists the pages newest first, as links to a new tab, titles as text
        links = console.locator("#visited-pages a")
        expect(links).to_have_text([MARKUP, "Mugs"])
        expect(links.first).to_have_attribute("href", NEWER_PAGE["url"])
        expect(links.first).to_have_attribute("target", "_blank")
        expect(links.first).to_have_attribute("rel", "noopener noreferrer")

        # And the earlier chat with its preview as text and its rating
        past = console.locator("#past-conversations li")
        expect(past).to_have_count(1)
        expect(past.locator(".past-conv-preview")).to_have_text(FIRST_MESSAGE)
        expect(past).to_contain_text("Ended")
        expect(past.locator(".rating")).to_have_text("★ 4/5")
        console.screenshot(path=SCREENSHOTS / "01-markup-shown-as-text.png")

        # And no element was made from the markup, and its script never ran
        expect(console.locator("#console img")).to_have_count(0)
        assert console.evaluate("window.__xss") is None
        assert errors == []
    finally:
        visitor.close()
        agent.close()
