"""The console's knowledge base and feedback helpers, in real browsers through a real server.

A prospect asks from the widget how to return a mug; the agent claims the chat and the
panel suggests the help-centre article on returns (R15). "Insert link" puts its title and
link into the composer at the caret and counts the insertion; the visitor gets the link,
and clicking it opens the article and counts the click.
Alt+F logs a feature request from the chat, offered similar open items first, and the
backlog records it as coming from a prospect (R20, R22). "Draft article…" turns a picked
agent answer into a draft article linked to the chat (R21).

The server, its database and Chromium come from tests/browser/conftest.py. Screenshots
of every step go to test-results/console_knowledge/ (git-ignored) for a human to look at.
"""

import re
import shutil

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.conftest import ChatServer, ask_from_widget, expect, log_in_to_console, watch_errors
from tests.servers import PROJECT_ROOT

pytestmark = pytest.mark.browser

AGENT_NAME = "Kim Agent"
AGENT_PASSWORD = "browser-test-pass-2026"
TOPIC_SLUG = "returns"
ARTICLE_TITLE = "How to return an item"
ARTICLE_BODY = "You can send back most items within 30 days. Start returns from your orders page; refunds follow."
QUESTION = "how do I return my mug?"
OPENER = "Happy to help with that."
ANSWER = "Start the return from your orders page and we refund you once it arrives."
EXISTING_ITEM = "Printable return labels in the parcel"
FEEDBACK_SUMMARY = "Return labels by email"

SCREENSHOTS = PROJECT_ROOT / "test-results" / "console_knowledge"


def seed(origin: str) -> dict[str, object]:
    """The shop and its returns topic, an agent on the team, a published article on returns,
    and an open feature request the new one looks like."""
    from chat.models import Site
    from feedback.models import FeedbackItem, Source
    from tests.agents.factories import make_agent, make_team
    from tests.chat.factories import make_topic
    from tests.knowledgebase.factories import make_article

    site = Site.objects.create(name="Demo Shop", allowed_origins=origin)
    topic = make_topic(site=site, slug=TOPIC_SLUG)
    team = make_team(name="Orders & Returns", topics=[topic], is_default=True)
    agent = make_agent(teams=[team], name=AGENT_NAME, password=AGENT_PASSWORD)
    article = make_article(title=ARTICLE_TITLE, body=ARTICLE_BODY)
    make_article(title="Gift cards", body="Gift cards never expire.")
    FeedbackItem.objects.create(kind="feature", summary=EXISTING_ITEM, source=Source.CUSTOMER, created_by=agent)
    return {"agent_email": agent.user.email, "article_id": article.pk}


def usage_events() -> list[dict[str, object]]:
    from knowledgebase.models import ArticleUsage

    return [
        {"kind": usage.kind, "article_id": usage.article_id, "conversation_id": usage.conversation_id}
        for usage in ArticleUsage.objects.order_by("pk")
    ]


def stored_messages() -> list[dict[str, object]]:
    from chat.models import Message

    return [
        {"conversation_id": m.conversation_id, "sender": m.sender, "body": m.body}
        for m in Message.objects.order_by("conversation_id", "seq")
    ]


def feedback_items() -> list[dict[str, object]]:
    from feedback.models import FeedbackItem

    return [
        {
            "kind": item.kind,
            "summary": item.summary,
            "source": item.source,
            "mentions": [
                {"conversation_id": m.conversation_id, "source": m.source, "quote": m.quote}
                for m in item.mentions.order_by("pk")
            ],
        }
        for item in FeedbackItem.objects.order_by("pk")
    ]


def answered_chat(question: str, answer: str) -> int:
    """A prospect's chat with the agent: a question and the agent's answer, through the services."""
    import uuid

    from agents.models import Agent
    from chat.models import Site
    from chat.services.conversations import conversation_claim
    from chat.services.messages import message_post
    from chat.services.visitors import conversation_start
    from tests.chat.factories import make_visitor

    agent = Agent.objects.get()
    visitor, _token = make_visitor(site=Site.objects.get())
    conversation = conversation_start(visitor=visitor, topic_slug=TOPIC_SLUG)
    message_post(conversation_id=conversation.pk, author=visitor, body=question, client_id=str(uuid.uuid4()))
    conversation_claim(conversation_id=conversation.pk, agent=agent)
    message_post(conversation_id=conversation.pk, author=agent, body=answer, client_id=str(uuid.uuid4()))
    return conversation.pk


