"""Both sockets end to end in-process: send, ack, deliver, resume, refuse."""

import asyncio
import logging

import pytest
from asgiref.sync import sync_to_async
from autobahn.exception import Disconnected
from channels.testing import WebsocketCommunicator

from chat.models import Conversation, Message
from config.asgi import application

from ..agents.factories import make_agent, make_team
from .factories import make_topic
from .sockets import TIMEOUT, open_agent, open_visitor, receive_message, receive_until, session_cookie, start_and_send

pytestmark = pytest.mark.django_db(transaction=True)


async def stored_bodies(conversation_id: int) -> list[tuple[int, str, str]]:
    rows = Message.objects.filter(conversation_id=conversation_id).order_by("seq").values_list("seq", "sender", "body")
    return await sync_to_async(list)(rows)


async def test_visitor_message_is_stored_acked_and_delivered_to_claiming_agent(desk):
    visitor, welcome = await open_visitor(desk.site)
    assert welcome["token"] and welcome["conversation"] is None
    assert welcome["site"]["topics"] == [{"slug": "returns", "name": "Returns"}]
    agent, agent_welcome = await open_agent(desk.agent)
    assert agent_welcome["queue"] == []

    ack = await start_and_send(visitor, "Where is my parcel?", "c-1", topic="returns")

    assert ack["seq"] == 1
    queued = await receive_until(agent, "conversation.updated")
    assert queued["conversation"]["preview"] == "Where is my parcel?"
    assert queued["conversation"]["waiting_since"] is not None
    conversation_id = ack["conversation_id"]

    await agent.send_json_to({"type": "conversation.claim", "conversation_id": conversation_id})
    claimed = await receive_until(agent, "conversation.updated")
    assert claimed["conversation"]["status"] == "active"
    assert claimed["conversation"]["agent"]["id"] == desk.agent.user_id
    joined = await receive_message(visitor, 2)
    assert joined["message"]["sender"] == "system"

    await agent.send_json_to(
        {"type": "message.send", "conversation_id": conversation_id, "client_id": "a-1", "body": "Let me check."}
    )
    assert (await receive_until(agent, "message.ack"))["seq"] == 3
    reply = await receive_message(visitor, 3)
    assert reply["message"]["body"] == "Let me check." and reply["message"]["author_name"] == desk.agent.display_name

    await visitor.send_json_to(
        {"type": "message.send", "conversation_id": conversation_id, "client_id": "c-2", "body": "Thanks"}
    )
    delivered = await receive_message(agent, 4)
    assert delivered["conversation"]["waiting_since"] is not None
    assert await stored_bodies(conversation_id) == [
        (1, "visitor", "Where is my parcel?"),
        (2, "system", f"{desk.agent.display_name} joined the chat."),
        (3, "agent", "Let me check."),
        (4, "visitor", "Thanks"),
    ]
    await visitor.disconnect()
    await agent.disconnect()


async def test_resend_with_same_client_id_is_stored_once_and_acked_again(desk):
    visitor, _ = await open_visitor(desk.site)
    first = await start_and_send(visitor, "Hello?", "same-id")

    await visitor.send_json_to(
        {"type": "message.send", "conversation_id": first["conversation_id"], "client_id": "same-id", "body": "Hello?"}
    )
    second = await receive_until(visitor, "message.ack")

    assert second["seq"] == first["seq"] == 1
    assert len(await stored_bodies(first["conversation_id"])) == 1
    await visitor.disconnect()


async def test_reconnect_with_last_seq_receives_everything_after_it(desk):
    visitor, welcome = await open_visitor(desk.site)
    ack = await start_and_send(visitor, "First", "c-1")
    conversation_id = ack["conversation_id"]
    await visitor.disconnect()
    agent, _ = await open_agent(desk.agent)
    await agent.send_json_to({"type": "conversation.claim", "conversation_id": conversation_id})
    await receive_until(agent, "conversation.updated")
    for number in range(3):
        await agent.send_json_to(
            {
                "type": "message.send",
                "conversation_id": conversation_id,
                "client_id": f"a-{number}",
                "body": f"R{number}",
            }
        )
        await receive_until(agent, "message.ack")

    again, rewelcome = await open_visitor(desk.site, token=welcome["token"])
    assert rewelcome["token"] == welcome["token"]
    assert rewelcome["conversation"]["id"] == conversation_id and rewelcome["conversation"]["last_seq"] == 5
    await again.send_json_to({"type": "sync", "conversation_id": conversation_id, "after_seq": 1})
    result = await receive_until(again, "sync.result")

    assert [m["seq"] for m in result["messages"]] == [2, 3, 4, 5]
    assert [m["body"] for m in result["messages"][1:]] == ["R0", "R1", "R2"]
    assert result["has_more"] is False
    await again.disconnect()
    await agent.disconnect()


