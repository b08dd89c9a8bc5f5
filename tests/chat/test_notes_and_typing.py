"""R17 private notes never reach the visitor; typing indicators go to the other side only."""

import pytest
from asgiref.sync import sync_to_async

from agents.models import Agent

from .sockets import TIMEOUT, open_agent, open_visitor, receive_message, receive_until, start_and_send

pytestmark = pytest.mark.django_db(transaction=True)


async def claimed_chat(desk):
    visitor, welcome = await open_visitor(desk.site)
    conversation_id = (await start_and_send(visitor, "Hi", "c-1"))["conversation_id"]
    agent, _ = await open_agent(desk.agent)
    await agent.send_json_to({"type": "conversation.claim", "conversation_id": conversation_id})
    await receive_until(agent, "conversation.updated")
    await receive_message(visitor, 2)  # "joined"
    return visitor, welcome, agent, conversation_id


async def test_private_note_never_reaches_the_visitor_socket(desk):
    visitor, welcome, agent, conversation_id = await claimed_chat(desk)

    await agent.send_json_to(
        {"type": "message.send", "conversation_id": conversation_id, "client_id": "n-1", "body": "VIP", "note": True}
    )
    note = await receive_until(agent, "message.ack")  # it carries the note
    await agent.send_json_to(
        {
            "type": "message.send",
            "conversation_id": conversation_id,
            "client_id": "a-1",
            "body": "Hello, how can I help?",
        }
    )
    reply = await receive_message(visitor, 4)

    assert note["message"]["sender"] == "note"
    assert reply["message"]["prev_seq"] == 2  # the note's seq 3 is skipped, not lost
    again, rewelcome = await open_visitor(desk.site, token=welcome["token"])
    await again.send_json_to({"type": "sync", "conversation_id": conversation_id, "after_seq": 0})
    synced = await receive_until(again, "sync.result")
    assert [m["seq"] for m in synced["messages"]] == [1, 2, 4]
    assert synced["conversation"]["last_seq"] == rewelcome["conversation"]["last_seq"] == 4
    assert "VIP" not in str(synced)
    assert visitor.output_queue.empty() or "VIP" not in str(await visitor.receive_json_from(TIMEOUT))
    for socket in (visitor, again, agent):
        await socket.disconnect()


async def test_typing_goes_to_the_other_side(desk):
    visitor, _, agent, conversation_id = await claimed_chat(desk)

    await visitor.send_json_to({"type": "typing", "conversation_id": conversation_id})
    seen_by_agent = await receive_until(agent, "typing")
    await agent.send_json_to({"type": "typing", "conversation_id": conversation_id})
    seen_by_visitor = await receive_until(visitor, "typing")

    assert seen_by_agent == {"type": "typing", "conversation_id": conversation_id, "sender": "visitor"}
    assert seen_by_visitor["sender"] == "agent" and seen_by_visitor["name"] == desk.agent.display_name
    await visitor.disconnect()
    await agent.disconnect()


async def test_console_connect_marks_agent_present_and_ping_answers(desk):
    agent, welcome = await open_agent(desk.agent)

    await agent.send_json_to({"type": "ping"})
    pong = await receive_until(agent, "pong")
    await agent.send_json_to({"type": "agent.status", "status": "away"})
    updated = await receive_until(agent, "agent.updated")
    await agent.send_json_to({"type": "agent.status", "status": "offline"})
    refused = await receive_until(agent, "error")

    assert welcome["agent"]["status"] == "online" and welcome["heartbeat_seconds"] > 0
    assert pong == {"type": "pong"}
    assert updated["agent"]["status"] == "away"
    assert refused["code"] == "invalid_field"
    stored = await sync_to_async(Agent.objects.get)(pk=desk.agent.pk)
    assert stored.status == "away" and stored.last_seen_at is not None
    await agent.disconnect()


async def test_read_marks_reach_the_other_side_and_only_move_forward(desk):
    visitor, _, agent, conversation_id = await claimed_chat(desk)

    await agent.send_json_to({"type": "read", "conversation_id": conversation_id, "seq": 2})
    seen_by_visitor = await receive_until(visitor, "read")
    await visitor.send_json_to({"type": "read", "conversation_id": conversation_id, "seq": 99})
    seen_by_agent = await receive_until(agent, "read")
    await agent.send_json_to({"type": "read", "conversation_id": conversation_id, "seq": 1})

    assert seen_by_visitor == {"type": "read", "conversation_id": conversation_id, "reader": "agent", "seq": 2}
    assert seen_by_agent["reader"] == "visitor" and seen_by_agent["seq"] == 2  # capped at the last seq
    await agent.send_json_to({"type": "sync", "conversation_id": conversation_id, "after_seq": 2})
    synced = await receive_until(agent, "sync.result")
    assert synced["conversation"]["visitor_read_seq"] == 2
    assert visitor.output_queue.empty()  # the backwards mark told nobody anything
    await visitor.disconnect()
    await agent.disconnect()
