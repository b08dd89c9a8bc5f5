"""Who may do what, as a table: every row is one actor trying one thing, and what it must get.

Sockets: a visitor against another visitor's conversation, an agent without the team's
skill, an agent that does not own the chat, a supervisor (may see and end, never reply
unclaimed), anonymous and cross-origin handshakes. Each denial is the documented error
code, leaves the conversation as it was, and carries none of its text (SECRET).
HTTP access and CSRF are in test_http_access.py.
"""

import json
from dataclasses import dataclass

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from agents.models import Agent
from chat import services
from chat.models import Conversation, Message
from config.asgi import application
from tests.agents.factories import make_agent, make_team
from tests.chat.factories import ORIGIN, make_site, make_topic, make_visitor
from tests.chat.sockets import TIMEOUT, open_agent, open_visitor, receive_until, start_and_send

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "SECRET-b41c-customer-private-words"
OWNER_REPLY = "Thanks for waiting, I am checking your order right now."


def state(conversation_id: int) -> dict:
    """Everything a denied frame must leave unchanged."""
    conversation = Conversation.objects.get(pk=conversation_id)
    return {
        "row": {
            field: getattr(conversation, field)
            for field in (
                "status", "assigned_agent_id", "team_id", "last_seq", "needs_follow_up", "rating",
                "rating_comment", "transcript_requested", "visitor_read_seq", "agent_read_seq",
            )
        },
        "messages": list(Message.objects.filter(conversation_id=conversation_id).values_list("seq", "body")),
        "visitor_email": conversation.visitor.email,
    }  # fmt: skip


ANSWERS = {
    "error", "message.ack", "sync.result", "visitor.details", "composer.result", "canned.results",
    "visitor.contact.saved",
}  # fmt: skip


async def answer_to(socket: WebsocketCommunicator, frame: dict) -> tuple[dict, str]:
    """The answer to `frame` (passing over events), with every raw text received meanwhile."""
    await socket.send_json_to(frame)
    raw = []
    while True:
        output = await socket.receive_output(TIMEOUT)
        assert output["type"] == "websocket.send", output
        raw.append(output["text"])
        answer = json.loads(output["text"])
        if answer["type"] == "conversation.updated":
            # Events about other chats may pass by; the answer is about this frame's chat.
            if answer["conversation"]["id"] == frame.get("conversation_id"):
                return answer, "".join(raw)
        elif answer["type"] in ANSWERS:
            return answer, "".join(raw)


# --- visitor A against visitor B's conversation ---------------------------------------

VISITOR_ROWS = [
    pytest.param({"type": "sync", "after_seq": 0}, id="sync"),
    pytest.param({"type": "message.send", "client_id": "a-1", "body": "Let me in"}, id="message.send"),
    pytest.param({"type": "read", "seq": 1}, id="read"),
    pytest.param({"type": "typing"}, id="typing"),
    pytest.param({"type": "conversation.rate", "rating": 1, "comment": "Bad"}, id="rate"),
    pytest.param({"type": "conversation.end"}, id="end"),
    pytest.param(
        {"type": "visitor.contact", "email": "thief@example.com", "purpose": "transcript"}, id="transcript-request"
    ),
]


@pytest.mark.parametrize("frame", VISITOR_ROWS)
async def test_visitor_cannot_touch_another_visitors_conversation(desk, frame):
    victim, _ = await open_visitor(desk.site)
    victim_chat = (await start_and_send(victim, SECRET, "b-1"))["conversation_id"]
    before = await sync_to_async(state)(victim_chat)
    attacker, _ = await open_visitor(desk.site)
    while not await victim.receive_nothing(0.2):  # B's own queue and greeting frames
        await victim.receive_output()

    answer, raw = await answer_to(attacker, {**frame, "conversation_id": victim_chat})

    assert (answer["type"], answer["code"]) == ("error", "not_found")
    assert SECRET not in raw
    assert await sync_to_async(state)(victim_chat) == before
    assert await victim.receive_nothing(0.2)  # B hears nothing of it either
    await attacker.disconnect()
    await victim.disconnect()


# --- agents: no skill, not the owner, supervisor ---------------------------------------


