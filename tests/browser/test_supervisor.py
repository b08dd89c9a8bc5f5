"""A supervisor's day, in a real browser through a real server (R9, R13, R23).

The supervisor logs in, reviews a transcript in admin (a chat with a long silence, a
canned reply and a private note), flags it for training with a note, reads the charts,
then watches the floor: a visitor starts a chat on the shop and it appears on the floor
without a reload, with its R9 timer ticking; the supervisor opens it read-only.

Screenshots of every step go to test-results/supervisor/ (git-ignored) for a human to
look at.
"""

import re
import shutil

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.conftest import ChatServer, ask_from_widget, expect, watch_errors
from tests.servers import PROJECT_ROOT

pytestmark = pytest.mark.browser

SUPERVISOR_NAME = "Sam Supervisor"
PASSWORD = "browser-test-pass-2026"
TOPIC_SLUG = "returns"
QUESTION = "Hello, my parcel says delivered but it is not here. What can I do?"
TRAINING_NOTE = "Good recovery after a long pause: show in Monday's training."
SCREENSHOTS = PROJECT_ROOT / "test-results" / "supervisor"
TIMER = re.compile(r"^\d+ s$|^\d+ min")


def seed(origin: str) -> dict[str, object]:
    """The shop, two teams of agents, a supervisor in the Supervisors group, two weeks of
    chats with varied timings for the charts, and one transcript worth reviewing."""
    import random
    from datetime import timedelta

    from django.contrib.auth.models import Group, Permission
    from django.utils import timezone

    from chat.models import Conversation, Message, Site
    from tests.agents.factories import make_agent, make_canned, make_team
    from tests.chat.factories import make_topic, make_visitor

    site = Site.objects.create(name="Demo Shop", allowed_origins=origin)
    returns = make_topic(site=site, slug=TOPIC_SLUG)
    billing = make_topic(site=site, slug="billing")
    care = make_team(name="Orders & Returns", topics=[returns], is_default=True)
    money = make_team(name="Billing", topics=[billing])
    agents = [
        make_agent(teams=[care], name="Alex Agent"),
        make_agent(teams=[care], name="Robin Reyes"),
        make_agent(teams=[money], name="Kim Lund", online=False),
    ]
    supervisor = make_agent(teams=[care], name=SUPERVISOR_NAME, supervisor=True, password=PASSWORD, online=False)
    supervisor.user.is_staff = True
    supervisor.user.save(update_fields=["is_staff"])
    group = Group.objects.create(name="Supervisors")
    group.permissions.set(
        Permission.objects.filter(codename__in=["view_conversation", "view_trainingflag", "view_transcriptview"])
    )
    supervisor.user.groups.add(group)
    canned = make_canned(shortcut="sorry", title="Sorry for the wait", body="Sorry for the wait!", team=care)

    rng = random.Random(7)
    now = timezone.now()
    busy_hours = [1] * 7 + [4, 8, 10, 10, 9, 8, 9, 10, 9, 8, 6, 4, 3, 2, 2, 1, 1]
    for _ in range(90):
        created = (now - timedelta(days=rng.randrange(14))).replace(
            hour=rng.choices(range(24), weights=busy_hours)[0], minute=rng.randrange(60)
        )
        created -= timedelta(days=1) if created > now else timedelta(0)
        agent = rng.choice(agents)
        missed = rng.random() < 0.12
        replies = 0 if missed else rng.randint(2, 8)
        # Robin leans on canned replies: the per-agent table should show it (R13).
        canned_count = rng.randint(replies // 2, replies) if agent is agents[1] else rng.randint(0, replies // 3)
        first = int(rng.lognormvariate(4.0, 0.8))
        chat = Conversation.objects.create(
            site=site,
            visitor=make_visitor(site=site)[0],
            topic=rng.choice([returns, returns, billing]),
            status=Conversation.Status.ENDED,
            assigned_agent=None if missed else agent.user,
            last_seq=replies * 2 + 1,
            longest_wait_seconds=0 if missed else max(first, int(rng.expovariate(1 / 30))),
            agent_message_count=replies,
            # Robin leans on canned replies: the per-agent table should show it (R13).
            canned_message_count=canned_count,
            rating=None if missed or rng.random() < 0.4 else rng.choice([2, 3, 4, 4, 5, 5, 5]),
            needs_follow_up=missed or rng.random() < 0.05,
        )
        # created_at is set on insert: move the chat to its moment afterwards.
        Conversation.objects.filter(pk=chat.pk).update(
            created_at=created,
            missed_at=created + timedelta(minutes=10) if missed else None,
            first_response_at=None if missed else created + timedelta(seconds=first),
        )

    # The transcript to review: a long silence, then a canned apology, and a private note.
    visitor, _ = make_visitor(site=site)
    visitor.name = "Maria Berg"
    visitor.save(update_fields=["name"])
    start = now - timedelta(hours=3)
    review = Conversation.objects.create(
        site=site, visitor=visitor, topic=returns, status=Conversation.Status.ENDED, assigned_agent=agents[0].user,
        longest_wait_seconds=95, agent_message_count=3, canned_message_count=1, warnings_overridden_count=1, rating=4,
        ended_at=start + timedelta(minutes=6),
    )  # fmt: skip
    lines = [
        (0, Message.Sender.VISITOR, None, "Hi, I want to return a jacket I bought last week.", {}),
        (20, Message.Sender.SYSTEM, None, "Alex Agent joined the chat.", {}),
        (30, Message.Sender.AGENT, agents[0], "Hi Maria, happy to help. Do you have the order number?", {}),
        (70, Message.Sender.VISITOR, None, "Yes, it is 100482.", {}),
        (80, Message.Sender.NOTE, agents[0], "Order shows two jackets; ask which one.", {}),
        (165, Message.Sender.AGENT, agents[0], "Sorry for the wait!", {"canned_response": canned}),
        (190, Message.Sender.AGENT, agents[0], "ok", {"warnings_overridden": ["cold"]}),
        (230, Message.Sender.VISITOR, None, "The blue one. Thanks!", {}),
    ]
    for seq, (second, sender, author, body, extra) in enumerate(lines, start=1):
        Message.objects.create(
            conversation=review, seq=seq, sender=sender, author=author.user if author else None, body=body,
            created_at=start + timedelta(seconds=second), **extra,
        )  # fmt: skip
    Conversation.objects.filter(pk=review.pk).update(
        created_at=start,
        first_response_at=start + timedelta(seconds=30),
        last_seq=len(lines),
        last_public_seq=len(lines),
    )
    return {"agent_email": supervisor.user.email, "review_id": review.pk}


def training_flags() -> list[dict[str, object]]:
    from chat.models import TrainingFlag

    return [{"conversation": flag.conversation_id, "note": flag.note} for flag in TrainingFlag.objects.all()]


class Shots:
    """Numbered full-page screenshots, one per step."""

    def __init__(self) -> None:
        shutil.rmtree(SCREENSHOTS, ignore_errors=True)
        SCREENSHOTS.mkdir(parents=True)
        self.count = 0

    def __call__(self, page: Page, name: str, *, full_page: bool = True) -> None:
        self.count += 1
        page.screenshot(path=SCREENSHOTS / f"{self.count:02d}-{name}.png", full_page=full_page)


def test_supervisor_reviews_flags_reads_charts_and_watches_the_floor(browser: Browser, chat_server: ChatServer) -> None:
    errors: list[str] = []
    shot = Shots()
    review_id = chat_server.data["review_id"]
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    shopper = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        # The supervisor logs in and opens the transcript review list
        page = watch_errors(context.new_page(), errors)
        page.goto(f"{chat_server.url}/accounts/login/?next=/admin/chat/conversation/")
        page.locator("input[name=username]").fill(chat_server.agent_email)
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("[type=submit]").click()
        expect(page.locator("#result_list")).to_be_visible()
        shot(page, "admin-list", full_page=False)

        # ... opens the transcript: a chat, with the long silence, canned reply, override and note marked
        page.locator(f'#result_list a[href$="/admin/chat/conversation/{review_id}/change/"]').click()
        transcript = page.locator("#transcript")
        expect(transcript.locator(".bubble")).to_have_count(8)
        expect(transcript.locator(".bubble.note")).to_contain_text("ask which one")
        expect(transcript.locator(".mark.long-wait")).to_contain_text("waited 95 s")
        expect(transcript.locator(".mark.canned")).to_contain_text("/sorry")
        expect(transcript.locator(".mark.warning")).to_contain_text("cold")
        shot(page, "admin-transcript")

        # ... and flags it for training, with a note
        page.goto(f"{chat_server.url}/admin/chat/conversation/")
        page.locator(f'#result_list input.action-select[value="{review_id}"]').check()
        page.locator("select[name=action]").select_option("flag_for_training")
        page.locator("input[name=note]").fill(TRAINING_NOTE)
        page.locator("button[name=index], .actions button[type=submit]").first.click()
        expect(page.locator(".messagelist")).to_contain_text("Flagged 1 conversation")
        assert chat_server.call(training_flags) == [{"conversation": review_id, "note": TRAINING_NOTE}]
        shot(page, "admin-flagged", full_page=False)

        # The charts: six server-drawn charts, each with its table and CSV link
        page.goto(f"{chat_server.url}/console/reports/")
        expect(page.locator("svg.sv-svg")).to_have_count(6)
        expect(page.locator("table.sv-table--data")).to_have_count(6)
        expect(page.locator("#chart-first-response .sv-headline")).to_contain_text("answered chats within 2 min")
        expect(page.locator("#chart-hours rect.bar").first).to_be_visible()
        shot(page, "reports")
        page.locator("select[name=period]").select_option("week")
        page.locator("select[name=team]").select_option(label="Orders & Returns")
        page.locator(".sv-filters button[type=submit]").click()
        expect(page.locator(".sv-head")).to_contain_text("per week")
        shot(page, "reports-week-team", full_page=False)

        # The floor, live over the socket
        page.goto(f"{chat_server.url}/console/floor/")
        expect(page.locator("#floor-live")).to_have_attribute("data-state", "live")
        expect(page.locator("#floor-chats tbody tr")).to_have_count(0)
        shot(page, "floor-quiet", full_page=False)

        # A visitor starts a chat on the shop: the floor shows it without a reload
        shop = watch_errors(shopper.new_page(), errors)
        widget = ask_from_widget(shop, chat_server.url, TOPIC_SLUG, QUESTION)

        row = page.locator("#floor-chats tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("In queue")
        expect(page.locator('#floor-summary [data-key="queued"]')).to_have_text("1")
        expect(page.locator("#floor-teams tbody tr", has_text="Orders & Returns")).to_contain_text("1")
        timer = row.locator(".timer")
        expect(timer).to_have_text(TIMER)
        page.wait_for_timeout(1500)  # let the R9 timer tick on screen
        shot(page, "floor-live-chat", full_page=False)

        # ... and opens it read-only: the visitor's words, no composer
        row.locator("a").click()
        expect(page.locator("#floor-transcript")).to_contain_text(QUESTION)
        expect(page.locator("textarea")).to_have_count(0)
        shop_follow_up = "Are you still there?"
        widget.locator("textarea[name=body]").fill(shop_follow_up)
        widget.locator("button.hd-send").click()
        expect(page.locator("#floor-transcript")).to_contain_text(shop_follow_up)
        shot(page, "floor-watch-chat", full_page=False)

        assert errors == []
    finally:
        context.close()
        shopper.close()
