"""R24 and R9 by the clock: missed and abandoned chats, alerts of long waits."""

from datetime import timedelta

from django.utils import timezone

from agents.models import Agent
from chat import services
from chat.models import Conversation, Message, OutboundEmail
from chat.realtime import SUPERVISORS_GROUP
from chat.services.sweeps import (
    conversations_close_abandoned,
    conversations_mark_missed,
    supervisors_alert_long_waits,
)

from .factories import make_conversation


def waiting_chat(desk, *, minutes_ago: int, email: str = "") -> Conversation:
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    if email:
        conversation.visitor.email = email
        conversation.visitor.save()
    services.message_post(conversation_id=conversation.pk, author=conversation.visitor, body="Hello?", client_id="c")
    earlier = timezone.now() - timedelta(minutes=minutes_ago)
    Conversation.objects.filter(pk=conversation.pk).update(waiting_since=earlier)
    Message.objects.filter(conversation=conversation).update(created_at=earlier)
    return conversation


def test_a_chat_nobody_took_in_time_is_marked_missed_and_owed_once(desk):
    Agent.objects.update(max_chats=0)
    missed = waiting_chat(desk, minutes_ago=11, email="anna@example.com")
    fresh = waiting_chat(desk, minutes_ago=2)

    assert conversations_mark_missed() == 1
    assert conversations_mark_missed() == 0

    missed.refresh_from_db()
    assert missed.missed_at and missed.needs_follow_up and missed.status == "queued"
    assert "anna@example.com" in missed.messages.filter(sender="system").last().body
    assert Conversation.objects.get(pk=fresh.pk).missed_at is None


def test_a_silent_answered_chat_is_closed_as_abandoned_with_its_transcript(desk):
    chat = waiting_chat(desk, minutes_ago=40, email="anna@example.com")
    services.conversation_claim(conversation_id=chat.pk, agent=desk.agent)
    services.message_post(
        conversation_id=chat.pk, author=desk.agent, body="Here is the answer you need.", client_id="a"
    )
    Conversation.objects.filter(pk=chat.pk).update(transcript_requested=True)
    owed = waiting_chat(desk, minutes_ago=40)
    services.conversation_claim(conversation_id=owed.pk, agent=desk.agent)
    Conversation.objects.filter(pk=owed.pk).update(waiting_since=timezone.now() - timedelta(minutes=40))
    Message.objects.update(created_at=timezone.now() - timedelta(minutes=40))

    assert conversations_close_abandoned() == 1

    chat.refresh_from_db()
    assert chat.status == "ended" and chat.abandoned_at is not None
    assert "without messages" in chat.messages.last().body
    assert OutboundEmail.objects.filter(conversation=chat, kind="transcript").count() == 1
    assert Conversation.objects.get(pk=owed.pk).status == "active"  # the customer is owed a reply


def test_supervisors_are_alerted_of_customers_waiting_past_the_limit(
    desk, sent_events, django_capture_on_commit_callbacks
):
    long_wait = waiting_chat(desk, minutes_ago=1)
    waiting_chat(desk, minutes_ago=0)

    with django_capture_on_commit_callbacks(execute=True):
        assert supervisors_alert_long_waits() == 1

    (groups, frame) = sent_events[-1]
    assert groups == [SUPERVISORS_GROUP] and frame["type"] == "alert.waiting"
    assert [c["id"] for c in frame["conversations"]] == [long_wait.pk]
