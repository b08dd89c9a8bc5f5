"""Both sockets under random frames (hypothesis): the server never crashes, never closes the
socket, answers bad frames only with documented error codes, never shows one client
another conversation's data, and the chat still works afterwards.

Each example opens a fresh socket (so a fresh token bucket), sends a handful of random
frames - typed protocol frames with random or wrong-typed fields, random JSON, deep JSON,
huge strings, unicode edge cases, binary frames, frames before `hello` - then a valid
`message.send`, which must be acked and stored exactly once. A second visitor's
conversation (and, for agents, another team's) holds SECRET; it must never appear in
anything the fuzzed socket receives. Every field of every frame type with each wrong kind
of value, as a table, is in test_socket_wrong_fields.py.
"""

import asyncio
import json
import operator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from chat import services
from chat.models import Conversation, Message
from chat.selectors import agent_can_see
from config.asgi import application
from tests.agents.factories import make_agent
from tests.chat.factories import ORIGIN, make_visitor

from .socket_checks import (
    AGENT_FRAMES,
    PATIENCE,
    REPLY,
    SECRET,
    UNLIMITED,
    VISITOR_FRAMES,
    Transcript,
    another_teams_secret_chats,
    fresh_claimed_chat,
    secret_conversation_of_another_visitor,
    send_and_expect_ack,
    send_wire,
)

pytestmark = pytest.mark.django_db(transaction=True)

# --- strategies -----------------------------------------------------------------------

EDGE_STRINGS = [
    "\x00", "a\x00b",  # NUL: PostgreSQL text cannot hold it
    "\ud800", "\udfff", "x\ud83dy",  # lone surrogates, sent as JSON escapes
    "\u202e\u2066evil\u2069", "\u200f", "\u200b", "\ufeff",  # bidi overrides, zero-width, BOM
    "👩\u200d👩\u200d👧\u200d👦", "🏳️\u200d🌈", "e\u0301\u0301\u0301",  # ZWJ sequences, combining marks
    "\ufffe", "\uffff", "\ufdd0", "\U0010ffff", "\U0001fffe",  # non-characters
    "\u2028\u2029", "\U0001d54f", "'; DROP TABLE chat_message; --", "<script>alert(1)</script>", "%s%n{0}", "{{ 7*7 }}",
]  # fmt: skip
texts = st.one_of(
    st.sampled_from(EDGE_STRINGS),
    st.text(max_size=40),
    # Huge strings: over the body limit, over the frame limit, multi-byte.
    st.builds(operator.mul, st.sampled_from(["a", "é", "😀", " ", "\x00", "\ud800"]), st.integers(0, 6000)),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),  # NaN and infinities too: Python's json accepts them
    texts,
)
json_values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3),
    max_leaves=10,
)
huge_ints = st.integers(min_value=2**62, max_value=2**80)


def typed_frames(fields: dict[str, dict[str, st.SearchStrategy[Any]]]) -> st.SearchStrategy[dict[str, Any]]:
    """Frames of every documented type, each field missing, plausible or any JSON at all."""
    return st.one_of(
        *[
            st.fixed_dictionaries({"type": st.just(name)}, optional={f: s | json_values for f, s in spec.items()})
            for name, spec in fields.items()
        ],
        # Every field present and plausible, so the frame reaches the services.
        *[st.fixed_dictionaries({"type": st.just(name), **spec}) for name, spec in fields.items()],
        st.fixed_dictionaries({"type": json_values}),
    )


