"""Nothing a customer wrote is ever lost (R7, R24), proved on the real stack under faults.

Each test runs a chat between protocol-following clients (`ChatClient`: pending until
acked, resend with the same client_id after a reconnect, `sync` on a gap) across Daphne
nodes, breaks something in the middle (the channel layer's capacity, a node, Redis,
PostgreSQL), and then checks every client against what PostgreSQL stored: every message
written stored once or refused with an error the client shows, and every client showing
every stored message once, in order.
"""

import asyncio
import uuid

import pytest
from django.db import connection

from tests.servers import database_url, kill, redis_server

from .chaos import ChatUnderTest, assert_nothing_lost, chat_in_two_tabs_each, exchange, settle
from .clients import Frame, World, db, hello, start_conversation, stored_messages, visitor_socket, wait_for
from .conftest import started_nodes
from .proxy import TcpProxy

pytestmark = [pytest.mark.realstack, pytest.mark.django_db(transaction=True)]

# Floods must not be refused by the per-socket rate limit: this is about the channel layer.
NO_RATE_LIMIT = {"CHAT_RATE_BURST": "100000", "CHAT_RATE_PER_SECOND": "100000"}
# Each process checks every second that Redis still holds its groups, and whether its
# sockets missed events (layer_watch).
REDIS_CHECKS = {"CHANNEL_LAYER_CHECK_SECONDS": "1", **NO_RATE_LIMIT}


async def test_flood_over_a_tiny_channel_capacity_loses_nothing(
    request: pytest.FixtureRequest, redis_url: str, world: World
) -> None:
    # Capacity 1: a group message to a process whose channel still holds one is dropped. A
    # process now takes its events in batches (chat/channel_layer.py): with 2, a flood of 60
    # could pass without a drop, and the test proved nothing.
    extra = {"CHANNEL_CAPACITY": "1", **REDIS_CHECKS}
    with started_nodes(request, ["A", "B"], redis_url=redis_url, extra=extra) as (node_a, node_b):
        async with chat_in_two_tabs_each(world, node_a, node_b, agent_first=node_b) as (chat, visitor, agent):
            await wait_for(lambda: all(c.last_seq == 2 for c in chat.clients), "the start synced", 30.0, chat.describe)

            await exchange(chat, [visitor, agent], count=100, pause=0)
            rows = await settle(chat)
            last = rows[-1][0]
            # The layer really dropped events, and gap detection + sync made up for them.
            lost_live = {client.label: sorted(set(range(3, last + 1)) - client.live_seqs) for client in chat.clients}
            assert any(lost_live.values()), f"no event was dropped; the test proved nothing:\n{chat.describe()}"
            assert sum(client.gaps for client in chat.clients) > 0, chat.describe()
            # And the sockets that lost events are closed to resync, as a lost last event
            # has no later one to show its gap: at the nodes' next check, which may come
            # after the flood and its syncs are over.
            await wait_for(
                lambda: any(client.connections > 1 for client in chat.clients),
                "a socket that lost events closed to resync",
                10.0,
                chat.describe,
            )
            rows = await settle(chat)

    assert_nothing_lost(chat, rows)


async def test_kill_9_of_a_node_mid_chat_loses_nothing(
    request: pytest.FixtureRequest, redis_url: str, world: World
) -> None:
    with started_nodes(request, ["A", "B"], redis_url=redis_url, extra=NO_RATE_LIMIT) as (node_a, node_b):
        async with chat_in_two_tabs_each(world, node_a, node_b, agent_first=node_a) as (chat, visitor, agent):
            talk = asyncio.create_task(exchange(chat, [visitor, agent], count=40, pause=0.05))
            await wait_for(lambda: len(visitor.acked) >= 10, "ten acks before the kill", 30.0, chat.describe)
            kill(node_a)
            await talk
            rows = await settle(chat)

    assert_nothing_lost(chat, rows)
    for client in (visitor, agent):
        # Moved to node B: the kill really cut them off, and what they wrote meanwhile
        # went out from the new connection with its first client_id.
        assert client.connections >= 2 and client.failed_connects >= 1, client.describe()
        assert client.resent_on_reconnect >= 1, client.describe()


