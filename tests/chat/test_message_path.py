"""The hot path of a chat message: its cost in queries, the resend rules that the cheaper
path must keep, and when the events of a socket's frame go out (docs/performance.md)."""

import threading

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from agents.models import CannedResponse
from chat import realtime, services
from chat.errors import ChatError, ErrorCode
from chat.models import Conversation, Message
from chat.services import messages

from ..agents.factories import make_canned, make_term
from .factories import make_conversation
from .sockets import open_visitor, receive_message, receive_until, start_and_send


def claimed(desk) -> Conversation:
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    services.message_post(conversation_id=conversation.pk, author=conversation.visitor, body="Hi", client_id="v-0")
    services.conversation_claim(conversation_id=conversation.pk, agent=desk.agent)
    return conversation


def statements(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"].split()[0].upper() for query in queries.captured_queries]


def test_a_message_costs_two_statements_on_postgresql_and_one_lock_elsewhere(desk):
    conversation = claimed(desk)
    services.message_post(conversation_id=conversation.pk, author=desk.agent, body="Hello, I'm here.", client_id="a-0")

    with CaptureQueriesContext(connection) as visitor_queries:
        services.message_post(
            conversation_id=conversation.pk, author=conversation.visitor, body="Where is my order?", client_id="v-1"
        )
    with CaptureQueriesContext(connection) as agent_queries:
        services.message_post(
            conversation_id=conversation.pk, author=desk.agent, body="Let me look it up for you.", client_id="a-1"
        )

    # No look-up for a resend before the INSERT: the unique constraint finds those. The
    # composer's terms were read for the first reply and are remembered for a while.
    for queries in (visitor_queries, agent_queries):
        sql = [query["sql"] for query in queries.captured_queries]
        if connection.vendor == "postgresql":
            # The row read without a lock; the UPDATE, checking it, inside the INSERT's WITH;
            # no transaction around them.
            assert statements(queries) == ["SELECT", "WITH"]
            assert "FOR UPDATE" not in sql[0] and "IS NOT DISTINCT FROM" in sql[1]
        else:
            # The row lock, the two writes, BEGIN and COMMIT. No savepoint of its own: a regression guard.
            writes = [s for s in statements(queries) if s in ("SELECT", "INSERT", "UPDATE")]
            assert writes == ["SELECT", "UPDATE", "INSERT"]
            assert len(queries) == 5, statements(queries)
    conversation.refresh_from_db()
    assert (conversation.last_seq, conversation.preview) == (5, "Where is my order?")
    assert conversation.agent_message_count == 2 and conversation.waiting_since is None
    assert list(conversation.messages.order_by("seq").values_list("seq", "client_id")) == [
        (1, "v-0"),
        (2, None),  # "... joined the chat."
        (3, "a-0"),
        (4, "v-1"),
        (5, "a-1"),
    ]


def test_the_row_lock_joins_nothing_and_agents_get_what_the_message_changed(desk, sent_events):
    conversation = claimed(desk)

    with CaptureQueriesContext(connection) as queries:
        services.message_post(
            conversation_id=conversation.pk, author=conversation.visitor, body="Where is it?", client_id="v-1"
        )

    lock = next(query["sql"] for query in queries.captured_queries if query["sql"].startswith("SELECT"))
    assert '"chat_conversation"' in lock and "JOIN" not in lock
    [(_, to_owner)] = [(g, p) for g, p in sent_events[-3:] if p["type"] == "message.new" and "conversation" in p]
    [(_, to_supervisors)] = [(g, p) for g, p in sent_events[-3:] if p["type"] == "conversation.updated"]
    progress = {"id", "status", "last_seq", "preview", "first_response_at", "waiting_since"}
    for payload in (to_owner, to_supervisors):
        assert set(payload["conversation"]) == progress
        assert payload["conversation"]["preview"] == "Where is it?"
        assert payload["conversation"]["last_seq"] == to_owner["message"]["seq"]


def test_the_composer_terms_are_read_once_then_remembered(desk):
    conversation = claimed(desk)

    with CaptureQueriesContext(connection) as first:
        services.message_post(conversation_id=conversation.pk, author=desk.agent, body="I'm on it.", client_id="a-1")
    with CaptureQueriesContext(connection) as second:
        services.message_post(conversation_id=conversation.pk, author=desk.agent, body="Found it.", client_id="a-2")

    assert len(first) == len(second) + 1
    assert any("agents_composerterm" in query["sql"] for query in first.captured_queries)


on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the unlocked path runs where its write is one statement"
)