def drafted_articles() -> list[dict[str, object]]:
    from knowledgebase.models import Article

    return [
        {
            "title": a.title,
            "body": a.body,
            "status": a.status,
            "conversations": list(a.source_conversations.values_list("pk", flat=True)),
        }
        for a in Article.objects.filter(status=Article.Status.DRAFT).order_by("pk")
    ]


class Shots:
    """Numbered screenshots of a page, one per step."""

    def __init__(self, prefix: str, clear: bool) -> None:
        if clear:
            shutil.rmtree(SCREENSHOTS, ignore_errors=True)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.count = 0

    def __call__(self, page: Page, name: str) -> None:
        self.count += 1
        page.screenshot(path=SCREENSHOTS / f"{self.prefix}-{self.count:02d}-{name}.png")


def test_suggested_article_link_and_feedback_from_a_chat(browser: Browser, chat_server: ChatServer) -> None:
    errors: list[str] = []
    shot = Shots("a", clear=True)
    article_id = chat_server.data["article_id"]
    link = f"{chat_server.url}/help/a/{article_id}/go"
    visitor = browser.new_context(viewport={"width": 1280, "height": 800})
    agent = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        # Given a prospect who asks from the widget how to return a mug
        shop = watch_errors(visitor.new_page(), errors)
        widget = ask_from_widget(shop, chat_server.url, TOPIC_SLUG, QUESTION)

        # When the agent claims the chat
        console = log_in_to_console(agent, chat_server, AGENT_PASSWORD, errors)
        queued = console.locator("#queue li[data-conversation-id]")
        expect(queued).to_contain_text(QUESTION)
        queued.locator("button.claim").click()
        expect(console.locator("#chats li[data-conversation-id]")).to_have_count(1)
        conversation_id = int(console.locator("#chats li[data-conversation-id]").get_attribute("data-conversation-id"))
        composer = console.locator("#composer-body")
        expect(composer).to_be_focused()

        # Then the panel suggests the article on returns for the visitor's question (R15)
        suggestions = console.locator("#kb-suggest")
        expect(suggestions.locator(".kb-question")).to_contain_text(QUESTION)
        article = suggestions.locator(f"li.kb-article[data-article-id='{article_id}']")
        expect(article.locator(".kb-article-title")).to_have_text(ARTICLE_TITLE)
        expect(suggestions).not_to_contain_text("Gift cards")
        shot(console, "suggested")

        # "Insert link" puts the title and its link at the caret, keeping the text around it
        composer.fill(OPENER)
        article.get_by_role("button", name="Insert link").click()
        expect(composer).to_have_value(f"{OPENER} {ARTICLE_TITLE}: {link}")
        expect(composer).to_be_focused()
        shot(console, "link-inserted")
        composer.press("Enter")
        expect(composer).to_have_value("")
        expect(console.locator("#transcript .msg--agent[data-seq]").last).to_contain_text(link)

        # The visitor gets the link, and the database counts the insertion for this chat
        expect(widget.locator(".hd-msg--agent").last).to_contain_text(f"{ARTICLE_TITLE}: {link}")
        shot(shop, "visitor-sees-link")
        sent = [m for m in chat_server.call(stored_messages) if m["sender"] == "agent"]
        assert sent[-1]["body"] == f"{OPENER} {ARTICLE_TITLE}: {link}"
        inserted = [e for e in chat_server.call(usage_events) if e["kind"] == "inserted"]
        assert inserted == [{"kind": "inserted", "article_id": article_id, "conversation_id": conversation_id}]

        # The visitor clicks the link: the article opens in a new tab and the click is counted
        with shop.expect_popup() as opened:
            widget.locator(f".hd-msg--agent a[href='{link}']").last.click()
        article_tab = watch_errors(opened.value, errors)
        expect(article_tab.locator("h1")).to_have_text(ARTICLE_TITLE)
        assert re.search(r"/help/article-\d+/$", article_tab.url), article_tab.url
        clicked = [e for e in chat_server.call(usage_events) if e["kind"] == "clicked"]
        assert clicked == [{"kind": "clicked", "article_id": article_id, "conversation_id": None}]
        article_tab.close()

        # Alt+F opens the feedback form: a prospect's, quoting the visitor's question (R20, R22)
        composer.press("Alt+f")
        dialog = console.locator("#feedback-dialog")
        expect(dialog).to_be_visible()
        expect(dialog.locator("#feedback-source")).to_have_text("Prospect")
        expect(dialog.locator("#feedback-route")).to_contain_text("CRM")
        expect(dialog.locator("#feedback-kind")).to_have_value("feature")
        expect(dialog.locator("#feedback-quote")).to_have_value(QUESTION)
        summary = dialog.locator("#feedback-summary")
        expect(summary).to_be_focused()

        # Typing the summary offers the similar open item to merge into
        summary.press_sequentially(FEEDBACK_SUMMARY)
        similar = dialog.locator("#feedback-similar")
        expect(similar.locator(".feedback-similar-item")).to_contain_text(EXISTING_ITEM)
        expect(similar.get_by_role("button", name="Add mention")).to_be_visible()
        shot(console, "feedback-form")

        # Enter logs it as a new item; the notice confirms it
        summary.press("Enter")
        expect(dialog).to_be_hidden()
        notice = console.locator("#notice")
        expect(notice).to_contain_text(f"Feature request logged: “{FEEDBACK_SUMMARY}”")
        shot(console, "feedback-logged")
        items = chat_server.call(feedback_items)
        assert items[-1] == {
            "kind": "feature",
            "summary": FEEDBACK_SUMMARY,
            "source": "prospect",
            "mentions": [{"conversation_id": conversation_id, "source": "prospect", "quote": QUESTION}],
        }
        assert items[0]["mentions"] == []  # the similar item was only offered
        assert errors == []
    finally:
        visitor.close()
        agent.close()