async def test_redis_restart_mid_chat_loses_nothing(
    request: pytest.FixtureRequest, redis_server_binary: None, world: World
) -> None:
    # A Redis of this test's own: the shared one serves every other test.
    with (
        redis_server() as redis,
        started_nodes(request, ["A", "B"], redis_url=redis.url, extra=REDIS_CHECKS) as (
            node_a,
            node_b,
        ),
    ):
        async with chat_in_two_tabs_each(world, node_a, node_b, agent_first=node_b) as (chat, visitor, agent):
            talk = asyncio.create_task(exchange(chat, [visitor, agent], count=40, pause=0.1))
            await wait_for(lambda: len(visitor.acked) >= 5, "five acks before the outage", 30.0, chat.describe)
            redis.kill()
            written_before = len(chat.posted)
            await wait_for(
                lambda: len(chat.posted) >= written_before + 10,
                "messages written during the outage",
                30.0,
                chat.describe,
            )
            during_outage = len(chat.posted) - written_before
            redis.start()  # empty: the channel layer's groups are gone with it
            await talk
            rows = await settle(chat)

    assert_nothing_lost(chat, rows)
    assert during_outage >= 10
    for client in chat.clients:
        # Every socket of the outage was replaced (crashed, or closed by layer_watch once
        # Redis came back empty): none stayed open but deaf to its forgotten groups.
        assert client.connections >= 2, client.describe()


def sends_failed(chat: ChatUnderTest) -> list[Frame]:
    """internal_error frames that refused a message (it was not stored; the client resends)."""
    return [
        e for c in chat.clients for e in c.errors if e.get("code") == "internal_error" and e.get("ref") in chat.posted
    ]


async def test_postgresql_unavailable_for_a_moment_loses_nothing(
    request: pytest.FixtureRequest, redis_url: str, world: World
) -> None:
    # The nodes reach PostgreSQL only through a proxy this test cuts; it keeps its own connection.
    settings_dict = connection.settings_dict
    proxy = TcpProxy(settings_dict.get("HOST") or "127.0.0.1", int(settings_dict.get("PORT") or 5432))
    proxy.start()
    db_url = database_url({**settings_dict, "HOST": "127.0.0.1", "PORT": str(proxy.port)})
    try:
        with started_nodes(request, ["A", "B"], redis_url=redis_url, db_url=db_url, extra=NO_RATE_LIMIT) as (
            node_a,
            node_b,
        ):
            async with chat_in_two_tabs_each(world, node_a, node_b, agent_first=node_b) as (chat, visitor, agent):
                talk = asyncio.create_task(exchange(chat, [visitor, agent], count=30, pause=0.1))
                await wait_for(lambda: len(visitor.acked) >= 5, "five acks before the cut", 30.0, chat.describe)
                proxy.cut()
                await wait_for(lambda: len(sends_failed(chat)) >= 4, "sends refused while cut", 30.0, chat.describe)
                proxy.restore()
                await talk
                rows = await settle(chat)
            # Recovered without a restart: the same processes serve on.
            assert node_a.process.poll() is None and node_b.process.poll() is None
    finally:
        proxy.stop()

    assert_nothing_lost(chat, rows)
    refused_then_stored = {e["ref"] for e in sends_failed(chat)}
    stored_ids = {row[3] for row in rows}
    # Each message the outage refused was sent again with its id and is now stored once.
    assert refused_then_stored <= stored_ids


async def test_a_visitor_who_leaves_before_the_acks_has_every_message_stored_and_no_error_logged(
    request: pytest.FixtureRequest, redis_url: str, world: World
) -> None:
    # As a tab closed right after sending: the frames were read, their answers have
    # nobody to go to. That is no fault of the server's, and nothing is lost.
    bodies = [f"Bye #{number}" for number in range(20)]
    with started_nodes(request, ["A"], redis_url=redis_url, extra=NO_RATE_LIMIT) as (node,):
        async with visitor_socket(node, world.site) as visitor:
            await hello(visitor)
            conversation_id = (await start_conversation(visitor))["id"]
            for body in bodies:
                frame = {"conversation_id": conversation_id, "client_id": str(uuid.uuid4()), "body": body}
                await visitor.send({"type": "message.send", **frame})
            visitor.ws.transport.close()  # the TCP connection ends, with no closing handshake
        for _ in range(100):
            rows = await db(stored_messages, conversation_id)
            if len(rows) == len(bodies):
                break
            await asyncio.sleep(0.1)
        log = node.log()

    assert [row[2] for row in rows] == bodies
    assert '"level": "ERROR"' not in log, log
