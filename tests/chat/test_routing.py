"""R5, R8: limits, auto-assignment, transfers and presence."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from agents.models import Agent
from agents.selectors import agent_is_present, agents_available
from agents.services import (
    agent_connected,
    agent_heartbeat,
    agent_heartbeat_due,
    agent_set_status,
    agents_mark_absent_offline,
)
from chat import services
from chat.consumers.agent import HEARTBEAT_SECONDS
from chat.errors import ChatError, ErrorCode
from chat.models import Conversation, Message

from ..agents.factories import make_agent, make_team
from .factories import make_conversation


def queued_chat(desk, **kwargs) -> Conversation:
    conversation = make_conversation(site=desk.site, topic=desk.topic, **kwargs)
    services.message_post(conversation_id=conversation.pk, author=conversation.visitor, body="Hello", client_id="c1")
    return conversation


def present(agent: Agent, status=Agent.Status.ONLINE) -> Agent:
    Agent.objects.filter(pk=agent.pk).update(status=status, last_seen_at=timezone.now())
    agent.refresh_from_db()
    return agent


def test_claim_over_the_agents_limit_is_refused(desk):
    Agent.objects.filter(pk=desk.agent.pk).update(max_chats=2)
    chats = [queued_chat(desk) for _ in range(3)]
    for chat in chats[:2]:
        services.conversation_claim(conversation_id=chat.pk, agent=desk.agent)

    with pytest.raises(ChatError) as refused:
        services.conversation_claim(conversation_id=chats[2].pk, agent=desk.agent)

    assert refused.value.code == ErrorCode.AT_CAPACITY
    assert "limit 2" in refused.value.message
    services.conversation_end(conversation_id=chats[0].pk, ended_by=desk.agent)
    services.conversation_claim(conversation_id=chats[2].pk, agent=desk.agent)


def test_auto_assignment_picks_the_least_busy_then_longest_idle_agent(desk, django_capture_on_commit_callbacks):
    desk.agent.teams.update(auto_assign=True)
    busy, idle = present(desk.agent), present(desk.other_agent)
    Agent.objects.filter(pk=idle.pk).update(last_assigned_at=timezone.now() - timedelta(hours=1))
    Agent.objects.filter(pk=busy.pk).update(last_assigned_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        first = queued_chat(desk)
    with django_capture_on_commit_callbacks(execute=True):
        second = queued_chat(desk)
    with django_capture_on_commit_callbacks(execute=True):
        third = queued_chat(desk)

    owners = [Conversation.objects.get(pk=c.pk).assigned_agent_id for c in (first, second, third)]
    assert owners[0] == idle.user_id  # both free: the longest idle
    assert owners[1] == busy.user_id  # now the one with fewer chats
    assert owners[2] in {idle.user_id, busy.user_id}


def test_auto_assignment_never_overloads_and_skips_away_or_absent_agents(desk, django_capture_on_commit_callbacks):
    desk.agent.teams.update(auto_assign=True)
    present(desk.agent)
    Agent.objects.filter(pk=desk.agent.pk).update(max_chats=1)
    present(desk.other_agent, status=Agent.Status.AWAY)
    gone = make_agent(teams=list(desk.agent.teams.all()))
    Agent.objects.filter(pk=gone.pk).update(status="online", last_seen_at=timezone.now() - timedelta(minutes=5))

    with django_capture_on_commit_callbacks(execute=True):
        chats = [queued_chat(desk) for _ in range(3)]

    statuses = sorted(Conversation.objects.filter(pk__in=[c.pk for c in chats]).values_list("status", flat=True))
    assert statuses == ["active", "queued", "queued"]
    assert Conversation.objects.filter(assigned_agent=desk.agent.user).count() == 1


def test_an_agent_coming_online_gets_waiting_chats(desk, django_capture_on_commit_callbacks):
    desk.agent.teams.update(auto_assign=True)
    chat = queued_chat(desk)
    Agent.objects.filter(pk=desk.agent.pk).update(status="offline", last_seen_at=None)

    with django_capture_on_commit_callbacks(execute=True):
        agent_connected(agent=Agent.objects.get(pk=desk.agent.pk))

    assert Conversation.objects.get(pk=chat.pk).assigned_agent_id == desk.agent.user_id


def test_transfer_to_an_agent_keeps_history_and_tells_everyone_why(
    desk, sent_events, django_capture_on_commit_callbacks
):
    chat = queued_chat(desk)
    services.conversation_claim(conversation_id=chat.pk, agent=desk.agent)
    present(desk.other_agent)

    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_transfer(
            conversation_id=chat.pk, agent=desk.agent, to_agent_id=desk.other_agent.user_id, reason="Billing expert"
        )

    chat.refresh_from_db()
    assert chat.assigned_agent_id == desk.other_agent.user_id
    messages = list(chat.messages.values_list("sender", "body"))
    assert messages[0] == ("visitor", "Hello")
    assert ("note", f"Transferred to {desk.other_agent.display_name}: Billing expert") in messages
    assert messages[-1][0] == "system" and desk.other_agent.display_name in messages[-1][1]
    told_previous_owner = [
        frame for groups, frame in sent_events if f"agent.{desk.agent.user_id}" in groups
        and frame["type"] == "conversation.updated"
    ]  # fmt: skip
    assert told_previous_owner[-1]["conversation"]["agent"]["id"] == desk.other_agent.user_id


def test_transfer_to_a_team_puts_the_chat_in_that_teams_queue(desk):
    billing = make_team(name="Billing")
    billing_agent = make_agent(teams=[billing])
    chat = queued_chat(desk)
    services.conversation_claim(conversation_id=chat.pk, agent=desk.agent)

    services.conversation_transfer(conversation_id=chat.pk, agent=desk.agent, to_team_id=billing.pk, reason="Refund")

    chat.refresh_from_db()
    assert (chat.status, chat.assigned_agent_id, chat.team_id) == ("queued", None, billing.pk)
    services.conversation_claim(conversation_id=chat.pk, agent=billing_agent)
    with pytest.raises(ChatError):
        services.conversation_claim(conversation_id=chat.pk, agent=desk.other_agent)


def test_transfer_refusals(desk):
    chat = queued_chat(desk)
    services.conversation_claim(conversation_id=chat.pk, agent=desk.agent)
    Agent.objects.filter(pk=desk.other_agent.pk).update(status="offline")
    cases = [
        ({"to_agent_id": desk.other_agent.user_id, "reason": "x"}, ErrorCode.AGENT_UNAVAILABLE),
        ({"to_agent_id": desk.other_agent.user_id, "reason": "  "}, ErrorCode.INVALID_FIELD),
        ({"reason": "nobody"}, ErrorCode.INVALID_FIELD),
        ({"to_agent_id": 999999, "reason": "x"}, ErrorCode.NOT_FOUND),
        ({"to_team_id": 999999, "reason": "x"}, ErrorCode.NOT_FOUND),
    ]
    for kwargs, code in cases:
        with pytest.raises(ChatError) as refused:
            services.conversation_transfer(conversation_id=chat.pk, agent=desk.agent, **kwargs)
        assert refused.value.code == code, kwargs
    with pytest.raises(ChatError) as not_mine:
        services.conversation_transfer(
            conversation_id=chat.pk, agent=desk.other_agent, to_team_id=desk.agent.teams.first().pk, reason="x"
        )
    assert not_mine.value.code == ErrorCode.NOT_OWNER
    assert Message.objects.filter(conversation=chat, sender="note").count() == 0


def test_presence_grace_period_makes_silent_agents_offline(desk):
    present(desk.agent)
    Agent.objects.filter(pk=desk.other_agent.pk).update(
        status="online", last_seen_at=timezone.now() - timedelta(minutes=3)
    )

    assert list(agents_available().values_list("pk", flat=True)) == [desk.agent.pk]
    assert agents_mark_absent_offline() == 1
    assert Agent.objects.get(pk=desk.other_agent.pk).status == "offline"


def test_a_pinging_console_writes_presence_once_a_minute_and_never_looks_absent(desk):
    writes = 0
    with time_machine.travel(timezone.now(), tick=False) as clock:
        agent_connected(agent=desk.agent)
        for _ in range(40):  # ten minutes of pings, as the console sends them
            clock.shift(timedelta(seconds=HEARTBEAT_SECONDS))
            if agent_heartbeat_due(agent=desk.agent):
                agent_heartbeat(agent=desk.agent)
                writes += 1
            agents_mark_absent_offline()  # what Celery beat runs every 30 s
            stored = Agent.objects.get(pk=desk.agent.pk)
            assert stored.status == "online" and agent_is_present(stored)

    assert writes == 40 // 3  # every third ping: 75 s apart, not 25


def test_agent_status_change_is_sent_to_the_agents_own_sockets_and_supervisors(
    desk, sent_events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        agent_set_status(agent=desk.agent, status=Agent.Status.AWAY)

    assert sent_events == [([f"agent.{desk.agent.user_id}", "supervisors"], sent_events[0][1])]
    assert sent_events[0][1]["agent"]["status"] == "away"


def test_follow_up_asks_for_an_email_once_and_can_be_cleared(desk):
    chat = queued_chat(desk)
    services.conversation_claim(conversation_id=chat.pk, agent=desk.agent)

    services.conversation_follow_up(conversation_id=chat.pk, agent=desk.agent, needs=True)
    services.conversation_follow_up(conversation_id=chat.pk, agent=desk.agent, needs=True)

    asks = Message.objects.filter(conversation=chat, sender="agent", body=services.conversations.FOLLOW_UP_ASK)
    assert asks.count() == 1
    assert Conversation.objects.get(pk=chat.pk).needs_follow_up
    services.conversation_follow_up(conversation_id=chat.pk, agent=desk.agent, needs=False)
    assert not Conversation.objects.get(pk=chat.pk).needs_follow_up
