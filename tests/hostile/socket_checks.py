"""What the socket fuzz tests share: the secret another conversation holds, the frames a
socket may answer with, and a recorder that checks every answer as it arrives."""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from agents.models import Agent
from chat import services
from chat.errors import ErrorCode
from chat.models import Conversation, Message
from tests.agents.factories import make_agent, make_team
from tests.chat.factories import make_conversation, make_topic, make_visitor

SECRET = "SECRET-7f3a-the-other-customers-parcel"
DOCUMENTED_CODES = {code.value for code in ErrorCode}
VISITOR_FRAMES = {
    "welcome", "conversation.updated", "queue.position", "message.ack", "message.new", "sync.result",
    "typing", "read", "visitor.contact.saved", "error",
}  # fmt: skip
AGENT_FRAMES = {
    "welcome", "conversation.updated", "message.new", "message.ack", "sync.result", "composer.result",
    "canned.results", "canned.saved", "agent.updated", "visitor.details", "alert.waiting", "pong",
    "typing", "read", "error",
}  # fmt: skip
# Per-IP and per-visitor limits count across examples; the socket's token bucket stays as set.
UNLIMITED = override_settings(
    CHAT_IP_MESSAGES_PER_MINUTE=10**6,
    CHAT_IP_CONVERSATIONS_PER_MINUTE=10**6,
    CHAT_VISITOR_CONVERSATIONS_PER_MINUTE=10**6,
)
# Waiting is free; a 2-core CI machine running other suites can be slow to answer.
PATIENCE = 30
REPLY = "Thanks for waiting, I am checking your order right now."


@dataclass
class Transcript:
    """Everything one socket received, raw and parsed."""

    answers: set[str]
    raw: list[str]

    async def next(self, socket: WebsocketCommunicator) -> dict[str, Any]:
        output = await socket.receive_output(PATIENCE)
        assert output["type"] == "websocket.send", f"the server closed the socket: {output}"
        text = output["text"]
        self.raw.append(text)
        frame = json.loads(text)
        assert frame["type"] in self.answers, frame
        if frame["type"] == "error":
            assert frame["code"] in DOCUMENTED_CODES, frame
            # A fault on our side is a bug, even when reported politely.
            assert frame["code"] != ErrorCode.INTERNAL_ERROR, frame
            assert isinstance(frame["message"], str) and frame["message"], frame
        return frame

    async def until(self, socket: WebsocketCommunicator, test: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while True:
            frame = await self.next(socket)
            if test(frame):
                return frame

    async def drain(self, socket: WebsocketCommunicator) -> None:
        while not await socket.receive_nothing(0.05):
            await self.next(socket)

    def assert_no_leak(self) -> None:
        leaked = [text for text in self.raw if SECRET in text]
        assert not leaked, f"another conversation's data reached this socket: {leaked[:1]}"


async def send_wire(socket: WebsocketCommunicator, wire: tuple[str, str | bytes]) -> None:
    kind, data = wire
    # Straight to the ASGI app: send_to() refuses the empty frames a client can still send.
    await socket.send_input({"type": "websocket.receive", kind: data})


async def stored_once(client_id: str) -> bool:
    return await sync_to_async(Message.objects.filter(client_id=client_id).count)() == 1


async def send_and_expect_ack(
    socket: WebsocketCommunicator, transcript: Transcript, conversation_id: int, body: str
) -> None:
    client_id = str(uuid.uuid4())
    await socket.send_json_to(
        {"type": "message.send", "conversation_id": conversation_id, "client_id": client_id, "body": body}
    )
    answer = await transcript.until(
        socket, lambda f: f["type"] in {"message.ack", "error"} and (f.get("client_id") or f.get("ref")) == client_id
    )
    assert answer["type"] == "message.ack", answer
    assert await stored_once(client_id)


def secret_conversation_of_another_visitor(desk) -> Conversation:
    other, _ = make_visitor(site=desk.site)
    conversation = services.conversation_start(visitor=other, topic_slug=desk.topic.slug)
    services.message_post(conversation_id=conversation.pk, author=other, body=SECRET, client_id="secret-1")
    return conversation


def another_teams_secret_chats(desk) -> tuple[list[int], Agent]:
    """A chat claimed by an agent of another team and one queued for that team, both with SECRET."""
    billing = make_topic(site=desk.site, slug="billing")
    other_team = make_team(topics=[billing])
    other_agent = make_agent(teams=[other_team])
    ids = []
    for claim in (True, False):
        visitor, _ = make_visitor(site=desk.site)
        conversation = services.conversation_start(visitor=visitor, topic_slug="billing")
        services.message_post(conversation_id=conversation.pk, author=visitor, body=SECRET, client_id="s")
        if claim:
            services.conversation_claim(conversation_id=conversation.pk, agent=other_agent)
            services.message_post(
                conversation_id=conversation.pk, author=other_agent, body=f"Note: {SECRET}", client_id="n", note=True
            )
        ids.append(conversation.pk)
    return ids, other_agent


def fresh_claimed_chat(desk, agent: Agent) -> int:
    """The fuzzed agent's own chat for one example: random frames may end or transfer the last one."""
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    Agent.objects.filter(pk=agent.pk).update(status=Agent.Status.ONLINE)
    services.conversation_claim(conversation_id=conversation.pk, agent=agent)
    return conversation.pk