@dataclass
class Floor:
    owned: int  # claimed by the owner, SECRET in it
    queued: int  # waiting in the owner's team queue, SECRET in it
    owner: Agent
    teammate: Agent  # same team, does not own `owned`
    outsider: Agent  # another team, without the topic's skill
    supervisor: Agent


def floor(desk) -> Floor:
    billing = make_team(topics=[make_topic(site=desk.site, slug="billing")])
    ids = []
    for _ in range(2):
        visitor, _ = make_visitor(site=desk.site)
        conversation = services.conversation_start(visitor=visitor, topic_slug=desk.topic.slug)
        services.message_post(conversation_id=conversation.pk, author=visitor, body=SECRET, client_id="s-1")
        ids.append(conversation.pk)
    services.conversation_claim(conversation_id=ids[0], agent=desk.agent)
    return Floor(
        owned=ids[0],
        queued=ids[1],
        owner=desk.agent,
        teammate=desk.other_agent,
        outsider=make_agent(teams=[billing]),
        supervisor=make_agent(supervisor=True, name="Sam Supervisor"),
    )


# (actor, frame, chat, expected answer type, expected code or None when allowed)
AGENT_ROWS = [
    ("outsider", {"type": "conversation.claim"}, "queued", "error", "not_found"),
    ("outsider", {"type": "sync", "after_seq": 0}, "owned", "error", "not_found"),
    ("outsider", {"type": "visitor.details"}, "owned", "error", "not_found"),
    ("outsider", {"type": "message.send", "client_id": "o-1", "body": OWNER_REPLY}, "owned", "error", "not_found"),
    ("outsider", {"type": "message.send", "client_id": "o-2", "body": "psst", "note": True}, "owned", "error",
     "not_found"),
    ("outsider", {"type": "composer.check", "body": "hi"}, "owned", "error", "not_found"),
    ("outsider", {"type": "canned.search", "query": ""}, "owned", "error", "not_found"),
    ("outsider", {"type": "conversation.end"}, "owned", "error", "not_found"),
    ("outsider", {"type": "conversation.follow_up", "needs": True}, "owned", "error", "not_found"),
    ("outsider", {"type": "read", "seq": 1}, "owned", "error", "not_found"),
    ("outsider", {"type": "typing"}, "owned", "error", "not_found"),
    ("teammate", {"type": "conversation.claim"}, "owned", "error", "already_claimed"),
    ("teammate", {"type": "message.send", "client_id": "t-1", "body": OWNER_REPLY}, "owned", "error", "not_owner"),
    ("teammate", {"type": "conversation.end"}, "owned", "error", "not_owner"),
    ("teammate", {"type": "conversation.transfer", "reason": "Yours now", "to_agent_id": "supervisor"}, "owned",
     "error", "not_owner"),
    ("teammate", {"type": "conversation.follow_up", "needs": True}, "owned", "error", "not_owner"),
    ("teammate", {"type": "message.send", "client_id": "t-2", "body": OWNER_REPLY}, "queued", "error", "not_owner"),
    ("supervisor", {"type": "message.send", "client_id": "s-2", "body": OWNER_REPLY}, "owned", "error",
     "not_owner"),
    ("supervisor", {"type": "conversation.claim"}, "owned", "error", "already_claimed"),
    # Allowed rows keep the table honest: the same frames work for those entitled to them.
    ("owner", {"type": "message.send", "client_id": "w-1", "body": OWNER_REPLY}, "owned", "message.ack", None),
    ("teammate", {"type": "message.send", "client_id": "t-3", "body": "FYI", "note": True}, "owned", "message.ack",
     None),  # R17: notes for colleagues in any chat the agent can see
    ("teammate", {"type": "sync", "after_seq": 0}, "owned", "sync.result", None),
    ("supervisor", {"type": "sync", "after_seq": 0}, "owned", "sync.result", None),
    ("supervisor", {"type": "conversation.end"}, "owned", "conversation.updated", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("actor", "frame", "chat", "answer_type", "code"),
    AGENT_ROWS,
    ids=[f"{row[0]}-{row[1]['type']}-{row[2]}{'-note' if row[1].get('note') else ''}" for row in AGENT_ROWS],
)
async def test_agent_authorisation_matrix(desk, actor, frame, chat, answer_type, code):
    given = await sync_to_async(floor)(desk)
    agent = getattr(given, actor)
    conversation_id = getattr(given, chat)
    if frame.get("to_agent_id") == "supervisor":
        frame = {**frame, "to_agent_id": given.supervisor.user_id}
    before = await sync_to_async(state)(conversation_id)
    socket, _ = await open_agent(agent)

    answer, raw = await answer_to(socket, {**frame, "conversation_id": conversation_id})

    assert answer["type"] == answer_type, answer
    if code is None:
        return await socket.disconnect()
    assert answer["code"] == code
    assert SECRET not in raw
    assert await sync_to_async(state)(conversation_id) == before
    await socket.disconnect()


async def test_outsider_welcome_lists_neither_the_queue_nor_the_chats_of_another_team(desk):
    given = await sync_to_async(floor)(desk)
    socket, welcome = await open_agent(given.outsider)

    assert welcome["queue"] == [] and welcome["chats"] == []
    assert SECRET not in str(welcome)
    await socket.disconnect()


# --- handshakes ------------------------------------------------------------------------


async def handshake(path: str, headers: list[tuple[bytes, bytes]]) -> bool:
    socket = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await socket.connect(TIMEOUT)
    await socket.disconnect()
    return connected


async def cookie_of(user) -> bytes:
    client = Client()
    await sync_to_async(client.force_login)(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@pytest.mark.parametrize(
    ("who", "origin"),
    [
        pytest.param("anonymous", b"http://testserver", id="anonymous"),
        pytest.param("user-without-agent-profile", b"http://testserver", id="not-an-agent"),
        pytest.param("agent", b"http://evil.example", id="agent-cross-origin"),
        pytest.param("agent", b"http://shop.example.com", id="agent-from-a-customer-site"),
        pytest.param("agent", None, id="agent-without-origin"),
    ],
)
async def test_agent_socket_handshake_is_refused(desk, who, origin):
    headers = [(b"origin", origin)] if origin else []
    if who == "agent":
        headers.append((b"cookie", await cookie_of(desk.agent.user)))
    elif who == "user-without-agent-profile":
        user = await sync_to_async(get_user_model().objects.create)(username="plain@example.com")
        headers.append((b"cookie", await cookie_of(user)))

    assert not await handshake("/ws/agent/", headers)


async def test_agent_socket_handshake_is_accepted_for_an_agent_from_the_console_origin(desk):
    headers = [(b"origin", b"http://testserver"), (b"cookie", await cookie_of(desk.agent.user))]
    assert await handshake("/ws/agent/", headers)


@pytest.mark.parametrize(
    ("site_key", "origin"),
    [
        pytest.param("own", b"http://evil.example", id="foreign-origin"),
        pytest.param("own", b"https://shop.example.com", id="same-host-other-scheme"),
        pytest.param("own", b"http://shop.example.com.evil.example", id="suffix-trick"),
        pytest.param("own", b"http://other-shop.example", id="another-sites-origin"),
        pytest.param("own", b"null", id="opaque-origin"),
        pytest.param("own", None, id="no-origin"),
        pytest.param("no-such-site", ORIGIN.encode(), id="unknown-site-key"),
    ],
)
async def test_visitor_socket_handshake_is_refused(desk, site_key, origin):
    await sync_to_async(make_site)(origins="http://other-shop.example")
    key = desk.site.key if site_key == "own" else site_key

    assert not await handshake(f"/ws/visitor/{key}/", [(b"origin", origin)] if origin else [])


async def test_visitor_socket_handshake_is_accepted_from_the_sites_origin(desk):
    assert await handshake(f"/ws/visitor/{desk.site.key}/", [(b"origin", ORIGIN.encode())])


async def test_a_refused_frame_before_hello_tells_nothing(desk):
    victim, _ = await open_visitor(desk.site)
    victim_chat = (await start_and_send(victim, SECRET, "b-1"))["conversation_id"]
    socket = WebsocketCommunicator(application, f"/ws/visitor/{desk.site.key}/", headers=[(b"origin", ORIGIN.encode())])
    assert (await socket.connect(TIMEOUT))[0]

    await socket.send_json_to({"type": "sync", "conversation_id": victim_chat, "after_seq": 0})
    error = await receive_until(socket, "error")

    assert error["code"] == "hello_required"
    assert SECRET not in str(error)
    await socket.disconnect()
    await victim.disconnect()
