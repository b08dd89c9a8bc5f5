"""Two Daphne processes, one Redis channel layer, one PostgreSQL database: the real stack.

A visitor and agents on different nodes talk only through Redis and PostgreSQL, so these
tests prove what a single process (or the in-memory layer) cannot: events cross
processes, idle sockets survive channels_redis + redis-py 8 (STACK-FACTS trap 1), a
missed event is recovered through `seq` + `sync`, a claim race across processes has
exactly one winner (docs/protocol.md), and a node that stops leaves no socket in a group.
"""

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass

import pytest
import redis

from chat.models import Conversation, Message
from tests.servers import Node

from .clients import (
    TOPIC,
    Frame,
    Socket,
    World,
    agent_socket,
    conversation_is,
    db,
    drain,
    hello,
    message_seq,
    recv_match,
    recv_until,
    say,
    seen,
    shown,
    start_conversation,
    stored_messages,
    visitor_socket,
)

pytestmark = [pytest.mark.realstack, pytest.mark.django_db(transaction=True)]

# Longer than redis-py 8's default socket_timeout (5 s) twice over: an idle consumer
# crashed with 1011 after ~5.8 s when channels_redis inherited it.
IDLE_SECONDS = 12.0
CLAIM_RACE_ROUNDS = 10


@dataclass
class Chat:
    visitor: Socket
    agent: Socket
    conversation_id: int
    token: str
    last_seq: int


async def open_chat(stack: AsyncExitStack, world: World, visitor_node: Node, agent_node: Node) -> Chat:
    """A visitor on one node writes, an agent on the other claims: seq 1 visitor, seq 2 joined."""
    visitor = await stack.enter_async_context(visitor_socket(visitor_node, world.site))
    token = (await hello(visitor))["token"]
    conversation_id = (await start_conversation(visitor))["id"]
    assert await say(visitor, conversation_id, "Hello, anyone there?") == 1

    login = world.agents[0]
    agent = await stack.enter_async_context(agent_socket(agent_node, login))
    await recv_until(agent, "welcome")
    await agent.send({"type": "conversation.claim", "conversation_id": conversation_id})
    await recv_until(agent, "conversation.updated", where=conversation_is(conversation_id, "active"))
    await recv_until(visitor, "message.new", where=message_seq(conversation_id, 2))
    return Chat(visitor=visitor, agent=agent, conversation_id=conversation_id, token=token, last_seq=2)


# --- Tests ----------------------------------------------------------------------------------


async def test_visitor_and_agent_on_different_nodes_chat_both_ways(nodes: tuple[Node, Node], world: World) -> None:
    node_a, node_b = nodes
    alex = world.agents[0]
    async with AsyncExitStack() as stack:
        visitor = await stack.enter_async_context(visitor_socket(node_a, world.site))
        welcome = await hello(visitor)
        assert welcome["token"]
        assert welcome["conversation"] is None
        assert welcome["site"]["topics"] == [{"slug": TOPIC, "name": "Returns"}]

        conversation = await start_conversation(visitor)
        conversation_id = conversation["id"]
        assert conversation["status"] == "queued"
        assert await say(visitor, conversation_id, "Where is my parcel?") == 1

        # The agent on node B learns of the chat from the database (welcome.queue)...
        agent = await stack.enter_async_context(agent_socket(node_b, alex))
        agent_welcome = await recv_until(agent, "welcome")
        assert agent_welcome["agent"]["id"] == alex.user_id
        queue = {item["id"]: item for item in agent_welcome["queue"]}
        assert conversation_id in queue, agent_welcome
        assert queue[conversation_id]["last_seq"] == 1
        assert queue[conversation_id]["preview"] == "Where is my parcel?"

        await agent.send({"type": "conversation.claim", "conversation_id": conversation_id})
        claimed = await recv_until(agent, "conversation.updated", where=conversation_is(conversation_id, "active"))
        assert claimed["conversation"]["agent"] == {"id": alex.user_id, "name": alex.name}

        # ...and the visitor on node A hears of the claim through Redis.
        joined = await recv_until(visitor, "message.new", where=message_seq(conversation_id, 2))
        assert joined["message"]["sender"] == "system"
        assert joined["message"]["body"] == f"{alex.name} joined the chat."
        now_active = await recv_until(visitor, "conversation.updated", where=conversation_is(conversation_id, "active"))
        assert now_active["conversation"]["agent_name"] == alex.name

        # B -> A
        assert await say(agent, conversation_id, "Let me look that up for you.") == 3
        reply = await recv_until(visitor, "message.new", where=message_seq(conversation_id, 3))
        assert reply["message"]["sender"] == "agent"
        assert reply["message"]["author_name"] == alex.name
        assert reply["message"]["body"] == "Let me look that up for you."

        # A -> B
        assert await say(visitor, conversation_id, "Thank you!") == 4
        incoming = await recv_until(agent, "message.new", where=message_seq(conversation_id, 4))
        assert incoming["message"]["sender"] == "visitor"
        assert incoming["message"]["body"] == "Thank you!"
        assert incoming["conversation"]["id"] == conversation_id
        assert incoming["conversation"]["last_seq"] == 4

        # What each side was shown, each seq exactly once, and what the agent can fetch.
        await agent.send({"type": "sync", "conversation_id": conversation_id, "after_seq": 0})
        history = await recv_until(agent, "sync.result")
        assert history["has_more"] is False
        await asyncio.gather(drain(visitor, 0.5), drain(agent, 0.5))

        visitor_view, agent_view = shown(visitor, conversation_id), shown(agent, conversation_id)
        assert [m["seq"] for m in visitor_view] == [1, 2, 3, 4], "visitor: every seq once, no gaps"
        assert [m["seq"] for m in agent_view] == [2, 3, 4], "agent: every seq since the claim once"
        assert [m["seq"] for m in history["messages"]] == [1, 2, 3, 4]

        stored = await db(stored_messages, conversation_id)
        assert stored == [
            (1, "visitor", "Where is my parcel?"),
            (2, "system", f"{alex.name} joined the chat."),
            (3, "agent", "Let me look that up for you."),
            (4, "visitor", "Thank you!"),
        ]
        assert seen(visitor_view) == stored
        assert seen(history["messages"]) == stored
        assert seen(agent_view) == stored[1:]
        assert visitor.is_open and agent.is_open