def read_then(monkeypatch, change) -> None:
    """Run `change` once, committed as another process's would be, between the unlocked
    read of a message's conversation and its write."""
    read_row = messages.read_row

    def read_and_change(model, pk):
        row = read_row(model, pk)
        if change is not None:
            with transaction.atomic():
                change_now, read_and_change.change = read_and_change.change, None
                change_now()
        return row

    read_and_change.change = change
    monkeypatch.setattr(messages, "read_row", read_and_change)


@on_postgresql
def test_a_message_whose_chat_changed_since_it_was_read_takes_the_next_seq_under_the_lock(desk, monkeypatch):
    conversation = claimed(desk)
    read_then(
        monkeypatch,
        lambda: services.message_post(
            conversation_id=conversation.pk, author=desk.agent, body="Checking now.", client_id="a-1"
        ),
    )

    message, created = services.message_post(
        conversation_id=conversation.pk, author=conversation.visitor, body="Any news?", client_id="v-1"
    )

    conversation.refresh_from_db()
    assert created and message.seq == conversation.last_seq == conversation.last_public_seq == 4
    assert list(conversation.messages.order_by("seq").values_list("client_id", flat=True)) == [
        "v-0",
        None,  # "... joined the chat."
        "a-1",
        "v-1",
    ]
    assert (conversation.preview, conversation.agent_message_count) == ("Any news?", 1)
    assert conversation.waiting_since is not None  # the reply came before the question


@on_postgresql
def test_a_message_to_a_chat_ended_since_it_was_read_is_refused_and_not_stored(desk, monkeypatch):
    conversation = claimed(desk)
    read_then(
        monkeypatch, lambda: services.conversation_end(conversation_id=conversation.pk, ended_by=conversation.visitor)
    )

    with pytest.raises(ChatError) as refused:
        services.message_post(
            conversation_id=conversation.pk, author=desk.agent, body="One more thing.", client_id="a-1"
        )

    assert refused.value.code == ErrorCode.CONVERSATION_ENDED
    assert not Message.objects.filter(conversation=conversation, client_id="a-1").exists()


def test_resend_of_an_agent_reply_counts_nothing_twice(desk):
    conversation = claimed(desk)
    canned = make_canned(team=desk.agent.teams.first(), body="Thanks for waiting, let me check.")

    def send() -> tuple[Message, bool]:
        return services.message_post(
            conversation_id=conversation.pk,
            author=desk.agent,
            body="Thanks for waiting, let me check.",
            client_id="a-1",
            canned_id=canned.pk,
        )

    first, created = send()
    conversation.refresh_from_db()
    after_first = (conversation.last_seq, conversation.agent_message_count, conversation.canned_message_count)
    again, created_again = send()

    assert (created, created_again, again.pk) == (True, False, first.pk)
    conversation.refresh_from_db()
    assert (conversation.last_seq, conversation.agent_message_count, conversation.canned_message_count) == after_first
    assert after_first[1:] == (1, 1)
    assert CannedResponse.objects.get(pk=canned.pk).use_count == 1
    assert Message.objects.filter(conversation=conversation, seq__gt=first.seq).count() == 0


def test_resend_sends_no_event_again(desk, sent_events):
    conversation = claimed(desk)
    stored, _ = services.message_post(
        conversation_id=conversation.pk, author=conversation.visitor, body="Hello", client_id="v-1"
    )
    told = len(sent_events)

    message, created = services.message_post(
        conversation_id=conversation.pk, author=conversation.visitor, body="Hello", client_id="v-1"
    )

    assert (message.pk, created) == (stored.pk, False)
    assert len(sent_events) == told


def test_resend_is_acked_even_when_a_term_was_added_since(desk):
    conversation = claimed(desk)
    original, _ = services.message_post(
        conversation_id=conversation.pk, author=desk.agent, body="Sure thing, one moment.", client_id="a-1"
    )
    make_term(kind="slang", term="thing", suggestion="matter")

    resent, created = services.message_post(
        conversation_id=conversation.pk, author=desk.agent, body="Sure thing, one moment.", client_id="a-1"
    )
    assert (resent.pk, created) == (original.pk, False)
    with pytest.raises(ChatError) as refused:
        services.message_post(
            conversation_id=conversation.pk, author=desk.agent, body="Sure thing, one moment.", client_id="a-2"
        )
    assert refused.value.code == ErrorCode.COMPOSER_WARNING


