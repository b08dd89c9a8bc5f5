"""Labels and search in a real browser: an agent labels a chat from the console, the label
shows as a readable chip and reaches the agent's other console tab live, the lists filter
by it, and the search page finds the chat by its words and label, with the match marked.

Screenshots go to test-results/labels_search/ (git-ignored).
"""

import re
import shutil

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import ChatServer, expect, log_in_to_console, watch_errors
from tests.servers import PROJECT_ROOT

pytestmark = pytest.mark.browser

AGENT_PASSWORD = "browser-test-pass-2026"
QUESTION = "My parcel <b>never</b> arrived"

SCREENSHOTS = PROJECT_ROOT / "test-results" / "labels_search"

# A visitor socket in the page: hello, start a chat, ask; resolves when the question is stored.
VISITOR_SCRIPT = """async ({siteKey, body}) => {
  const ws = new WebSocket(`ws://${location.host}/ws/visitor/${siteKey}/`);
  const frames = [];
  let wake = null;
  ws.onmessage = (event) => { frames.push(JSON.parse(event.data)); if (wake) wake(); };
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  const ask = async (frame, test) => {
    ws.send(JSON.stringify(frame));
    for (;;) {
      const index = frames.findIndex((f) => test(f) || f.type === "error");
      if (index !== -1) return frames.splice(index, 1)[0];
      await new Promise((resolve) => { wake = resolve; });
    }
  };
  await ask({type: "hello", token: null}, (f) => f.type === "welcome");
  const started = await ask({type: "conversation.start", topic: "returns"}, (f) => f.type === "conversation.updated");
  if (started.type === "error") return started;
  const acked = await ask({type: "message.send", conversation_id: started.conversation.id,
    client_id: crypto.randomUUID(), body}, (f) => f.type === "message.ack");
  return acked.type === "message.ack" ? "ok" : acked;
}"""


def seed(origin: str) -> dict[str, object]:
    from chat.models import Label, Site
    from tests.agents.factories import make_agent, make_team
    from tests.chat.factories import make_topic

    site = Site.objects.create(name="Demo Shop", allowed_origins=origin)
    team = make_team(topics=[make_topic(site=site, slug="returns")], is_default=True)
    agent = make_agent(teams=[team], name="Alex Agent", password=AGENT_PASSWORD)
    Label.objects.create(name="VIP", colour="#ffd33d")  # pale: wants black text
    Label.objects.create(name="Billing", colour="#0a3069")  # dark: wants white text
    return {"agent_email": agent.user.email, "site_key": site.key}


def test_agent_labels_a_chat_and_finds_it_by_search(browser: Browser, chat_server: ChatServer) -> None:
    errors: list[str] = []
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    visitor = browser.new_context()
    agent = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        # Given a visitor waiting with a question, and the agent's console open in two tabs
        page = watch_errors(visitor.new_page(), errors)
        page.goto(f"{chat_server.url}/accounts/login/")
        assert page.evaluate(VISITOR_SCRIPT, {"siteKey": chat_server.data["site_key"], "body": QUESTION}) == "ok"
        console = log_in_to_console(agent, chat_server, AGENT_PASSWORD, errors)
        other_tab = watch_errors(agent.new_page(), errors)
        other_tab.goto(f"{chat_server.url}/console/")
        expect(other_tab.locator("#connection-status")).to_have_text("Connected")

        # When the agent claims the chat and puts the VIP label on it
        console.locator("#queue li[data-conversation-id] button.claim").click()
        mine = console.locator("#chats li[data-conversation-id]")
        expect(mine).to_have_count(1)
        picker = console.locator("#chat-labels select.label-add")
        expect(picker).to_be_visible()
        picker.select_option(label="VIP")

        # Then the header and the list show a VIP chip, black on yellow for contrast
        header_chip = console.locator("#chat-labels .label-chip")
        expect(header_chip).to_contain_text("VIP")
        expect(header_chip).to_have_css("color", "rgb(0, 0, 0)")
        expect(header_chip).to_have_css("background-color", "rgb(255, 211, 61)")
        expect(mine.locator(".conv-labels .label-chip")).to_have_text("VIP")
        # And the other tab shows it live, without a reload
        expect(other_tab.locator("#chats li[data-conversation-id] .label-chip")).to_have_text("VIP")
        console.screenshot(path=SCREENSHOTS / "01-labelled.png")

        # When a second label goes on and the first comes off
        console.locator("#chat-labels select.label-add").select_option(label="Billing")
        expect(console.locator("#chat-labels .label-chip")).to_have_count(2)
        console.get_by_role("button", name="Remove the label VIP").click()
        expect(console.locator("#chat-labels .label-chip")).to_have_count(1)
        expect(other_tab.locator("#chats .label-chip")).to_have_text("Billing")
        expect(console.locator("#chat-labels .label-chip")).to_have_css("color", "rgb(255, 255, 255)")

        # And the lists filter by label
        console.locator("#label-filter").select_option(label="Labelled VIP")
        expect(console.locator("#chats li[data-conversation-id]")).to_have_count(0)
        console.locator("#label-filter").select_option(label="Labelled Billing")
        expect(console.locator("#chats li[data-conversation-id]")).to_have_count(1)

        # Then the search page, from the console's link, finds the chat by a word and its label
        console.locator("#search-link").click()
        expect(console).to_have_url(re.compile(r"/console/search/$"))
        console.locator("input[name=q]").fill("parcel")
        console.locator("select[name=label]").select_option(label="Billing")
        console.get_by_role("button", name="Search").click()
        rows = console.locator("table.search-results tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.locator("mark")).to_have_text("parcel")
        expect(rows.locator(".label-chip")).to_have_text("Billing")
        expect(console.locator("table.search-results b")).to_have_count(0)  # the visitor's markup is text
        console.screenshot(path=SCREENSHOTS / "02-search.png")

        # And its link opens the transcript read-only
        rows.locator("a").first.click()
        expect(console.locator(".sv-transcript")).to_contain_text("My parcel")
        assert errors == []
    finally:
        visitor.close()
        agent.close()