async def test_idle_socket_survives_longer_than_redis_socket_timeout(nodes: tuple[Node, Node], world: World) -> None:
    node_a, node_b = nodes
    async with AsyncExitStack() as stack:
        chat = await open_chat(stack, world, visitor_node=node_a, agent_node=node_b)
        await asyncio.sleep(IDLE_SECONDS)

        assert chat.visitor.is_open, f"visitor socket closed while idle: {chat.visitor.ws.close_code}"
        assert chat.agent.is_open, f"agent socket closed while idle: {chat.agent.ws.close_code}"
        cid = chat.conversation_id
        assert await say(chat.visitor, cid, "Still there?") == 3
        got = await recv_until(chat.agent, "message.new", where=message_seq(cid, 3))
        assert got["message"]["body"] == "Still there?"
        assert await say(chat.agent, cid, "Yes, still here.") == 4
        got = await recv_until(chat.visitor, "message.new", where=message_seq(cid, 4))
        assert got["message"]["body"] == "Yes, still here."
        assert chat.visitor.is_open and chat.agent.is_open

    for node in nodes:
        log = node.log()
        assert "Exception inside application" not in log, node.describe()
        assert "TimeoutError" not in log, node.describe()


async def test_message_dropped_by_channel_layer_is_recovered_by_sync(nodes: tuple[Node, Node], world: World) -> None:
    node_a, node_b = nodes
    async with AsyncExitStack() as stack:
        chat = await open_chat(stack, world, visitor_node=node_a, agent_node=node_b)
        cid = chat.conversation_id
        assert await say(chat.visitor, cid, "One more thing.") == 3
        last_seen = max(message["seq"] for message in shown(chat.visitor, cid))
        assert last_seen == 3

        # The visitor goes away: every event sent to it now is lost for it.
        await chat.visitor.ws.close()
        replies = ["Found it.", "It ships tomorrow.", "Anything else?"]
        for expected_seq, body in enumerate(replies, start=last_seen + 1):
            assert await say(chat.agent, cid, body) == expected_seq

        # Back, on the other node this time, with the saved token.
        visitor = await stack.enter_async_context(visitor_socket(node_b, world.site, label="visitor-again"))
        welcome = await hello(visitor, chat.token)
        assert welcome["token"] == chat.token
        assert welcome["conversation"]["id"] == cid
        assert welcome["conversation"]["status"] == "active"
        assert welcome["conversation"]["last_seq"] == last_seen + len(replies)

        await visitor.send({"type": "sync", "conversation_id": cid, "after_seq": last_seen})
        result = await recv_until(visitor, "sync.result")
        assert result["has_more"] is False
        assert [(m["seq"], m["sender"], m["body"]) for m in result["messages"]] == [
            (4, "agent", "Found it."),
            (5, "agent", "It ships tomorrow."),
            (6, "agent", "Anything else?"),
        ]
        assert result["conversation"]["last_seq"] == 6
        stored = await db(stored_messages, cid)
        assert seen(result["messages"]) == stored[last_seen:]

        # The missed messages came only from sync; live delivery works again on the new socket.
        assert await say(chat.agent, cid, "Have a nice day.") == 7
        live = await recv_until(visitor, "message.new", where=message_seq(cid, 7))
        assert live["message"]["body"] == "Have a nice day."
        assert not [f for f in visitor.frames("message.new") if f["message"]["seq"] < 7]


