"""The console makes the playbook the easy path, in real browsers through a real server.

A visitor asks from the widget; the agent claims the chat, answers with a canned response
that greets the customer by name (R13, R14), splits a long reply into blocks with one key
(R10), fixes chat slang from the composer's suggestions (R12), leaves a private note
(R17) and overrides a cold-reply warning on purpose (R11). The visitor sees every reply
as its own message, in order, and never the note; the database records the canned
response and the overridden warning. Typing shows both ways, and the console tells a
prospect from a customer (R22).

The server, its database and Chromium come from tests/browser/conftest.py. Screenshots
of every step go to test-results/console_playbook/ (git-ignored) for a human to look at.
"""

import re
import shutil

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.conftest import ChatServer, ask_from_widget, expect, log_in_to_console, watch_errors
from tests.servers import PROJECT_ROOT

pytestmark = pytest.mark.browser

AGENT_NAME = "Alex Agent"
AGENT_PASSWORD = "browser-test-pass-2026"
VISITOR_NAME = "Anna"
TOPIC_SLUG = "returns"
QUESTION = "Hi, the jacket I ordered is too small. Can I swap it for a bigger one?"
CANNED_BODY = "Hi {visitor.name}, thanks for waiting! I'm {agent.first_name}."
CANNED_RENDERED = "Hi Anna, thanks for waiting! I'm Alex."
# 44 words in three sentences: the server splits it after the first sentence (18 + 26 words).
SENTENCE_1 = "Our jackets run about one size small, so most customers go one size up from their usual fit."
SENTENCE_2 = "I can send the larger size today, with a prepaid return label for the small one in the same parcel."
SENTENCE_3 = "The exchange costs you nothing extra."
LONG_REPLY = f"{SENTENCE_1} {SENTENCE_2} {SENTENCE_3}"
BLOCKS = [SENTENCE_1, f"{SENTENCE_2} {SENTENCE_3}"]
SLANGY = "Thx for ur patience, I will check the stock now."
POLISHED = "Thank you for your patience, I will check the stock now."
NOTE = "Customer unsure about sizing; check the XL stock before promising a date."
COLD = "Sure"

SCREENSHOTS = PROJECT_ROOT / "test-results" / "console_playbook"


def seed(origin: str) -> dict[str, object]:
    """The shop, a topic served by a default team, an agent in it and the team's canned greeting."""
    from chat.models import Site
    from tests.agents.factories import make_agent, make_canned, make_team
    from tests.chat.factories import make_topic

    site = Site.objects.create(name="Demo Shop", allowed_origins=origin)
    topic = make_topic(site=site, slug=TOPIC_SLUG)
    team = make_team(name="Orders & Returns", topics=[topic], is_default=True)
    agent = make_agent(teams=[team], name=AGENT_NAME, password=AGENT_PASSWORD)
    canned = make_canned(shortcut="thanks", title="Thanks for waiting", body=CANNED_BODY, team=team)
    return {"agent_email": agent.user.email, "canned_id": canned.pk}


def name_visitor(name: str) -> int:
    """What a later step (a form, the CRM) would do: the widget itself never asks for a name (R4)."""
    from chat.models import Visitor

    return Visitor.objects.update(name=name)


def stored_messages() -> list[dict[str, object]]:
    from chat.models import Message

    return [
        {
            "seq": message.seq,
            "sender": message.sender,
            "body": message.body,
            "canned_response_id": message.canned_response_id,
            "warnings_overridden": message.warnings_overridden,
        }
        for message in Message.objects.order_by("conversation_id", "seq")
    ]


class Shots:
    """Numbered screenshots of a page, one per step."""

    def __init__(self) -> None:
        shutil.rmtree(SCREENSHOTS, ignore_errors=True)
        SCREENSHOTS.mkdir(parents=True)
        self.count = 0

    def __call__(self, page: Page, name: str) -> None:
        self.count += 1
        page.screenshot(path=SCREENSHOTS / f"{self.count:02d}-{name}.png")


