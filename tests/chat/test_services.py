"""The chat services: sequence numbers, claims, ends, and who is told what, after commit."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from agents.models import Agent, CannedResponse
from chat import services
from chat.errors import ChatError, ErrorCode
from chat.models import Conversation, Message
from chat.realtime import SUPERVISORS_GROUP, agent_group, team_group, visitor_group
from chat.selectors import chats_for_agent, queue_for_agent

from ..agents.factories import load_default_terms, make_agent, make_team
from .factories import make_conversation, make_visitor


def post(conversation, author, body="Hi", client_id=None):
    client_id = client_id or f"c-{Message.objects.count() + 1}"
    return services.message_post(conversation_id=conversation.pk, author=author, body=body, client_id=client_id)


def test_message_is_numbered_per_conversation_and_times_the_wait(desk):
    first, second = make_conversation(site=desk.site), make_conversation(site=desk.site)

    a1, _ = post(first, first.visitor)
    b1, _ = post(second, second.visitor)
    a2, _ = post(first, first.visitor)

    assert (a1.seq, a2.seq, b1.seq) == (1, 2, 1)
    first.refresh_from_db()
    assert first.waiting_since == a1.created_at and first.last_seq == 2 and first.preview == "Hi"


def test_agent_reply_stops_the_wait_and_records_first_response(desk):
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    post(conversation, conversation.visitor)
    services.conversation_claim(conversation_id=conversation.pk, agent=desk.agent)

    reply, _ = post(conversation, desk.agent)
    post(conversation, desk.agent)

    conversation.refresh_from_db()
    assert conversation.waiting_since is None
    assert conversation.first_response_at == reply.created_at


def test_message_post_runs_a_bounded_number_of_queries(desk, django_assert_max_num_queries):
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    post(conversation, conversation.visitor)
    services.conversation_claim(conversation_id=conversation.pk, agent=desk.agent)

    with django_assert_max_num_queries(8):
        post(conversation, conversation.visitor)
    with django_assert_max_num_queries(10):
        post(conversation, desk.agent)


def test_events_are_sent_after_commit_to_the_visitor_and_owner_only(
    desk, sent_events, django_capture_on_commit_callbacks
):
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    with django_capture_on_commit_callbacks(execute=True):
        post(conversation, conversation.visitor, body="Hello")
    queued = [groups for groups, frame in sent_events if frame["type"] == "conversation.updated"]
    (team,) = desk.agent.teams.all()
    assert queued == [[team_group(team.pk), SUPERVISORS_GROUP]]

    sent_events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_claim(conversation_id=conversation.pk, agent=desk.agent)
        post(conversation, desk.agent, body="Hi, I'm here")

    recipients = {(frame["type"], tuple(groups)) for groups, frame in sent_events}
    assert ("message.new", (visitor_group(conversation.visitor_id),)) in recipients
    assert ("message.new", (agent_group(desk.agent.user_id),)) in recipients
    assert not any(agent_group(desk.other_agent.user_id) in groups for groups, _ in sent_events)
    visitor_frames = [frame for groups, frame in sent_events if groups == [visitor_group(conversation.visitor_id)]]
    assert all("visitor" not in frame.get("conversation", {}) for frame in visitor_frames)


def test_nothing_is_sent_when_the_transaction_rolls_back(desk, sent_events, django_capture_on_commit_callbacks):
    conversation = make_conversation(site=desk.site)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        post(conversation, conversation.visitor)
        raise RuntimeError("the caller failed after posting")

    assert sent_events == []
    assert not Message.objects.exists()


def test_claim_twice_by_the_owner_is_harmless(desk):
    conversation = make_conversation(site=desk.site, topic=desk.topic)

    services.conversation_claim(conversation_id=conversation.pk, agent=desk.agent)
    services.conversation_claim(conversation_id=conversation.pk, agent=desk.agent)

    assert Message.objects.filter(conversation=conversation, sender="system").count() == 1


def test_second_claim_of_same_chat_loses(desk):
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    services.conversation_claim(conversation_id=conversation.pk, agent=desk.agent)

    with pytest.raises(ChatError) as refused:
        services.conversation_claim(conversation_id=conversation.pk, agent=desk.other_agent)

    assert refused.value.code == ErrorCode.ALREADY_CLAIMED
    conversation.refresh_from_db()
    assert conversation.assigned_agent_id == desk.agent.user_id


def test_agent_outside_the_routed_teams_cannot_claim(desk):
    outsider = make_agent(teams=[make_team()])
    conversation = make_conversation(site=desk.site, topic=desk.topic)

    with pytest.raises(ChatError) as refused:
        services.conversation_claim(conversation_id=conversation.pk, agent=outsider)

    assert refused.value.code == ErrorCode.NOT_FOUND


def test_ended_chat_refuses_new_messages_but_acks_a_resend(desk):
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    stored, _ = post(conversation, conversation.visitor, client_id="c-1")
    services.conversation_end(conversation_id=conversation.pk, ended_by=conversation.visitor)
    services.conversation_end(conversation_id=conversation.pk, ended_by=conversation.visitor)

    resent, created = post(conversation, conversation.visitor, client_id="c-1")
    with pytest.raises(ChatError) as refused:
        post(conversation, conversation.visitor, client_id="c-2")

    assert (resent.pk, created) == (stored.pk, False)
    assert refused.value.code == ErrorCode.CONVERSATION_ENDED
    assert Message.objects.filter(conversation=conversation, sender="system").count() == 1


def test_conversation_start_returns_the_open_one(desk):
    visitor, _ = make_visitor(site=desk.site)

    first = services.conversation_start(visitor=visitor, topic_slug="returns")
    again = services.conversation_start(visitor=visitor, topic_slug=None)
    services.conversation_end(conversation_id=first.pk, ended_by=visitor)
    fresh = services.conversation_start(visitor=visitor, topic_slug=None)

    assert again.pk == first.pk and fresh.pk != first.pk


def test_queue_and_chats_selectors_use_constant_queries(desk, django_assert_max_num_queries):
    for _ in range(5):
        conversation = make_conversation(site=desk.site, topic=desk.topic)
        post(conversation, conversation.visitor)
    mine = make_conversation(site=desk.site, topic=desk.topic)
    services.conversation_claim(conversation_id=mine.pk, agent=desk.agent)

    # The second query of each is the labels of every chat listed.
    with django_assert_max_num_queries(3):
        queue = queue_for_agent(agent=desk.agent)
    with django_assert_max_num_queries(2):
        chats = chats_for_agent(agent=desk.agent)

    assert len(queue) == 5 and [c.pk for c in chats] == [mine.pk]


@pytest.mark.django_db(transaction=True)
def test_simultaneous_claims_on_postgresql_exactly_one_wins(postgres, desk):
    # Twenty wins in a row: the limit of open chats is not what this test is about.
    Agent.objects.update(max_chats=100)
    for _ in range(20):
        conversation = make_conversation(site=desk.site, topic=desk.topic)
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def claim(agent, conversation_id=conversation.pk, barrier=barrier, outcomes=outcomes):
            barrier.wait()
            try:
                services.conversation_claim(conversation_id=conversation_id, agent=agent)
                outcomes.append("won")
            except ChatError as error:
                outcomes.append(error.code)
            finally:
                connection.close()

        threads = [threading.Thread(target=claim, args=(a,)) for a in (desk.agent, desk.other_agent)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)

        assert sorted(outcomes) == ["already_claimed", "won"]
        assert Conversation.objects.get(pk=conversation.pk).status == "active"
        assert Message.objects.filter(conversation=conversation, sender="system").count() == 1


def test_review_metrics_are_kept_as_messages_arrive(desk):
    load_default_terms()
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    post(conversation, conversation.visitor)
    services.conversation_claim(conversation_id=conversation.pk, agent=desk.agent)
    Conversation.objects.filter(pk=conversation.pk).update(waiting_since=timezone.now() - timedelta(seconds=70))
    canned = CannedResponse.objects.create(
        shortcut="hi", title="Hi", body="Hello, thanks for waiting!", team=desk.agent.teams.first()
    )

    services.message_post(
        conversation_id=conversation.pk, author=desk.agent, body="Hello, thanks for waiting!", client_id="a1",
        canned_id=canned.pk,
    )  # fmt: skip
    post(conversation, conversation.visitor)
    services.message_post(
        conversation_id=conversation.pk, author=desk.agent, body="ok", client_id="a2", overridden=["cold_reply"]
    )

    conversation.refresh_from_db()
    assert 70 <= conversation.longest_wait_seconds < 80
    assert (conversation.agent_message_count, conversation.canned_message_count) == (2, 1)
    assert conversation.warnings_overridden_count == 1
