"""One visitor floods its socket with 2,000 messages while another chats with an agent:
in-process (both modes), and on loopback through two Daphne nodes (real stack).

The flooder is held back by its socket's token bucket (and its network's minute limit):
each frame is answered, either acked or refused with `rate_limited` and a `retry_after`,
until it has been refused CHAT_REFUSALS_BEFORE_CLOSE times without slowing down; then its
socket is closed with 4008, and exactly the acked frames are stored. Meanwhile the
neighbour's chat goes on: each of its messages is acked, stored once and delivered to the
agent in order. Correctness only: the latency figures are the benchmark's business (bench/).
"""

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from chat.consumers.base import FLOODED_CODE
from chat.models import Message
from tests.chat.factories import ORIGIN
from tests.chat.sockets import open_agent, open_visitor, receive_until, start_and_send
from tests.servers import Node, daphne_nodes, database_url, delete_redis_keys, node_environment

pytestmark = pytest.mark.django_db(transaction=True)

FLOOD_FRAMES = 2_000
NEIGHBOUR_MESSAGES = 10
PATIENCE = 60  # seconds to wait for any one answer on a busy 2-core machine


async def stored_client_ids(conversation_id: int) -> set[str]:
    rows = Message.objects.filter(conversation_id=conversation_id, sender="visitor").values_list("client_id", flat=True)
    return set(await sync_to_async(list)(rows))


def flood_outcome(answers: list[dict]) -> tuple[list[dict], set[str]]:
    """The flooder's answers before its socket was closed: (the refusals, the acked client
    ids). Each refusal a rate limit, as many as it is allowed before the close, and the
    frames answered are the first ones sent, in order."""
    refused = [a for a in answers if a["type"] == "error"]
    acked = {a["client_id"] for a in answers if a["type"] == "message.ack"}
    assert {a["code"] for a in refused} == {"rate_limited"}
    assert settings.CHAT_REFUSALS_BEFORE_CLOSE <= len(refused) < FLOOD_FRAMES // 2
    answered = [a["client_id"] if a["type"] == "message.ack" else a["ref"] for a in answers]
    assert answered == [f"f-{n}" for n in range(1, len(answers) + 1)]
    return refused, acked


def assert_neighbour_carried_on(acks: list[dict], delivered: list[str]) -> None:
    """Every message of the neighbour acked in order, and delivered to the agent in order."""
    sent = [f"n-{n}" for n in range(1, NEIGHBOUR_MESSAGES + 1)]
    assert [(a["type"], a["client_id"]) for a in acks] == [("message.ack", client_id) for client_id in sent]
    assert delivered == sent


async def test_a_flooding_visitor_is_limited_while_another_chat_carries_on(desk):
    flooder, _ = await open_visitor(desk.site, client_ip="203.0.113.66")
    flood_chat = (await start_and_send(flooder, "First", "f-0"))["conversation_id"]
    neighbour, _ = await open_visitor(desk.site, client_ip="198.51.100.20")
    neighbour_chat = (await start_and_send(neighbour, "Hello, anyone there?", "n-0"))["conversation_id"]
    agent, _ = await open_agent(desk.agent)
    await agent.send_json_to({"type": "conversation.claim", "conversation_id": neighbour_chat})
    await receive_until(agent, "conversation.updated")

    async def flood() -> list[dict]:
        for client_id in [f"f-{n}" for n in range(1, FLOOD_FRAMES + 1)]:
            await flooder.send_json_to(
                {"type": "message.send", "conversation_id": flood_chat, "client_id": client_id, "body": client_id}
            )
        answers = []
        while (output := await flooder.receive_output(PATIENCE))["type"] == "websocket.send":
            frame = json.loads(output["text"])
            if frame["type"] in {"message.ack", "error"}:
                answers.append(frame)
        assert output == {"type": "websocket.close", "code": FLOODED_CODE}
        return answers

    async def chat() -> list[dict]:
        acks = []
        for n in range(1, NEIGHBOUR_MESSAGES + 1):
            await neighbour.send_json_to(
                {"type": "message.send", "conversation_id": neighbour_chat, "client_id": f"n-{n}", "body": f"n-{n}"}
            )
            while (frame := await neighbour.receive_json_from(PATIENCE))["type"] not in {"message.ack", "error"}:
                pass
            acks.append(frame)
            await asyncio.sleep(0.05)  # a person typing, not a script
        return acks

    async def agent_sees() -> list[str]:
        bodies: list[str] = []
        while len(bodies) < NEIGHBOUR_MESSAGES:
            frame = await agent.receive_json_from(PATIENCE)
            message = frame.get("message", {})
            if frame["type"] == "message.new" and message.get("sender") == "visitor":
                assert message["conversation_id"] == neighbour_chat  # never the flooder's (unclaimed) chat
                bodies.append(message["body"])
        return bodies

    flood_answers, neighbour_acks, delivered = await asyncio.gather(flood(), chat(), agent_sees())

    # The flooder: every frame answered, limited with a retry time, exactly the acked ones stored.
    refused, acked = flood_outcome(flood_answers)
    assert all(a["retry_after"] > 0 for a in refused)
    assert {a["ref"] for a in refused}.isdisjoint(acked)
    assert await stored_client_ids(flood_chat) == acked | {"f-0"}
    # The neighbour: everything acked in order, stored once, delivered to the agent in order.
    assert_neighbour_carried_on(neighbour_acks, delivered)
    assert [a["seq"] for a in neighbour_acks] == sorted({a["seq"] for a in neighbour_acks})
    assert await stored_client_ids(neighbour_chat) == {f"n-{n}" for n in range(NEIGHBOUR_MESSAGES + 1)}
    for socket in (neighbour, agent):
        await socket.disconnect()


