"""Every field of every documented frame type, on both sockets, with each wrong kind of value
(missing, null, bool, float, negative, beyond 64 bits, empty, huge, list, object, NUL,
unpaired surrogate, bidi override, emoji sequence): each is answered with a documented
error or handled, nothing leaks, and a valid message afterwards is acked and stored once."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from tests.agents.factories import make_agent
from tests.chat.sockets import open_agent, open_visitor, start_and_send

from .socket_checks import (
    AGENT_FRAMES,
    REPLY,
    UNLIMITED,
    VISITOR_FRAMES,
    Transcript,
    another_teams_secret_chats,
    fresh_claimed_chat,
    secret_conversation_of_another_visitor,
    send_and_expect_ack,
)

pytestmark = pytest.mark.django_db(transaction=True)

WRONG_VALUES = [
    None, True, 1.5, -1, 0, 2**63, 2**80, "", "7", "x" * 5000, [], [1], {}, {"a": 1},
    "\x00", "a\x00b", "\ud800", "x\udfffy", "\u202e\ufffe", "👩\u200d👩\u200d👧",
]  # fmt: skip


def every_field_wrong(valid: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One frame per (type, field, wrong value): the valid frame with that one field replaced."""
    return [
        {"type": name, **frame, field: wrong}
        for name, frame in valid.items()
        for field in frame
        for wrong in WRONG_VALUES
    ]


async def send_all_then_chat(
    socket: WebsocketCommunicator,
    transcript: Transcript,
    frames: list[dict[str, Any]],
    chat: Callable[[], Any],
    body: str,
) -> None:
    """Send every frame, then a valid message to the conversation `chat()` names (a wrong
    value may still be a valid one, e.g. "7" as a transfer reason, and move the first chat)."""
    for frame in frames:
        await socket.send_to(text_data=json.dumps(frame))
    await send_and_expect_ack(socket, transcript, await chat(), body)
    await transcript.drain(socket)
    transcript.assert_no_leak()
    await socket.disconnect()


@UNLIMITED
@override_settings(CHAT_RATE_BURST=10**6)
async def test_visitor_every_field_of_every_frame_wrong(desk):
    victim = await sync_to_async(secret_conversation_of_another_visitor)(desk)
    socket, welcome = await open_visitor(desk.site)
    transcript = Transcript(VISITOR_FRAMES, [])
    own = (await start_and_send(socket, "My question", "c-0"))["conversation_id"]
    valid = {
        "hello": {"token": welcome["token"], "identity": {"id": "c-1", "signature": "00"}, "pages": []},
        "conversation.start": {"topic": desk.topic.slug, "offline": False},
        "message.send": {"conversation_id": own, "client_id": "c-1", "body": "Hello"},
        "sync": {"conversation_id": own, "after_seq": 0},
        "conversation.end": {"conversation_id": own},
        "typing": {"conversation_id": own},
        "read": {"conversation_id": own, "seq": 1},
        "page.view": {"url": "https://shop.example.com/", "title": "Shop"},
        "visitor.contact": {"email": "a@example.com", "purpose": "follow_up", "conversation_id": own,
                            "marketing_consent": False, "consent_wording": ""},
        "conversation.rate": {"conversation_id": own, "rating": 5, "comment": "Good"},
    }  # fmt: skip
    frames = [
        *every_field_wrong(valid),
        {**valid["message.send"], "type": "message.send", "conversation_id": victim.pk},
    ]

    async def chat() -> int:
        await socket.send_json_to({"type": "conversation.start", "topic": desk.topic.slug})
        started = await transcript.until(
            socket, lambda f: f["type"] == "conversation.updated" and f["conversation"]["status"] != "ended"
        )
        return started["conversation"]["id"]

    await send_all_then_chat(socket, transcript, frames, chat, "Still there?")


@UNLIMITED
@override_settings(CHAT_RATE_BURST=10**6)
async def test_agent_every_field_of_every_frame_wrong(desk):
    secret_ids, _ = await sync_to_async(another_teams_secret_chats)(desk)
    agent = await sync_to_async(make_agent)(teams=await sync_to_async(list)(desk.agent.teams.all()), max_chats=10_000)
    own = await sync_to_async(fresh_claimed_chat)(desk, agent)
    socket, _ = await open_agent(agent)
    transcript = Transcript(AGENT_FRAMES, [])
    valid = {
        "conversation.claim": {"conversation_id": own},
        "message.send": {"conversation_id": own, "client_id": "a-1", "body": REPLY, "note": False,
                         "overridden": [], "canned_id": None},
        "sync": {"conversation_id": own, "after_seq": 0},
        "conversation.end": {"conversation_id": own},
        "conversation.transfer": {"conversation_id": own, "to_agent_id": desk.other_agent.user_id,
                                  "reason": "Billing question"},
        "conversation.follow_up": {"conversation_id": own, "needs": False},
        "composer.check": {"conversation_id": own, "body": REPLY},
        "canned.search": {"conversation_id": own, "query": "/re"},
        "canned.save": {"title": "Refunds", "shortcut": "refund", "body": "Refunds take 3 days.", "team_id": None},
        "typing": {"conversation_id": own},
        "read": {"conversation_id": own, "seq": 1},
        "visitor.details": {"conversation_id": own},
        "agent.status": {"status": "online"},
        "ping": {"x": 1},
    }  # fmt: skip
    frames = every_field_wrong(valid) + [
        {"type": kind, "conversation_id": secret, "after_seq": 0}
        for secret in secret_ids
        for kind in ("sync", "visitor.details", "conversation.claim")
    ]

    await send_all_then_chat(socket, transcript, frames, sync_to_async(lambda: fresh_claimed_chat(desk, agent)), REPLY)