async def test_events_of_a_frame_wait_for_the_end_of_its_handling(desk, sent_events):
    conversation = await claimed_async(desk)
    sent_events.clear()

    async with realtime.events_after():
        await post_async(conversation, "Inside")
        assert sent_events == []  # committed, held for the event loop

    assert [payload["message"]["body"] for _, payload in sent_events if payload["type"] == "message.new"] == [
        "Inside",
        "Inside",  # the visitor's copy and the owner's
    ]


def test_rolled_back_events_are_never_sent(desk, sent_events):
    conversation = claimed(desk)
    told = len(sent_events)

    with pytest.raises(RuntimeError), transaction.atomic():
        services.message_post(
            conversation_id=conversation.pk, author=conversation.visitor, body="Lost", client_id="v-9"
        )
        raise RuntimeError("rolled back")

    assert len(sent_events) == told


async def test_the_ack_carries_the_message_which_only_the_senders_other_tabs_get_as_an_event(desk):
    visitor, welcome = await open_visitor(desk.site)
    other_tab, _ = await open_visitor(desk.site, token=welcome["token"])

    ack = await start_and_send(visitor, "First", "c-0")

    assert ack["message"] == (await receive_message(other_tab, 1))["message"]
    assert ack["message"]["body"] == "First" and ack["message"]["prev_seq"] == 0
    await visitor.send_json_to(
        {"type": "message.send", "conversation_id": ack["conversation_id"], "client_id": "c-1", "body": "Second"}
    )
    assert (await receive_until(visitor, "message.ack"))["message"]["seq"] == 2
    await receive_message(other_tab, 2)
    while not visitor.output_queue.empty():  # the sender's own events: none is its message
        assert (await visitor.receive_json_from())["type"] != "message.new"
    for socket in (visitor, other_tab):
        await socket.disconnect()


async def claimed_async(desk) -> Conversation:
    return await database_sync_to_async(claimed)(desk)


async def post_async(conversation: Conversation, body: str) -> None:
    await database_sync_to_async(services.message_post)(
        conversation_id=conversation.pk, author=conversation.visitor, body=body, client_id=f"v-{body}"
    )


async def test_events_reach_a_socket_while_its_own_frame_waits_for_the_database(desk, monkeypatch):
    visitor, _ = await open_visitor(desk.site)
    conversation_id = (await start_and_send(visitor, "First", "c-0"))["conversation_id"]
    visitor_id = (await Conversation.objects.aget(pk=conversation_id)).visitor_id
    released = threading.Event()
    message_post = services.message_post

    def slow_message_post(**kwargs):
        released.wait(5)  # a database busy with other sockets' work
        return message_post(**kwargs)

    monkeypatch.setattr(services, "message_post", slow_message_post)
    await visitor.send_json_to(
        {"type": "message.send", "conversation_id": conversation_id, "client_id": "c-1", "body": "Second"}
    )
    event = {"type": "typing", "conversation_id": conversation_id, "sender": "agent", "name": "Ann"}
    await get_channel_layer().group_send(realtime.visitor_group(visitor_id), {"type": "chat.event", "payload": event})

    assert await receive_until(visitor, "typing") == event  # not held behind the waiting frame
    assert not released.is_set()
    released.set()
    assert (await receive_until(visitor, "message.ack"))["seq"] == 2
    await visitor.disconnect()


async def test_frames_read_before_the_socket_closed_are_still_handled(desk):
    visitor, _ = await open_visitor(desk.site)
    conversation_id = (await start_and_send(visitor, "First", "c-0"))["conversation_id"]
    for number in range(1, 4):
        await visitor.send_json_to(
            {"type": "message.send", "conversation_id": conversation_id, "client_id": f"c-{number}", "body": "Bye"}
        )
    await visitor.disconnect(timeout=5)

    stored = Message.objects.filter(conversation_id=conversation_id).order_by("seq").values_list("client_id", flat=True)
    assert await database_sync_to_async(list)(stored) == ["c-0", "c-1", "c-2", "c-3"]