async def claim_outcome(sock: Socket, conversation_id: int, user_id: int) -> str:
    """'won' on a conversation.updated naming this agent the owner, else the error's code."""

    def decided(frame: Frame) -> bool:
        if frame.get("type") == "error":
            return frame.get("ref") == "conversation.claim"
        if frame.get("type") == "conversation.updated":
            conversation = frame["conversation"]
            return conversation["id"] == conversation_id and (conversation["agent"] or {}).get("id") == user_id
        return False

    frame = await recv_match(sock, decided, f"the outcome of claiming #{conversation_id}")
    return "won" if frame["type"] == "conversation.updated" else frame["code"]


def claim_state(conversation_id: int) -> tuple[str, int | None, list[str]]:
    conversation = Conversation.objects.get(pk=conversation_id)
    system = list(
        Message.objects.filter(conversation_id=conversation_id, sender=Message.Sender.SYSTEM).values_list(
            "body", flat=True
        )
    )
    return conversation.status, conversation.assigned_agent_id, system


async def test_simultaneous_claims_on_two_nodes_have_exactly_one_winner(nodes: tuple[Node, Node], world: World) -> None:
    node_a, node_b = nodes
    first, second = world.agents
    wins = {first.user_id: 0, second.user_id: 0}
    async with AsyncExitStack() as stack:
        agent_a = await stack.enter_async_context(agent_socket(node_a, first))
        agent_b = await stack.enter_async_context(agent_socket(node_b, second))
        await asyncio.gather(recv_until(agent_a, "welcome"), recv_until(agent_b, "welcome"))

        lost: dict[int, list[int]] = {first.user_id: [], second.user_id: []}
        for round_number in range(CLAIM_RACE_ROUNDS):
            visitor_node = nodes[round_number % 2]
            async with visitor_socket(visitor_node, world.site, label=f"visitor{round_number}") as visitor:
                await hello(visitor)
                cid = (await start_conversation(visitor))["id"]
                assert await say(visitor, cid, f"Round {round_number}") == 1

                claim = {"type": "conversation.claim", "conversation_id": cid}
                await asyncio.gather(agent_a.send(claim), agent_b.send(claim))
                outcomes = await asyncio.gather(
                    claim_outcome(agent_a, cid, first.user_id), claim_outcome(agent_b, cid, second.user_id)
                )
                assert sorted(outcomes) == ["already_claimed", "won"], f"round {round_number}: {outcomes}"
                winner, loser = (first, second) if outcomes[0] == "won" else (second, first)
                wins[winner.user_id] += 1
                lost[loser.user_id].append(cid)

                status, owner, system = await db(claim_state, cid)
                assert (status, owner) == ("active", winner.user_id), f"round {round_number}"
                assert system == [f"{winner.name} joined the chat."], f"round {round_number}: {system}"
                joined = await recv_until(visitor, "message.new", where=message_seq(cid, 2))
                assert joined["message"]["body"] == f"{winner.name} joined the chat."

        # Late frames included: a loser never saw itself as owner, a winner never got an error.
        await asyncio.gather(drain(agent_a, 0.5), drain(agent_b, 0.5))
        for sock, login in ((agent_a, first), (agent_b, second)):
            owned_by_me = {
                f["conversation"]["id"]
                for f in sock.frames("conversation.updated")
                if (f["conversation"]["agent"] or {}).get("id") == login.user_id
            }
            assert not owned_by_me & set(lost[login.user_id]), login.name
            errors = [f["code"] for f in sock.frames("error")]
            assert errors == ["already_claimed"] * len(lost[login.user_id]), (login.name, errors)
    assert sum(wins.values()) == CLAIM_RACE_ROUNDS


async def test_a_node_that_stops_takes_its_sockets_out_of_their_groups(
    nodes: tuple[Node, Node], world: World, redis_url: str
) -> None:
    # Daphne cancels every socket's application when it stops, and exits without letting
    # them finish: no disconnect runs. A membership left behind would be sent its group's
    # events for a day (the group expiry).
    node_a, node_b = nodes
    client = redis.Redis.from_url(redis_url)
    async with AsyncExitStack() as stack:
        chat = await open_chat(stack, world, visitor_node=node_a, agent_node=node_b)
        visitor_id = await db(lambda: Conversation.objects.get(pk=chat.conversation_id).visitor_id)
        (group,) = client.keys(f"realstack-*:group:visitor.{visitor_id}")
        assert client.zcard(group) == 1

        node_a.process.terminate()
        node_a.process.wait(timeout=30)

        assert client.zcard(group) == 0, node_a.describe()
        assert chat.agent.is_open