async def test_a_socket_that_keeps_sending_what_is_refused_is_closed(desk):
    # Daphne reads a socket without limit, and pings only a quiet one: a client that sends
    # without reading its answers would have them piling up in the process's memory.
    flooder, _ = await open_visitor(desk.site)
    for _ in range(FLOOD_FRAMES):
        await flooder.send_to(text_data="{not json")
    answers = []
    while (output := await flooder.receive_output(PATIENCE))["type"] == "websocket.send":
        answers.append(json.loads(output["text"]))

    assert output == {"type": "websocket.close", "code": FLOODED_CODE}
    assert {answer["code"] for answer in answers} == {"invalid_json"}
    assert settings.CHAT_REFUSALS_BEFORE_CLOSE <= len(answers) < FLOOD_FRAMES // 2
    # A client that slows down is not closed: its refusals are earned back at the frame rate.
    with override_settings(CHAT_REFUSALS_BEFORE_CLOSE=10):
        again, _ = await open_visitor(desk.site)
    for _ in range(3):
        for _ in range(8):
            await again.send_to(text_data="{not json")
            assert (await again.receive_json_from(PATIENCE))["code"] == "invalid_json"
        await asyncio.sleep(10 / settings.CHAT_RATE_PER_SECOND)
    assert (await start_and_send(again, "Still here", "s-1"))["seq"] == 1
    await again.disconnect()


# --- the same on loopback: two Daphne nodes, Redis between them, real sockets ------------


@pytest.fixture
def two_nodes(postgres: None, redis_url: str) -> Iterator[list[Node]]:
    prefix = f"hostile-{uuid.uuid4().hex[:10]}"
    env = node_environment(
        database_url=database_url(connection.settings_dict), redis_url=redis_url, channel_prefix=prefix
    )
    try:
        with daphne_nodes(["flooded", "calm"], env) as nodes:
            yield nodes
            for node in nodes:
                print(node.describe())  # shown by pytest when the test fails
    finally:
        delete_redis_keys(redis_url, prefix)


async def next_of(socket: ClientConnection, types: set[str]) -> dict:
    while (frame := json.loads(await asyncio.wait_for(socket.recv(), PATIENCE)))["type"] not in types:
        pass
    return frame


@pytest.mark.realstack
async def test_a_flood_through_one_node_leaves_a_chat_through_the_other_intact(desk, two_nodes):
    flooded, calm = two_nodes
    cookie = await sync_to_async(lambda: _session_cookie(desk.agent))()

    async with (
        connect(flooded.ws_url(f"/ws/visitor/{desk.site.key}/"), origin=ORIGIN) as flooder,
        connect(calm.ws_url(f"/ws/visitor/{desk.site.key}/"), origin=ORIGIN) as neighbour,
        connect(calm.ws_url("/ws/agent/"), origin=calm.origin, additional_headers={"Cookie": cookie}) as agent,
    ):
        await next_of(agent, {"welcome"})
        chats = []
        for socket in (flooder, neighbour):
            await socket.send(json.dumps({"type": "hello"}))
            await next_of(socket, {"welcome"})
            await socket.send(json.dumps({"type": "conversation.start", "topic": desk.topic.slug}))
            chats.append((await next_of(socket, {"conversation.updated"}))["conversation"]["id"])
        flood_chat, neighbour_chat = chats
        await agent.send(json.dumps({"type": "conversation.claim", "conversation_id": neighbour_chat}))
        await next_of(agent, {"conversation.updated"})

        async def flood() -> list[dict]:
            for n in range(1, FLOOD_FRAMES + 1):
                frame = {"type": "message.send", "conversation_id": flood_chat, "client_id": f"f-{n}", "body": f"f-{n}"}
                await flooder.send(json.dumps(frame))
            answers = []
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    answers.append(await next_of(flooder, {"message.ack", "error"}))
            assert closed.value.rcvd is not None and closed.value.rcvd.code == FLOODED_CODE
            return answers

        async def chat() -> list[dict]:
            acks = []
            for n in range(1, NEIGHBOUR_MESSAGES + 1):
                frame = {
                    "type": "message.send",
                    "conversation_id": neighbour_chat,
                    "client_id": f"n-{n}",
                    "body": f"n-{n}",
                }
                await neighbour.send(json.dumps(frame))
                acks.append(await next_of(neighbour, {"message.ack", "error"}))
                await asyncio.sleep(0.05)
            return acks

        async def agent_sees() -> list[str]:
            bodies: list[str] = []
            while len(bodies) < NEIGHBOUR_MESSAGES:
                message = (await next_of(agent, {"message.new"}))["message"]
                if message["sender"] == "visitor":
                    bodies.append(message["body"])
            return bodies

        flood_answers, neighbour_acks, delivered = await asyncio.gather(flood(), chat(), agent_sees())

    _, acked = flood_outcome(flood_answers)
    assert await stored_client_ids(flood_chat) == acked
    assert_neighbour_carried_on(neighbour_acks, delivered)
    assert await stored_client_ids(neighbour_chat) == {f"n-{n}" for n in range(1, NEIGHBOUR_MESSAGES + 1)}


def _session_cookie(agent) -> str:
    client = Client()
    client.force_login(agent.user)
    return f"sessionid={client.cookies['sessionid'].value}"
