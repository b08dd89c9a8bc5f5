"""Claim race at scale (R7, R8): 20 agents on two nodes claim 100 queued chats at once.

Every agent walks the whole queue in its own random order over its socket, claiming one
chat after another until its limit refuses it. Limits of 5 and 6 (110 seats for 100
chats) bind: every chat is taken, so by pigeonhole some agents end at their limit.
"""

import asyncio
import random
from contextlib import AsyncExitStack

import pytest
from django.utils import timezone

from chat.models import Conversation, Message
from tests.agents.factories import make_agent, make_team
from tests.chat.factories import make_conversation, make_site, make_topic
from tests.servers import Node

from .clients import PASSWORD, AgentLogin, Socket, agent_socket, db, log_in, recv_until

pytestmark = [pytest.mark.realstack, pytest.mark.django_db(transaction=True)]

AGENTS = 20
CHATS = 100
# Every claim tells each visitor still waiting on its site its new place (R6): a few sites
# keep that fan-out (chats x queue length) from swamping a shared 2-core machine.
SITES = 10
CLAIM_TIMEOUT = 30.0
LOSING_CODES = {"already_claimed", "at_capacity"}


def queued_chats(count: int) -> tuple[list[AgentLogin], list[int]]:
    """`count` chats waiting in the queue (a visitor wrote in each) on a few sites, and the
    agents of the one team serving them all."""
    sites = [make_site() for _ in range(SITES)]
    topics = [make_topic(site=site) for site in sites]
    team = make_team(topics=topics, is_default=True)
    logins = [
        log_in(make_agent(teams=[team], name=f"Agent {n:02}", password=PASSWORD, max_chats=5 + n % 2))
        for n in range(AGENTS)
    ]
    ids = []
    for n in range(count):
        site, topic = sites[n % SITES], topics[n % SITES]
        # Stored as message_post stores a first message, without its events: nobody listens yet.
        conversation = make_conversation(site=site, topic=topic)
        Message.objects.create(
            conversation=conversation, seq=1, sender=Message.Sender.VISITOR, body=f"Chat {n}", client_id=f"c{n}"
        )
        Conversation.objects.filter(pk=conversation.pk).update(
            last_seq=1, last_public_seq=1, waiting_since=timezone.now()
        )
        ids.append(conversation.pk)
    return logins, ids


async def claim(sock: Socket, conversation_id: int, user_id: int, queue: set[int]) -> str:
    """'won' or the code of the refusal; a rate-limited claim is sent again when allowed.

    Like the console, it drops from `queue` every chat a `conversation.updated` says is taken."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CLAIM_TIMEOUT
    await sock.send({"type": "conversation.claim", "conversation_id": conversation_id})
    while True:
        frame = await sock.read_one(max(0.1, deadline - loop.time()))
        kind = frame.get("type")
        if kind == "conversation.updated":
            conversation = frame["conversation"]
            if conversation["status"] != "queued":
                queue.discard(conversation["id"])
            if conversation["id"] == conversation_id and (conversation["agent"] or {}).get("id") == user_id:
                return "won"
        elif kind == "error" and frame.get("conversation_id") == conversation_id:
            if frame["code"] != "rate_limited":
                return frame["code"]
            await asyncio.sleep(float(frame.get("retry_after") or 0.5))
            await sock.send({"type": "conversation.claim", "conversation_id": conversation_id})


async def agent_walk(sock: Socket, login: AgentLogin, chat_ids: list[int], start: asyncio.Event) -> dict[int, str]:
    order = random.sample(chat_ids, len(chat_ids))
    queue = set(chat_ids)
    outcomes: dict[int, str] = {}
    await start.wait()
    for conversation_id in order:
        if conversation_id not in queue:
            continue  # the console already shows it taken
        outcomes[conversation_id] = outcome = await claim(sock, conversation_id, login.user_id, queue)
        if outcome == "at_capacity":
            break
    return outcomes


def final_state(chat_ids: list[int]) -> tuple[dict[int, tuple[str, int | None]], dict[int, int]]:
    chats = {
        pk: (status, owner)
        for pk, status, owner in Conversation.objects.filter(pk__in=chat_ids).values_list(
            "pk", "status", "assigned_agent_id"
        )
    }
    joined: dict[int, int] = {}
    for conversation_id in Message.objects.filter(
        conversation_id__in=chat_ids, sender=Message.Sender.SYSTEM, body__endswith="joined the chat."
    ).values_list("conversation_id", flat=True):
        joined[conversation_id] = joined.get(conversation_id, 0) + 1
    return chats, joined


async def test_twenty_agents_claiming_a_hundred_chats_at_once(nodes: tuple[Node, Node]) -> None:
    logins, chat_ids = await db(queued_chats, CHATS)
    start = asyncio.Event()
    async with AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(agent_socket(nodes[n % 2], login)) for n, login in enumerate(logins)]
        welcomes = await asyncio.gather(*(recv_until(sock, "welcome", timeout=CLAIM_TIMEOUT) for sock in sockets))
        for welcome in welcomes:
            assert {item["id"] for item in welcome["queue"]} >= set(chat_ids)
        walks = [
            asyncio.create_task(agent_walk(sock, login, chat_ids, start))
            for sock, login in zip(sockets, logins, strict=True)
        ]
        start.set()  # all at once
        results = await asyncio.gather(*walks)

    chats, joined = await db(final_state, chat_ids)
    limits = {login.user_id: login.agent.max_chats for login in logins}
    owned: dict[int, list[int]] = {user_id: [] for user_id in limits}
    for conversation_id, (status, owner) in chats.items():
        assert status == "active" and owner in limits, f"chat {conversation_id}: {status}, owner {owner}"
        owned[owner].append(conversation_id)
        assert joined.get(conversation_id) == 1, f"chat {conversation_id}: {joined.get(conversation_id)} joins"
    for login, outcomes in zip(logins, results, strict=True):
        won = sorted(pk for pk, outcome in outcomes.items() if outcome == "won")
        assert won == sorted(owned[login.user_id]), f"{login.name}: the socket and the database disagree"
        assert len(won) <= limits[login.user_id], f"{login.name} is above its limit: {len(won)}"
        assert set(outcomes.values()) <= LOSING_CODES | {"won"}, f"{login.name}: {set(outcomes.values())}"
    assert sum(len(pks) for pks in owned.values()) == CHATS
    at_limit = [user_id for user_id, pks in owned.items() if len(pks) == limits[user_id]]
    assert at_limit, "no limit was reached; the race did not test the limits"