async def test_agent_reply_to_unclaimed_or_foreign_chat_is_refused(desk):
    visitor, _ = await open_visitor(desk.site)
    conversation_id = (await start_and_send(visitor, "Hi", "c-1"))["conversation_id"]
    owner, _ = await open_agent(desk.agent)
    other, _ = await open_agent(desk.other_agent)
    send = {"type": "message.send", "conversation_id": conversation_id, "client_id": "x", "body": "Me too"}

    await other.send_json_to(send)
    before_claim = await receive_until(other, "error")
    await owner.send_json_to({"type": "conversation.claim", "conversation_id": conversation_id})
    await receive_until(owner, "conversation.updated")
    await other.send_json_to({**send, "client_id": "y"})
    after_claim = await receive_until(other, "error")
    await other.send_json_to({"type": "conversation.claim", "conversation_id": conversation_id})
    late_claim = await receive_until(other, "error")

    assert before_claim["code"] == after_claim["code"] == "not_owner"
    assert late_claim["code"] == "already_claimed"
    assert [sender for _, sender, _ in await stored_bodies(conversation_id)] == ["visitor", "system"]
    for socket in (visitor, owner, other):
        await socket.disconnect()


async def test_another_visitors_conversation_id_gets_not_found_never_data(desk):
    owner, _ = await open_visitor(desk.site)
    conversation_id = (await start_and_send(owner, "My secret order 1234", "c-1"))["conversation_id"]
    intruder, _ = await open_visitor(desk.site)

    frames = [
        {"type": "message.send", "conversation_id": conversation_id, "client_id": "i-1", "body": "hi"},
        {"type": "sync", "conversation_id": conversation_id, "after_seq": 0},
        {"type": "conversation.end", "conversation_id": conversation_id},
    ]
    for frame in frames:
        await intruder.send_json_to(frame)
        answer = await intruder.receive_json_from(TIMEOUT)
        assert answer["type"] == "error" and answer["code"] == "not_found"
        assert "1234" not in str(answer)

    assert await stored_bodies(conversation_id) == [(1, "visitor", "My secret order 1234")]
    status = await sync_to_async(Conversation.objects.values_list("status", flat=True).get)(pk=conversation_id)
    assert status == "queued"
    await owner.disconnect()
    await intruder.disconnect()


async def test_visitor_socket_from_an_origin_the_site_does_not_allow_is_refused(desk):
    socket = WebsocketCommunicator(
        application, f"/ws/visitor/{desk.site.key}/", headers=[(b"origin", b"http://evil.example.com")]
    )
    connected, _ = await socket.connect()
    assert not connected


async def test_visitor_socket_for_unknown_site_is_refused(desk):
    socket = WebsocketCommunicator(application, "/ws/visitor/nope/", headers=[(b"origin", b"http://shop.example.com")])
    connected, _ = await socket.connect()
    assert not connected


async def test_agent_socket_needs_a_logged_in_agent_from_an_allowed_origin(desk):
    anonymous = WebsocketCommunicator(application, "/ws/agent/", headers=[(b"origin", b"http://testserver")])
    assert not (await anonymous.connect())[0]

    cookie = f"sessionid={await session_cookie(desk.agent)}".encode()
    foreign = WebsocketCommunicator(
        application, "/ws/agent/", headers=[(b"origin", b"http://evil.example.com"), (b"cookie", cookie)]
    )
    assert not (await foreign.connect())[0]


async def test_logged_in_user_without_agent_profile_is_refused(desk):
    cookie = await session_cookie(desk.agent)
    await sync_to_async(desk.agent.delete)()
    socket = WebsocketCommunicator(
        application,
        "/ws/agent/",
        headers=[(b"origin", b"http://testserver"), (b"cookie", f"sessionid={cookie}".encode())],
    )
    assert not (await socket.connect())[0]


