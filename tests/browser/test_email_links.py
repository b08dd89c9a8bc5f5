"""The links in an email, followed in a real browser: the follow-up answer's way back to
the chat (R16) opens the widget on the same conversation with the answer in it, and the
unsubscribe link works with JavaScript turned off (R4)."""

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import ChatServer, ask_from_widget, expect, watch_errors

pytestmark = pytest.mark.browser

TOPIC_SLUG = "returns"
QUESTION = "Do you ship to Iceland?"
ANSWER = "Checked with the courier: yes, in 5 working days."


def seed(origin: str) -> dict[str, str]:
    from chat.models import Site
    from tests.agents.factories import make_agent, make_team
    from tests.chat.factories import make_topic

    site = Site.objects.create(name="Demo Shop", allowed_origins=origin)
    topic = make_topic(site=site, slug=TOPIC_SLUG)
    agent = make_agent(teams=[make_team(topics=[topic], is_default=True)])
    return {"agent_email": agent.user.email}


def answer_later_by_email(agent_email: str) -> dict[str, str]:
    """The agent takes the chat, does not know yet (follow-up), the visitor leaves an
    email, and the answer comes later: the links of the email it owes."""
    from agents.models import Agent
    from chat import services
    from chat.emails import email_render
    from chat.models import Conversation, OutboundEmail

    agent = Agent.objects.get(user__email=agent_email)
    conversation = Conversation.objects.get()
    services.conversation_claim(conversation_id=conversation.pk, agent=agent)
    services.conversation_follow_up(conversation_id=conversation.pk, agent=agent, needs=True)
    services.visitor_contact_set(
        visitor=conversation.visitor, email="anna@example.com", purpose="follow_up", conversation_id=conversation.pk
    )
    services.message_post(conversation_id=conversation.pk, author=agent, body=ANSWER, client_id="later")
    text = email_render(OutboundEmail.objects.get(kind="follow_up")).text
    chat_link = next(line for line in text.splitlines() if "where you can reply" in line).rsplit(" ", 1)[1]
    unsubscribe = next(line for line in text.splitlines() if "/email/unsubscribe/" in line).rsplit(" ", 1)[1]
    return {"chat_link": chat_link, "unsubscribe": unsubscribe}


def consent_log() -> list[list[object]]:
    from chat.models import ConsentRecord

    return [[r.email, r.given, r.source] for r in ConsentRecord.objects.order_by("recorded_at", "pk")]


def test_the_follow_up_emails_links_lead_back_to_the_chat_and_unsubscribe_without_javascript(
    browser: Browser, chat_server: ChatServer, tmp_path
) -> None:
    errors: list[str] = []
    # The worker rendering the email names this server as deployed (PUBLIC_URL).
    chat_server.env.update({"EMAIL_FILE_PATH": str(tmp_path / "emails"), "PUBLIC_URL": chat_server.url})
    visitor = browser.new_context(viewport={"width": 1280, "height": 800})
    no_js = browser.new_context(java_script_enabled=False)
    try:
        # Given a visitor who asked a question nobody could answer at once
        shop = watch_errors(visitor.new_page(), errors)
        widget = ask_from_widget(shop, chat_server.url, TOPIC_SLUG, QUESTION)
        shop.close()

        # When the answer comes later, by email
        links = chat_server.call(answer_later_by_email, chat_server.agent_email)
        assert links["chat_link"] == f"{chat_server.url}/demo/"
        assert links["unsubscribe"].startswith(f"{chat_server.url}/email/unsubscribe/")

        # Then its link back opens the page where the widget shows the same chat with the answer
        back = watch_errors(visitor.new_page(), errors)
        back.goto(links["chat_link"])
        widget = back.locator("#helpdesk-widget")
        widget.locator(".hd-bubble").click()
        expect(widget.locator(".hd-messages .hd-msg--visitor")).to_contain_text(QUESTION)
        expect(widget.locator(".hd-messages .hd-msg--agent").last).to_contain_text(ANSWER)
        expect(widget.locator("textarea[name=body]")).to_be_visible()  # and the visitor can reply

        # And its unsubscribe link asks, then unsubscribes, with no JavaScript at all
        page = no_js.new_page()
        page.goto(links["unsubscribe"])
        expect(page.locator("h1")).to_have_text("Unsubscribe from Demo Shop")
        assert chat_server.call(consent_log) == []
        page.get_by_role("button", name="Unsubscribe").click()
        expect(page.locator("h1")).to_have_text("You are unsubscribed")
        assert chat_server.call(consent_log) == [["anna@example.com", False, "unsubscribe_page"]]
        assert errors == []
    finally:
        visitor.close()
        no_js.close()
