"""R5 in a real browser: the agent hands a chat to a colleague from the transfer dialog.

The dialog asks the server for its targets when it opens (`transfer.targets`), so it shows
who is available at that moment: a colleague who went away after the console connected
is shown as away, not as the `welcome` would have had it.
"""

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import ChatServer, ask_from_widget, expect, log_in_to_console, watch_errors

pytestmark = pytest.mark.browser

AGENT_PASSWORD = "browser-test-pass-2026"
TOPIC_SLUG = "returns"
QUESTION = "Can I still change the delivery address of order 1234?"
REASON = "Address changes are done by Billing"


def seed(origin: str) -> dict[str, object]:
    """The shop, a topic served by a default team of two agents, and a second team."""
    from chat.models import Site
    from tests.agents.factories import make_agent, make_team
    from tests.chat.factories import make_topic

    site = Site.objects.create(name="Demo Shop", allowed_origins=origin)
    topic = make_topic(site=site, slug=TOPIC_SLUG)
    team = make_team(name="Orders & Returns", topics=[topic], is_default=True)
    make_team(name="Billing")
    agent = make_agent(teams=[team], name="Alex Agent", password=AGENT_PASSWORD)
    colleague = make_agent(teams=[team], name="Sam Colleague")
    make_agent(teams=[team], name="Kim Colleague")
    return {"agent_email": agent.user.email, "colleague_id": colleague.user_id}


def go_away(name: str) -> int:
    from agents.models import Agent

    return Agent.objects.filter(display_name=name).update(status=Agent.Status.AWAY)


def owner_of_the_chat() -> str | None:
    from chat.models import Conversation

    conversation = Conversation.objects.select_related("assigned_agent__agent").get()
    return conversation.assigned_agent.agent.display_name if conversation.assigned_agent else None


def test_agent_transfers_a_chat_to_the_colleague_available_now(browser: Browser, chat_server: ChatServer) -> None:
    errors: list[str] = []
    visitor = browser.new_context(viewport={"width": 1280, "height": 800})
    agent = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        ask_from_widget(watch_errors(visitor.new_page(), errors), chat_server.url, TOPIC_SLUG, QUESTION)
        console = log_in_to_console(agent, chat_server, AGENT_PASSWORD, errors)
        queued = console.locator("#queue li[data-conversation-id]")
        expect(queued).to_contain_text(QUESTION)
        queued.locator("button.claim").click()
        expect(console.locator("#chats li[data-conversation-id]")).to_have_count(1)

        # A colleague steps away after the console connected
        assert chat_server.call(go_away, "Kim Colleague") == 1

        console.locator("#transfer-open").click()
        dialog = console.locator("#transfer-dialog")
        expect(dialog).to_be_visible()
        choices = dialog.locator("#transfer-agents li")
        expect(choices).to_have_count(2)  # the colleagues, not the agent itself
        expect(choices.nth(0)).to_contain_text("Sam Colleague")  # the available one first
        expect(choices.nth(0)).to_contain_text("Available")
        expect(choices.nth(1)).to_contain_text("Kim Colleague")
        expect(choices.nth(1)).to_contain_text("Away")
        expect(dialog.locator("#transfer-teams li")).to_have_text(["Billing", "Orders & Returns"])

        choices.nth(0).locator("input[type=radio]").check()
        dialog.locator("#transfer-reason").fill(REASON)
        dialog.locator("#transfer-submit").click()

        expect(dialog).to_be_hidden()
        expect(console.locator("#notice")).to_contain_text("Transferred to Sam Colleague")
        assert chat_server.call(owner_of_the_chat) == "Sam Colleague"
        assert errors == []
    finally:
        visitor.close()
        agent.close()