def test_agent_follows_the_playbook_from_the_composer(browser: Browser, chat_server: ChatServer) -> None:
    errors: list[str] = []
    shot = Shots()
    visitor = browser.new_context(viewport={"width": 1280, "height": 800})
    agent = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        # Given a visitor who asks from the widget, and whose name becomes known
        shop = watch_errors(visitor.new_page(), errors)
        widget = ask_from_widget(shop, chat_server.url, TOPIC_SLUG, QUESTION)
        assert chat_server.call(name_visitor, VISITOR_NAME) == 1

        # When the agent logs in, the queue shows who is asking: a prospect, by name (R22)
        console = log_in_to_console(agent, chat_server, AGENT_PASSWORD, errors)
        expect(console.locator("#agent-status")).to_have_value("online")
        queued = console.locator("#queue li[data-conversation-id]")
        expect(queued).to_contain_text(QUESTION)
        expect(queued.locator(".kind-badge")).to_have_text("Prospect")
        shot(console, "queue")

        # And claims it
        queued.locator("button.claim").click()
        expect(console.locator("#chats li[data-conversation-id]")).to_contain_text(VISITOR_NAME)
        expect(console.locator("#customer")).to_contain_text("Prospect")
        expect(console.locator("#chat-title")).to_have_text(VISITOR_NAME)
        composer = console.locator("#composer-body")
        expect(composer).to_be_focused()

        # The visitor's typing shows in the console
        widget.locator("textarea[name=body]").press_sequentially("One more thing")
        expect(console.locator("#typing")).to_have_text(re.compile(f"{VISITOR_NAME} is typing"))
        shot(console, "claimed-visitor-typing")
        widget.locator("textarea[name=body]").fill("")

        # Canned response: "/" opens the list, Enter inserts it with the names filled in (R13, R14)
        composer.press_sequentially("/thanks")
        popup = console.locator("#canned-popup")
        expect(popup.locator("li[aria-selected=true]")).to_contain_text("/thanks")
        expect(popup.locator("li[aria-selected=true]")).to_contain_text(CANNED_RENDERED)
        expect(widget.locator(".hd-typing")).to_have_text(f"{AGENT_NAME} is typing…")
        shot(console, "canned-popup")
        composer.press("Enter")
        expect(composer).to_have_value(CANNED_RENDERED)
        expect(popup).to_be_hidden()
        expect(console.locator("#composer-hint")).to_contain_text("/thanks")
        shot(console, "canned-inserted")
        composer.press("Enter")
        expect(composer).to_have_value("")
        expect(console.locator("#transcript .msg--agent[data-seq]").last).to_contain_text(CANNED_RENDERED)
        expect(widget.locator(".hd-msg--agent").last).to_contain_text(CANNED_RENDERED)

        # A long reply is flagged while typing and split into blocks with one key (R10)
        composer.fill(LONG_REPLY)
        warnings = console.locator("#composer-warnings")
        expect(warnings).to_contain_text("44 words — split into blocks")
        shot(console, "long-reply-warned")
        composer.press("Alt+s")
        expect(composer).to_have_value("\n\n".join(BLOCKS))
        expect(console.locator("#blocks-list li")).to_have_count(2)
        expect(warnings).to_be_hidden()
        expect(console.locator("#composer-send")).to_have_text("Send 2 blocks")
        shot(console, "long-reply-split")
        composer.press("Enter")
        expect(composer).to_have_value("")
        expect(widget.locator(".hd-msg--agent")).to_have_count(3)
        expect(widget.locator(".hd-msg--agent").nth(1)).to_contain_text(BLOCKS[0])
        expect(widget.locator(".hd-msg--agent").nth(2)).to_contain_text(BLOCKS[1])

        # Chat slang is highlighted and fixed from its suggestions (R12)
        composer.fill(SLANGY)
        expect(warnings.locator("mark")).to_have_text(["Thx", "ur"])
        expect(console.locator("#composer-backdrop mark")).to_have_text(["Thx", "ur"])
        shot(console, "slang-flagged")
        warnings.get_by_role("button", name="Replace with “thank you”").click()
        warnings.get_by_role("button", name="Replace with “your”").click()
        expect(composer).to_have_value(POLISHED)
        expect(warnings).to_be_hidden()
        composer.press("Enter")
        expect(widget.locator(".hd-msg--agent")).to_have_count(4)

        # A private note, marked as one, for colleagues only (R17)
        composer.press("Alt+n")
        expect(console.locator("#mode-note")).to_have_attribute("aria-pressed", "true")
        composer.fill(NOTE)
        composer.press("Enter")
        note = console.locator("#transcript .msg--note[data-seq]")
        expect(note).to_contain_text(NOTE)
        expect(note).to_contain_text("Private note")
        shot(console, "private-note")

        # A cold one-word reply warns; the second Enter sends it anyway (R11)
        composer.press("Alt+n")
        expect(console.locator("#mode-reply")).to_have_attribute("aria-pressed", "true")
        composer.fill(COLD)
        expect(warnings).to_contain_text("cold")
        composer.press("Enter")
        expect(warnings).to_contain_text("Press Enter again to send anyway")
        expect(composer).to_have_value(COLD)
        shot(console, "cold-reply-armed")
        composer.press("Enter")
        expect(composer).to_have_value("")

        # Then the visitor got every reply as its own message, in order, and never the note
        expect(widget.locator(".hd-msg--agent")).to_have_count(5)
        expect(widget.locator(".hd-msg--agent").last).to_contain_text(COLD)
        assert widget.locator(".hd-messages").inner_text().count(NOTE[:20]) == 0
        # (the visitor stopped typing long ago: the indicator went away by itself)
        expect(console.locator("#typing")).to_be_hidden()
        assert [widget.locator(".hd-msg--agent .hd-body").nth(i).inner_text() for i in range(5)] == [
            CANNED_RENDERED,
            *BLOCKS,
            POLISHED,
            COLD,
        ]
        shot(shop, "visitor-view")

        # And a good reply becomes a canned response in two clicks (R13)
        block = console.locator("#transcript .msg--agent[data-seq]").filter(has_text=BLOCKS[1])
        block.hover()
        block.get_by_role("button", name="Save as canned").click()
        dialog = console.locator("#canned-dialog")
        expect(dialog).to_be_visible()
        dialog.locator("#canned-title").fill("Free size exchange")
        expect(dialog.locator("#canned-shortcut")).to_have_value("free-size-exchange")
        shot(console, "save-canned")
        dialog.get_by_role("button", name="Save").click()
        expect(dialog).to_be_hidden()
        expect(console.locator("#notice")).to_contain_text("Saved canned response /free-size-exchange")
        shot(console, "canned-saved")

        # And the database holds what the supervisor reviews: the canned origin and the overridden warning
        stored = [m for m in chat_server.call(stored_messages) if m["sender"] in {"agent", "note"}]
        assert [(m["sender"], m["body"]) for m in stored] == [
            ("agent", CANNED_RENDERED),
            ("agent", BLOCKS[0]),
            ("agent", BLOCKS[1]),
            ("agent", POLISHED),
            ("note", NOTE),
            ("agent", COLD),
        ]
        assert [m["canned_response_id"] for m in stored] == [chat_server.data["canned_id"], *[None] * 5]
        assert [m["warnings_overridden"] for m in stored] == [[], [], [], [], [], ["cold_reply"]]

        assert errors == []
    finally:
        visitor.close()
        agent.close()
