"""chat.metrics on hand-built conversations with known timings (time-machine).

The chats are made through the real services at frozen instants, so the metrics under
test are the ones `message_insert` stores as messages arrive. The desk is in Oslo
(UTC+1 in March): one chat starts at 00:30 local, which is still the day before in UTC.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.models import Agent
from chat import services
from chat.metrics import (
    Scope,
    chats_by_hour,
    figures_by_agent,
    figures_by_period,
    first_response_distribution,
    floor_snapshot,
    follow_ups_open,
    report,
)
from chat.models import Conversation
from chat.services.sweeps import conversations_mark_missed

from ..agents.factories import make_canned, make_team
from .factories import make_conversation, make_topic

OSLO = ZoneInfo("Europe/Oslo")
REPLY = "Thanks for waiting, I am checking your order right now."
MONDAY = date(2026, 3, 2)
TUESDAY = date(2026, 3, 3)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=OSLO)


class Clock:
    """Frozen time that the test moves forward by hand."""

    def __init__(self, traveller) -> None:
        self.traveller = traveller

    def at(self, moment: datetime) -> None:
        self.traveller.move_to(moment)

    def wait(self, seconds: int) -> None:
        self.traveller.shift(timedelta(seconds=seconds))


@pytest.fixture
def clock():
    with time_machine.travel(local(MONDAY, 8), tick=False) as traveller:
        yield Clock(traveller)


_client_ids = iter(range(1, 10**6))


def visitor_says(conversation: Conversation, body: str = "Where is my parcel?") -> None:
    services.message_post(
        conversation_id=conversation.pk, author=conversation.visitor, body=body, client_id=f"v{next(_client_ids)}"
    )


def agent_says(conversation: Conversation, agent, *, canned=None) -> None:
    services.message_post(
        conversation_id=conversation.pk, author=agent, body=canned.body if canned else REPLY,
        client_id=f"a{next(_client_ids)}", canned_id=canned.pk if canned else None,
    )  # fmt: skip


@pytest.fixture
def history(desk, clock):
    """Five chats in range and one before it, with these known timings:

    A  Mon 09:10 by agent: first reply after 90 s, then a 30 s wait; one canned of two replies; rated 5.
    B  Mon 09:40 by agent: first reply after 40 s; marked follow-up (an agent message); rated 2.
    C  Mon 14:05: never claimed; missed by the sweep (so owed: follow-up).
    F  Mon 00:30 local (Sun 23:30 UTC): a message left while nobody was online.
    D  Tue 10:00 by the other agent, other team's topic: first reply after 200 s; rated 4.
    E  Fri 20 Feb: out of range.
    """
    agent, other = desk.agent, desk.other_agent
    billing = make_topic(site=desk.site, slug="billing")
    billing_team = make_team(topics=[billing])
    other.teams.add(billing_team)
    canned = make_canned(team=agent.teams.get(), body="Thanks for waiting, here is what I found for you.")
    chats = {}

    clock.at(local(MONDAY, 9, 10))
    chats["A"] = a = make_conversation(site=desk.site, topic=desk.topic)
    visitor_says(a)
    clock.wait(30)
    services.conversation_claim(conversation_id=a.pk, agent=agent)
    clock.wait(60)
    agent_says(a, agent)  # 90 s after the chat opened
    clock.wait(10)
    visitor_says(a, "And the refund?")
    clock.wait(30)
    agent_says(a, agent, canned=canned)
    services.conversation_rate(conversation_id=a.pk, visitor=a.visitor, rating=5, comment="")

    clock.at(local(MONDAY, 9, 40))
    chats["B"] = b = make_conversation(site=desk.site, topic=desk.topic)
    visitor_says(b)
    clock.wait(10)
    services.conversation_claim(conversation_id=b.pk, agent=agent)
    clock.wait(30)
    agent_says(b, agent)  # 40 s
    clock.wait(20)
    services.conversation_follow_up(conversation_id=b.pk, agent=agent, needs=True)
    services.conversation_rate(conversation_id=b.pk, visitor=b.visitor, rating=2, comment="")

    clock.at(local(MONDAY, 14, 5))
    chats["C"] = c = make_conversation(site=desk.site, topic=desk.topic)
    visitor_says(c)
    clock.wait(3600)
    assert conversations_mark_missed() == 1

    chats["F"] = f = make_conversation(site=desk.site, topic=desk.topic)
    Conversation.objects.filter(pk=f.pk).update(created_at=local(MONDAY, 0, 30), is_offline_message=True)

    clock.at(local(TUESDAY, 10))
    chats["D"] = d = make_conversation(site=desk.site, topic=billing)
    visitor_says(d)
    services.conversation_claim(conversation_id=d.pk, agent=other)
    clock.wait(200)
    agent_says(d, other)
    services.conversation_rate(conversation_id=d.pk, visitor=d.visitor, rating=4, comment="")

    clock.at(local(date(2026, 2, 20), 12))
    chats["E"] = make_conversation(site=desk.site, topic=desk.topic)
    visitor_says(chats["E"])
    chats["billing_team"] = billing_team
    return chats


def scope(**narrow) -> Scope:
    return Scope(start=MONDAY, end=TUESDAY, tz=OSLO, **narrow)


def test_stored_timings_are_the_hand_built_ones(history):
    a, b, d = (Conversation.objects.get(pk=history[key].pk) for key in "ABD")
    assert (a.first_response_at - a.created_at).total_seconds() == 90
    assert (a.longest_wait_seconds, a.agent_message_count, a.canned_message_count) == (90, 2, 1)
    assert (b.first_response_at - b.created_at).total_seconds() == 40
    assert (b.longest_wait_seconds, b.agent_message_count) == (40, 2)
    assert (d.longest_wait_seconds, d.agent_message_count) == (200, 1)


def test_chats_and_missed_by_local_hour(history):
    hours = {row.hour: (row.chats, row.missed) for row in chats_by_hour(scope()) if row.chats}
    # 00:30 Oslo is 23:30 UTC the day before: counted at hour 0, on Monday.
    assert hours == {0: (1, 1), 9: (2, 0), 10: (1, 0), 14: (1, 1)}
    assert len(chats_by_hour(scope())) == 24


def test_figures_per_day(history):
    monday, tuesday = figures_by_period(scope(), period="day")
    assert (monday.start, tuesday.start) == (MONDAY, TUESDAY)
    m = monday.figures
    assert (m.chats, m.missed, m.responded, m.responded_on_target) == (4, 2, 2, 2)
    assert (m.answered, m.long_silences) == (2, 1)  # A waited 90 s once; B never over 45 s
    assert (m.rated, m.good) == (2, 1)
    assert (m.agent_messages, m.canned_messages) == (4, 1)  # B's follow-up ask is an agent message
    assert m.follow_ups_open == 2  # B, and C owed since it was missed
    assert (m.missed_share, m.on_target_share, m.silence_share, m.csat, m.canned_share) == (0.5, 1, 0.5, 0.5, 0.25)
    t = tuesday.figures
    assert (t.chats, t.responded, t.responded_on_target, t.long_silences, t.rated, t.good) == (1, 1, 0, 1, 1, 1)


def test_figures_per_week_and_empty_days(history):
    (week,) = figures_by_period(scope(), period="week")
    assert week.start == MONDAY and week.figures.chats == 5
    quiet = Scope(start=date(2026, 3, 4), end=date(2026, 3, 5), tz=OSLO)
    rows = figures_by_period(quiet, period="day")
    assert [row.figures.chats for row in rows] == [0, 0]
    assert rows[0].figures.csat is None  # nothing rated: no rate, not 0 %


def test_first_response_buckets_against_the_target(history):
    result = first_response_distribution(scope())
    assert [(bucket.label, bucket.count, bucket.on_target) for bucket in result.buckets] == [
        ("under 1 min", 1, True),  # B, 40 s
        ("1-2 min", 1, True),  # A, 90 s
        ("2-5 min", 1, False),  # D, 200 s
        ("5-15 min", 0, False),
        ("over 15 min", 0, False),
    ]
    assert (result.not_answered, result.answered, result.on_target) == (2, 3, 2)
    assert result.on_target_share == pytest.approx(2 / 3)


def test_per_agent_and_per_team(desk, history):
    rows = {row.name: row.figures for row in figures_by_agent(scope())}
    assert rows[desk.agent.display_name].chats == 2
    assert rows[desk.agent.display_name].canned_share == 0.25
    assert rows[desk.other_agent.display_name].chats == 1
    assert rows["Nobody (never claimed)"].chats == 2
    only_billing = figures_by_period(scope(team_id=history["billing_team"].pk), period="week")[0].figures
    assert only_billing.chats == 1 and only_billing.good == 1
    mine = figures_by_period(scope(agent_id=desk.agent.user_id), period="week")[0].figures
    assert (mine.chats, mine.follow_ups_open) == (2, 1)


def test_follow_ups_open_counts_whenever_the_chat_was(history):
    assert follow_ups_open(scope()) == 2
    assert follow_ups_open(Scope(start=date(2027, 1, 1), end=date(2027, 1, 1), tz=OSLO)) == 2


def test_report_runs_a_bounded_number_of_queries(history):
    with CaptureQueriesContext(connection) as few:
        report(scope(), period="day")
    for _ in range(5):
        make_conversation(site=history["A"].site)
    with CaptureQueriesContext(connection) as more:
        report(scope(team_id=history["billing_team"].pk), period="week")
    assert len(few) == 6  # by period, by hour, first responses, by agent (+ names), follow-ups
    assert len(more) == len(few)  # the team filter is subqueries, and more chats change nothing


def test_floor_snapshot_shows_open_chats_queues_and_load(desk, clock):
    clock.at(local(MONDAY, 11))
    queued = make_conversation(site=desk.site, topic=desk.topic)
    visitor_says(queued)
    clock.wait(5)
    talking = make_conversation(site=desk.site, topic=desk.topic)
    visitor_says(talking)
    services.conversation_claim(conversation_id=talking.pk, agent=desk.agent)
    agent_says(talking, desk.agent)
    clock.wait(10)
    visitor_says(talking, "Thanks. And the refund?")
    make_conversation(site=desk.site, topic=desk.topic)  # opened, nothing written: not on the floor
    clock.wait(50)
    Agent.objects.update(last_seen_at=local(MONDAY, 11, 1))

    with CaptureQueriesContext(connection) as queries:
        snapshot = floor_snapshot()

    assert len(queries) <= 5
    chats = {chat.id: chat for chat in snapshot.chats}
    assert set(chats) == {queued.pk, talking.pk}
    assert chats[queued.pk].status == "queued" and chats[queued.pk].waiting_seconds == 65
    assert chats[talking.pk].agent == desk.agent.display_name
    assert chats[talking.pk].waiting_seconds == 50 and chats[talking.pk].over_limit
    (team,) = snapshot.teams
    assert (team.queued, team.active, team.oldest_queued_seconds, team.agents_online) == (1, 1, 65, 2)
    loads = {agent.name: (agent.status, agent.load) for agent in snapshot.agents}
    assert loads == {desk.agent.display_name: ("online", 1), desk.other_agent.display_name: ("online", 0)}
    assert snapshot.summary == {
        "open": 2, "queued": 1, "waiting": 2, "over_limit": 2, "agents_online": 2, "free_seats": 5,
    }  # fmt: skip
    assert snapshot.as_json()["chats"][0]["waiting_since"] == queued_waiting_since(queued)


def queued_waiting_since(conversation: Conversation) -> str:
    conversation.refresh_from_db()
    return conversation.waiting_since.isoformat()