def wire_frames(typed: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[tuple[str, str | bytes]]:
    """(kind, data): what goes on the wire, text or binary."""

    def deep(n: int, prefix: str = "", suffix: str = "") -> str:
        return prefix + "[" * n + "]" * n + suffix

    text = st.one_of(
        typed.map(json.dumps),
        typed.map(json.dumps),
        json_values.map(json.dumps),
        st.text(max_size=100),
        typed.map(lambda frame: json.dumps(frame)[:-1]),  # cut short
        st.integers(1, 8100).map(deep),  # deep JSON within the 16 KiB frame limit
        st.integers(5000, 10_000).map(deep),  # 10,000 nested arrays: over the limit
        st.integers(1, 3000).map(lambda n: '{"a":' * n + "1" + "}" * n),
        st.integers(1, 5000).map(
            lambda n: deep(n, '{"type": "message.send", "conversation_id": 1, "client_id": "x", "body": ', "}")
        ),
    )
    binary = st.one_of(st.binary(max_size=64), typed.map(lambda frame: json.dumps(frame).encode()))
    return st.one_of(text.map(lambda data: ("text", data)), binary.map(lambda data: ("bytes", data)))


def visitor_fields(ids: list[int], token: str) -> dict[str, dict[str, st.SearchStrategy[Any]]]:
    conversation_id = st.sampled_from(ids) | st.integers(-2, 10**6) | huge_ints
    seq = st.integers(-2, 10**12) | huge_ints
    return {
        "hello": {
            "token": st.just(token) | texts,
            "identity": st.fixed_dictionaries({}, optional={k: texts for k in ("id", "signature", "name", "email")}),
            "pages": st.lists(
                st.fixed_dictionaries({}, optional={"url": texts | st.just("https://x.example/"), "title": texts}),
                max_size=3,
            ),
        },
        "conversation.start": {"topic": st.sampled_from(["returns", "billing", "nope"]), "offline": st.booleans()},
        "message.send": {"conversation_id": conversation_id, "client_id": st.uuids().map(str) | texts, "body": texts},
        "sync": {"conversation_id": conversation_id, "after_seq": seq},
        "conversation.end": {"conversation_id": conversation_id},
        "typing": {"conversation_id": conversation_id},
        "read": {"conversation_id": conversation_id, "seq": seq},
        "page.view": {"url": st.just("https://shop.example.com/") | texts, "title": texts},
        "visitor.contact": {
            "email": st.just("anna@example.com") | texts,
            "purpose": st.sampled_from(["transcript", "follow_up", "offline", "spam"]),
            "conversation_id": conversation_id,
            "marketing_consent": st.booleans(),
            "consent_wording": texts,
        },
        "conversation.rate": {"conversation_id": conversation_id, "rating": st.integers(-1, 7), "comment": texts},
    }


def agent_fields(ids: list[int], agent_ids: list[int], team_ids: list[int]) -> dict[str, dict[str, Any]]:
    conversation_id = st.sampled_from(ids) | st.integers(-2, 10**6) | huge_ints
    seq = st.integers(-2, 10**12) | huge_ints
    agent_id = st.sampled_from(agent_ids) | huge_ints
    team_id = st.sampled_from(team_ids) | huge_ints
    return {
        "conversation.claim": {"conversation_id": conversation_id},
        "message.send": {
            "conversation_id": conversation_id,
            "client_id": st.uuids().map(str) | texts,
            "body": texts,
            "note": st.booleans(),
            "overridden": st.lists(st.sampled_from(["too_long", "cold_reply", "slang", "blocked"]) | texts),
            "canned_id": st.integers(-1, 100) | huge_ints,
        },
        "sync": {"conversation_id": conversation_id, "after_seq": seq},
        "conversation.end": {"conversation_id": conversation_id},
        "conversation.transfer": {
            "conversation_id": conversation_id,
            "to_agent_id": agent_id,
            "to_team_id": team_id,
            "reason": texts,
        },
        "conversation.follow_up": {"conversation_id": conversation_id, "needs": st.booleans()},
        "composer.check": {"conversation_id": conversation_id, "body": texts},
        "canned.search": {"conversation_id": conversation_id, "query": texts},
        "canned.save": {"title": texts, "shortcut": texts, "body": texts, "team_id": team_id},
        "typing": {"conversation_id": conversation_id},
        "read": {"conversation_id": conversation_id, "seq": seq},
        "visitor.details": {"conversation_id": conversation_id},
        "agent.status": {"status": st.sampled_from(["online", "away", "offline"]) | texts},
        "ping": {},
    }


def fuzz_settings(max_examples: int) -> settings:
    return settings(settings.get_profile("hostile"), max_examples=max_examples)


# --- visitor socket -------------------------------------------------------------------


@UNLIMITED
def test_visitor_socket_survives_random_frames_and_leaks_nothing(desk):
    victim = secret_conversation_of_another_visitor(desk)
    visitor, token = make_visitor(site=desk.site)
    own = services.conversation_start(visitor=visitor, topic_slug=desk.topic.slug)
    services.message_post(conversation_id=own.pk, author=visitor, body="My own question", client_id="own-1")
    frames = st.lists(wire_frames(typed_frames(visitor_fields([own.pk, victim.pk], token))), min_size=1, max_size=10)

    async def example(wires: list[tuple[str, str | bytes]], hello_first: bool) -> None:
        transcript = Transcript(VISITOR_FRAMES, [])
        socket = WebsocketCommunicator(
            application, f"/ws/visitor/{desk.site.key}/", headers=[(b"origin", ORIGIN.encode())]
        )
        assert (await socket.connect(PATIENCE))[0]
        hello = {"type": "hello", "token": token}
        if hello_first:
            await socket.send_json_to(hello)
            await transcript.until(socket, lambda f: f["type"] == "welcome")
        for wire in wires:
            await send_wire(socket, wire)
        # Frames are answered in order: once this one's error is in, nothing the random
        # frames caused (an error naming conversation.start, say) can be taken for the below.
        await socket.send_json_to({"type": "fuzz.sentinel"})
        await transcript.until(socket, lambda f: f["type"] == "error" and f.get("ref") == "fuzz.sentinel")
        # Whoever this socket is now (a random hello may have made a new visitor), it chats on.
        await socket.send_json_to(hello)
        await transcript.until(socket, lambda f: f["type"] == "welcome")
        await socket.send_json_to({"type": "conversation.start", "topic": desk.topic.slug})
        started = await transcript.until(
            socket,
            # A late copy of an end from the random frames may come first: skip ended ones.
            lambda f: (
                (f["type"] == "error" and f["ref"] == "conversation.start")
                or (f["type"] == "conversation.updated" and f["conversation"]["status"] != "ended")
            ),
        )
        assert started["type"] == "conversation.updated", started
        await send_and_expect_ack(socket, transcript, started["conversation"]["id"], "Still there?")
        await transcript.drain(socket)
        await socket.disconnect()
        transcript.assert_no_leak()

    with asyncio.Runner() as runner:

        @fuzz_settings(60)
        @given(wires=frames, hello_first=st.booleans())
        def property_holds(wires: list[tuple[str, str | bytes]], hello_first: bool) -> None:
            runner.run(example(wires, hello_first))

        property_holds()

    # Nothing the fuzzed socket sent landed in the other visitor's chat.
    assert list(Message.objects.filter(conversation=victim, sender="visitor").values_list("body", flat=True)) == [
        SECRET
    ]


# --- agent socket ---------------------------------------------------------------------


@UNLIMITED
def test_agent_socket_survives_random_frames_and_leaks_nothing(desk):
    secret_ids, other_agent = another_teams_secret_chats(desk)
    agent = make_agent(teams=list(desk.agent.teams.all()), max_chats=10_000)
    assert not any(agent_can_see(agent=agent, conversation=c) for c in Conversation.objects.filter(pk__in=secret_ids))
    mine = fresh_claimed_chat(desk, agent)
    teams = list(other_agent.teams.values_list("pk", flat=True)) + list(agent.teams.values_list("pk", flat=True))
    fields = agent_fields([mine, *secret_ids], [desk.other_agent.user_id, other_agent.user_id, agent.user_id], teams)
    frames = st.lists(wire_frames(typed_frames(fields)), min_size=1, max_size=12)
    client = Client()
    client.force_login(agent.user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    headers = [(b"origin", b"http://testserver"), (b"cookie", cookie)]

    async def example(wires: list[tuple[str, str | bytes]]) -> None:
        transcript = Transcript(AGENT_FRAMES, [])
        own = await sync_to_async(fresh_claimed_chat)(desk, agent)
        socket = WebsocketCommunicator(application, "/ws/agent/", headers=headers)
        assert (await socket.connect(PATIENCE))[0]
        await transcript.until(socket, lambda f: f["type"] == "welcome")
        for wire in wires:
            await send_wire(socket, wire)
        await send_and_expect_ack(socket, transcript, own, REPLY)
        await transcript.drain(socket)
        await socket.disconnect()
        transcript.assert_no_leak()

    with asyncio.Runner() as runner:

        @fuzz_settings(60)
        @given(wires=frames)
        def property_holds(wires: list[tuple[str, str | bytes]]) -> None:
            runner.run(example(wires))

        property_holds()