async def test_queue_shows_only_chats_routed_to_the_agents_teams(desk):
    billing = await sync_to_async(make_topic)(site=desk.site, slug="billing")
    billing_team = await sync_to_async(make_team)(topics=[billing])
    billing_agent = await sync_to_async(make_agent)(teams=[billing_team])
    visitor, _ = await open_visitor(desk.site)
    await start_and_send(visitor, "Refund please", "c-1", topic="billing")

    _, returns_view = await open_agent(desk.agent)
    _, billing_view = await open_agent(billing_agent)

    assert returns_view["queue"] == []
    assert [c["preview"] for c in billing_view["queue"]] == ["Refund please"]
    await visitor.disconnect()


async def test_ending_or_marking_an_ended_chat_again_answers_with_the_chat_not_an_error(desk):
    # Found by the socket fuzzer: an action with nothing to do returns the chat as loaded,
    # and its answer must not need the database on the event loop (its labels).
    visitor, _ = await open_visitor(desk.site)
    conversation_id = (await start_and_send(visitor, "Where is my parcel?", "c-1"))["conversation_id"]
    agent, _ = await open_agent(desk.agent)
    await agent.send_json_to({"type": "conversation.claim", "conversation_id": conversation_id})
    await receive_until(agent, "conversation.updated")

    answers = []
    for frame in (
        {"type": "conversation.end", "conversation_id": conversation_id},
        {"type": "conversation.end", "conversation_id": conversation_id},
        {"type": "conversation.follow_up", "conversation_id": conversation_id, "needs": False},
    ):
        await agent.send_json_to(frame)
        answers.append(await agent.receive_json_from(TIMEOUT))
        while answers[-1]["type"] not in ("conversation.updated", "error"):
            answers[-1] = await agent.receive_json_from(TIMEOUT)

    assert [a.get("code") for a in answers if a["type"] == "error"] in ([], ["conversation_ended"])
    assert all(a.get("code") != "internal_error" for a in answers)
    for socket in (visitor, agent):
        await socket.disconnect()


async def test_an_agent_asks_for_the_transfer_targets_and_gets_them_with_their_availability(desk):
    @sync_to_async
    def colleagues():
        away = make_agent(name="Beth Away", online=False)
        full = make_agent(name="Fay Full", max_chats=0)
        gone = make_agent(name="Gus Gone")
        gone.user.is_active = False
        gone.user.save()
        return away, full, make_team(name="Billing")

    away, full, billing = await colleagues()
    socket, welcome = await open_agent(desk.agent)
    assert "agents" not in welcome and "teams" not in welcome  # its size does not grow with the desk

    await socket.send_json_to({"type": "transfer.targets"})
    targets = await receive_until(socket, "transfer.targets")

    other = desk.other_agent
    assert targets["agents"] == [  # by name; not the agent itself, nor a deactivated user
        {"id": other.user_id, "name": other.display_name, "status": "online", "available": True},
        {"id": away.user_id, "name": "Beth Away", "status": "offline", "available": False},
        {"id": full.user_id, "name": "Fay Full", "status": "online", "available": False},
    ]
    team_names = [team["name"] for team in targets["teams"]]
    assert "Billing" in team_names and team_names == sorted(team_names)
    assert {"id": billing.pk, "name": "Billing"} in targets["teams"]
    await socket.disconnect()


async def test_a_visitor_gone_before_the_ack_is_no_error_and_the_message_is_stored(desk, caplog):
    # A tab closed right after sending: while the closing handshake runs, Daphne refuses
    # every send with autobahn's Disconnected. Nothing of ours failed, and nothing is lost.
    closing = asyncio.Event()

    async def daphne_closing(scope, receive, send):
        async def refusing_send(message):
            if closing.is_set() and message["type"] == "websocket.send":
                raise Disconnected("Attempt to send on a closed protocol")
            await send(message)

        await application(scope, receive, refusing_send)

    visitor, _ = await open_visitor(desk.site, app=daphne_closing)
    conversation_id = (await start_and_send(visitor, "Hello", "c-1"))["conversation_id"]
    closing.set()

    with caplog.at_level(logging.DEBUG, logger="chat"):
        await visitor.send_json_to(
            {"type": "message.send", "conversation_id": conversation_id, "client_id": "c-2", "body": "Bye"}
        )
        for _ in range(50):
            if len(await stored_bodies(conversation_id)) == 2:
                break
            await asyncio.sleep(0.1)

    assert await stored_bodies(conversation_id) == [(1, "visitor", "Hello"), (2, "visitor", "Bye")]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "A frame's answer could not be sent" in caplog.text
    await visitor.disconnect()
