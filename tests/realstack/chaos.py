"""What the "nothing lost" tests share: a chat opened over real sockets, clients on it, a
steady exchange from both sides, and the final check against PostgreSQL (R7, R24)."""

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from chat.models import Message
from tests.chat.factories import ORIGIN
from tests.servers import Node

from .chat_client import ChatClient
from .clients import (
    AgentLogin,
    World,
    agent_socket,
    conversation_is,
    db,
    hello,
    recv_until,
    say,
    start_conversation,
    visitor_socket,
    wait_for,
)

SETTLE_TIMEOUT = 60.0
CONNECT_TIMEOUT = 30.0


@dataclass
class ChatUnderTest:
    conversation_id: int
    token: str
    agent: AgentLogin
    clients: list[ChatClient] = field(default_factory=list)
    posted: dict[str, str] = field(default_factory=dict)  # client_id -> body, everything written
    _numbers: itertools.count = field(default_factory=itertools.count)  # type: ignore[type-arg]

    def visitor(self, label: str, nodes: Iterable[Node], site_key: str) -> ChatClient:
        urls = [node.ws_url(f"/ws/visitor/{site_key}/") for node in nodes]
        return self._add(ChatClient(label, urls, ORIGIN, self.conversation_id, token=self.token))

    def console(self, label: str, nodes: list[Node]) -> ChatClient:
        urls = [node.ws_url("/ws/agent/") for node in nodes]
        return self._add(ChatClient(label, urls, nodes[0].origin, self.conversation_id, cookie=self.agent.session_key))

    def _add(self, client: ChatClient) -> ChatClient:
        self.clients.append(client)
        client.start()
        return client

    async def post(self, client: ChatClient, text: str) -> str:
        body = f"{text} #{next(self._numbers)} from {client.label}"
        client_id = await client.post(body)
        self.posted[client_id] = body
        return client_id

    async def stop(self) -> None:
        await asyncio.gather(*(client.stop() for client in self.clients))

    def describe(self) -> str:
        return "\n".join(client.describe() for client in self.clients)


async def open_chat(world: World, visitor_node: Node, agent_node: Node) -> ChatUnderTest:
    """A visitor writes (seq 1) and an agent claims it (seq 2), each over a plain socket
    that is closed again; the clients under test then start from nothing and sync."""
    async with visitor_socket(visitor_node, world.site) as visitor:
        token = (await hello(visitor))["token"]
        conversation_id = (await start_conversation(visitor))["id"]
        assert await say(visitor, conversation_id, "Hello, anyone there?") == 1
    agent = world.agents[0]
    async with agent_socket(agent_node, agent) as console:
        await recv_until(console, "welcome")
        await console.send({"type": "conversation.claim", "conversation_id": conversation_id})
        await recv_until(console, "conversation.updated", where=conversation_is(conversation_id, "active"))
    return ChatUnderTest(conversation_id=conversation_id, token=token, agent=agent)


async def all_connected(chat: ChatUnderTest) -> None:
    await wait_for(
        lambda: all(c.connected for c in chat.clients), "every client connected", CONNECT_TIMEOUT, chat.describe
    )


@asynccontextmanager
async def chat_in_two_tabs_each(
    world: World, node_a: Node, node_b: Node, *, agent_first: Node
) -> AsyncIterator[tuple[ChatUnderTest, ChatClient, ChatClient]]:
    """`open_chat` with the visitor on node A and the agent claiming on node B, then the
    clients under test, all connected: the visitor's (first on A, a second tab first on B)
    and the agent's (first on `agent_first`, a second tab first on the other node).
    Yields (chat, visitor, agent); every client is stopped on exit."""
    chat = await open_chat(world, visitor_node=node_a, agent_node=node_b)
    try:
        visitor = chat.visitor(f"visitor@{node_a.name}", [node_a, node_b], world.site.key)
        chat.visitor(f"visitor-tab2@{node_b.name}", [node_b, node_a], world.site.key)
        agent_nodes = [node_a, node_b] if agent_first is node_a else [node_b, node_a]
        agent = chat.console(f"agent@{agent_nodes[0].name}", agent_nodes)
        chat.console(f"agent-tab2@{agent_nodes[1].name}", agent_nodes[::-1])
        await all_connected(chat)
        yield chat, visitor, agent
    finally:
        await chat.stop()


async def exchange(chat: ChatUnderTest, senders: list[ChatClient], count: int, pause: float) -> None:
    """Each sender writes `count` messages, `pause` seconds apart (0: a flood), not waiting for acks."""

    async def write(client: ChatClient) -> None:
        for _ in range(count):
            await chat.post(client, "Message")
            await asyncio.sleep(pause)

    await asyncio.gather(*(write(client) for client in senders))


def stored_rows(conversation_id: int) -> list[tuple[int, str, str, str | None]]:
    return list(
        Message.objects.filter(conversation_id=conversation_id)
        .order_by("seq")
        .values_list("seq", "sender", "body", "client_id")
    )


async def settle(chat: ChatUnderTest) -> list[tuple[int, str, str, str | None]]:
    """Wait until nothing is pending, then until every client has every stored message,
    with no message written after the last one to show a client that lost an event its
    gap (the server closes such a socket to resync: chat.consumers.layer_watch); returns
    what PostgreSQL stored."""
    await wait_for(
        lambda: all(not client.pending for client in chat.clients),
        "every message acked or refused",
        SETTLE_TIMEOUT,
        chat.describe,
    )
    rows = await db(stored_rows, chat.conversation_id)
    last = rows[-1][0]
    await wait_for(
        lambda: all(client.last_seq >= last for client in chat.clients),
        f"every client at seq {last}",
        SETTLE_TIMEOUT,
        chat.describe,
    )
    return rows


def assert_nothing_lost(chat: ChatUnderTest, rows: list[tuple[int, str, str, str | None]]) -> None:
    """Every message written is stored once (or was refused with an error the client
    shows); every client shows every stored message once, in order."""
    seqs = [row[0] for row in rows]
    assert seqs == list(range(1, len(rows) + 1)), f"stored seqs have gaps: {seqs}"
    stored_ids = [row[3] for row in rows if row[3] in chat.posted]
    assert len(stored_ids) == len(set(stored_ids)), "a client_id was stored twice"
    refused = {client_id: code for client in chat.clients for client_id, code in client.refused.items()}
    assert not set(refused) & set(stored_ids), f"stored yet refused (the person would resend it): {refused}"
    assert set(stored_ids) | set(refused) == set(chat.posted), (
        f"written but neither stored nor refused: {set(chat.posted) - set(stored_ids) - set(refused)}"
    )
    by_id = {row[3]: row for row in rows}
    for client in chat.clients:
        assert not client.pending, client.describe()
        assert not client.ack_conflicts, f"{client.label}: acked with two seqs: {client.ack_conflicts}"
        assert not client.errors_after_ack, f"{client.label}: an error for a stored message: {client.errors_after_ack}"
        for client_id, seq in client.acked.items():
            assert by_id[client_id][0] == seq, f"{client.label}: ack seq {seq} is not the stored one"
        shown = [(m["seq"], m["sender"], m["body"]) for m in client.shown]
        assert client.shown_seqs == seqs, f"{client.label} showed {client.shown_seqs}, stored {seqs}"
        assert shown == [row[:3] for row in rows], client.label
    for client in chat.clients:
        for refusal in client.errors:
            if refusal.get("ref") in refused:
                assert refusal.get("message"), f"an error without words to show: {refusal}"