def test_draft_article_from_picked_answers(browser: Browser, chat_server: ChatServer) -> None:
    errors: list[str] = []
    shot = Shots("b", clear=False)
    conversation_id = chat_server.call(answered_chat, QUESTION, ANSWER)
    agent = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        # Given the agent's chat with an answer in it
        console = log_in_to_console(agent, chat_server, AGENT_PASSWORD, errors)
        chat = console.locator(f"#chats li[data-conversation-id='{conversation_id}']")
        chat.click()
        answer = console.locator("#transcript .msg--agent[data-seq]")
        expect(answer).to_contain_text(ANSWER)
        expect(console.locator("#chat-title")).to_have_text("Anonymous visitor")
        # Opening a chat asks for suggestions too (R15)
        expect(console.locator("#kb-suggest .kb-article-title")).to_have_text(ARTICLE_TITLE)

        # When the agent picks the answer and creates a draft (R21)
        console.locator("#kb-draft-open").click()
        expect(console.locator("#kb-draft-bar")).to_be_visible()
        answer.locator("input.msg-pick").check()
        expect(console.locator("#kb-draft-count")).to_have_text("1 answer picked for the article.")
        shot(console, "draft-picked")
        console.locator("#kb-draft-create").click()

        # Then a notice links to the draft, and the draft is linked to the chat
        notice = console.locator("#notice")
        expect(notice).to_be_visible()
        shot(console, "draft-created")
        expect(notice).to_contain_text(f"Draft article created: “{QUESTION}”")
        expect(notice.get_by_role("link", name="Edit the draft")).to_have_attribute(
            "href", re.compile(r"/console/kb/articles/\d+/edit/$")
        )
        assert chat_server.call(drafted_articles) == [
            {"title": QUESTION, "body": ANSWER, "status": "draft", "conversations": [conversation_id]}
        ]
        assert errors == []
    finally:
        agent.close()
