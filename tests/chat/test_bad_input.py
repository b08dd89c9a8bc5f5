"""Bad input on a socket gets an error naming the problem; the socket and the chat stay usable."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from chat import services
from chat.models import Message
from config.asgi import application

from .factories import ORIGIN
from .sockets import TIMEOUT, open_agent, open_visitor, receive_until, start_and_send

pytestmark = pytest.mark.django_db(transaction=True)


async def stored(conversation_id: int) -> list[tuple[int, str]]:
    rows = Message.objects.filter(conversation_id=conversation_id).order_by("seq").values_list("seq", "body")
    return await sync_to_async(list)(rows)


BAD_FRAMES = [
    pytest.param("this is not json", "invalid_json", id="not-json"),
    pytest.param("[1, 2, 3]", "invalid_json", id="json-array"),
    pytest.param('{"no": "type"}', "unknown_type", id="missing-type"),
    pytest.param('{"type": "message.delete"}', "unknown_type", id="unknown-type"),
    pytest.param('{"type": "message.send", "client_id": "x", "body": "hi"}', "invalid_field", id="no-conversation"),
    pytest.param('{"type": "message.send", "conversation_id": "1", "client_id": "x", "body": "hi"}', "invalid_field",
                 id="conversation-id-as-string"),
    pytest.param('{"type": "message.send", "conversation_id": true, "client_id": "x", "body": "hi"}', "invalid_field",
                 id="conversation-id-as-bool"),
    pytest.param('{"type": "message.send", "conversation_id": CID, "body": "hi"}', "invalid_field", id="no-client-id"),
    pytest.param('{"type": "message.send", "conversation_id": CID, "client_id": "x"}', "invalid_field", id="no-body"),
    pytest.param('{"type": "message.send", "conversation_id": CID, "client_id": "x", "body": "   "}', "empty_body",
                 id="blank-body"),
    pytest.param('{"type": "message.send", "conversation_id": CID, "client_id": "x", "body": "BIG"}', "body_too_long",
                 id="body-over-4000"),
    pytest.param('{"type": "message.send", "conversation_id": CID, "client_id": "' + "x" * 65 + '", "body": "hi"}',
                 "invalid_field", id="client-id-too-long"),
    pytest.param('{"type": "sync", "conversation_id": CID, "after_seq": -1}', "invalid_field", id="negative-seq"),
    pytest.param('{"type": "conversation.start", "topic": "no-such-topic"}', "unknown_topic", id="unknown-topic"),
    pytest.param('{"type": "message.send", "conversation_id": 999999, "client_id": "x", "body": "hi"}', "not_found",
                 id="no-such-conversation"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "code"), BAD_FRAMES)
async def test_bad_visitor_frame_gets_error_and_socket_stays_usable(desk, raw, code):
    visitor, _ = await open_visitor(desk.site)
    ack = await start_and_send(visitor, "Before", "c-0")
    conversation_id = ack["conversation_id"]
    frame = raw.replace("CID", str(conversation_id)).replace('"BIG"', '"' + "a" * 4001 + '"')

    await visitor.send_to(text_data=frame)
    error = await receive_until(visitor, "error")

    assert error["code"] == code
    assert error["message"]
    await visitor.send_json_to(
        {"type": "message.send", "conversation_id": conversation_id, "client_id": "c-1", "body": "After"}
    )
    assert (await receive_until(visitor, "message.ack"))["seq"] == 2
    assert await stored(conversation_id) == [(1, "Before"), (2, "After")]
    await visitor.disconnect()


async def test_body_of_exactly_the_limit_is_accepted(desk):
    visitor, _ = await open_visitor(desk.site)
    ack = await start_and_send(visitor, "a" * 4000, "c-0")
    assert ack["seq"] == 1
    await visitor.disconnect()


async def test_error_names_the_refused_frame_by_client_id(desk):
    visitor, _ = await open_visitor(desk.site)
    conversation_id = (await start_and_send(visitor, "Hi", "c-0"))["conversation_id"]

    await visitor.send_json_to(
        {"type": "message.send", "conversation_id": conversation_id, "client_id": "too-long", "body": "a" * 4001}
    )
    error = await receive_until(visitor, "error")

    assert error["ref"] == "too-long"
    assert "4000" in error["message"]
    await visitor.disconnect()


async def test_oversize_frame_and_binary_frame_are_refused(desk):
    visitor, _ = await open_visitor(desk.site)

    await visitor.send_to(text_data="x" * (16 * 1024 + 1))
    too_large = await visitor.receive_json_from(TIMEOUT)
    await visitor.send_to(bytes_data=b"\x00\x01")
    binary = await visitor.receive_json_from(TIMEOUT)

    assert too_large["code"] == "frame_too_large"
    assert binary["code"] == "invalid_json"
    assert (await start_and_send(visitor, "Still here", "c-1"))["seq"] == 1
    await visitor.disconnect()


async def test_frames_before_hello_are_refused(desk):
    socket = WebsocketCommunicator(application, f"/ws/visitor/{desk.site.key}/", headers=[(b"origin", ORIGIN.encode())])
    assert (await socket.connect())[0]
    await socket.send_json_to({"type": "conversation.start"})
    error = await socket.receive_json_from(TIMEOUT)
    await socket.send_json_to({"type": "hello"})
    welcome = await socket.receive_json_from(TIMEOUT)

    assert error["code"] == "hello_required"
    assert welcome["type"] == "welcome"
    await socket.disconnect()


@override_settings(CHAT_RATE_BURST=5, CHAT_RATE_PER_SECOND=1000)
async def test_rate_limit_refills(desk):
    visitor, _ = await open_visitor(desk.site)
    # With a fast refill nothing is refused: the limit is a rate, not a quota.
    for number in range(20):
        await visitor.send_json_to({"type": "sync", "conversation_id": 999999, "after_seq": 0})
        assert (await visitor.receive_json_from(TIMEOUT))["code"] == "not_found", number
    await visitor.disconnect()


@override_settings(CHAT_RATE_BURST=5, CHAT_RATE_PER_SECOND=0.5)
async def test_flood_is_refused_with_retry_after_and_resent_messages_are_all_stored(desk):
    visitor, welcome = await open_visitor(desk.site)  # hello takes one token
    conversation_id = (await start_and_send(visitor, "m0", "c-0"))["conversation_id"]  # two more
    flood = [
        {"type": "message.send", "conversation_id": conversation_id, "client_id": f"c-{n}", "body": f"m{n}"}
        for n in range(1, 11)
    ]

    for frame in flood:
        await visitor.send_json_to(frame)
    answers = [await receive_until_any(visitor, {"message.ack", "error"}) for _ in flood]

    refused = [a for a in answers if a["type"] == "error"]
    assert len(refused) == 8
    assert {a["code"] for a in refused} == {"rate_limited"}
    assert all(a["retry_after"] > 0 for a in refused)
    assert await stored(conversation_id) == [(1, "m0"), (2, "m1"), (3, "m2")]
    await visitor.disconnect()

    # The client resends everything not acked, later; each message is stored once, none lost.
    with override_settings(CHAT_RATE_BURST=50):
        again, _ = await open_visitor(desk.site, token=welcome["token"])
        for frame in flood:
            await again.send_json_to(frame)
        acks = [await receive_until(again, "message.ack") for _ in flood]
    assert [a["seq"] for a in acks] == list(range(2, 12))
    assert await stored(conversation_id) == [(n + 1, f"m{n}") for n in range(11)]
    await again.disconnect()


async def receive_until_any(socket, types: set[str]) -> dict:
    while True:
        frame = await socket.receive_json_from(TIMEOUT)
        if frame["type"] in types:
            return frame


async def test_agent_bad_frames_get_errors_too(desk):
    agent, _ = await open_agent(desk.agent)
    for raw, code in [("{", "invalid_json"), ('{"type": "hello"}', "unknown_type"),
                      ('{"type": "conversation.claim"}', "invalid_field"),
                      ('{"type": "conversation.claim", "conversation_id": 424242}', "not_found")]:  # fmt: skip
        await agent.send_to(text_data=raw)
        assert (await receive_until(agent, "error"))["code"] == code
    await agent.disconnect()


async def test_server_fault_answers_internal_error_and_keeps_the_socket(desk, monkeypatch):
    visitor, _ = await open_visitor(desk.site)
    conversation_id = (await start_and_send(visitor, "Before", "c-0"))["conversation_id"]
    real_post = services.message_post
    calls = []

    def failing_once(**kwargs):
        calls.append(kwargs["client_id"])
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return real_post(**kwargs)

    monkeypatch.setattr(services, "message_post", failing_once)
    frame = {"type": "message.send", "conversation_id": conversation_id, "client_id": "c-1", "body": "After"}
    await visitor.send_json_to(frame)
    error = await receive_until(visitor, "error")
    await visitor.send_json_to(frame)
    ack = await receive_until(visitor, "message.ack")

    assert (error["code"], error["ref"]) == ("internal_error", "c-1")
    assert ack["seq"] == 2
    assert await stored(conversation_id) == [(1, "Before"), (2, "After")]
    await visitor.disconnect()


@override_settings(CHAT_IP_MESSAGES_PER_MINUTE=3)
async def test_flood_from_one_network_is_limited_while_others_chat_on(desk):
    flooder, _ = await open_visitor(desk.site, client_ip="203.0.113.7")
    neighbour, _ = await open_visitor(desk.site, client_ip="198.51.100.1")
    conversation_id = (await start_and_send(flooder, "m1", "c-1"))["conversation_id"]

    answers = []
    for n in range(2, 5):
        await flooder.send_json_to(
            {"type": "message.send", "conversation_id": conversation_id, "client_id": f"c-{n}", "body": f"m{n}"}
        )
        answers.append(await receive_until_any(flooder, {"message.ack", "error"}))

    assert [a["type"] for a in answers] == ["message.ack", "message.ack", "error"]
    assert answers[-1]["code"] == "rate_limited" and answers[-1]["retry_after"] > 0
    assert (await start_and_send(neighbour, "Unaffected", "n-1"))["seq"] == 1
    await flooder.disconnect()
    await neighbour.disconnect()


async def test_a_visitor_cannot_open_chat_after_chat(desk):
    visitor, _ = await open_visitor(desk.site)
    for n in range(3):
        conversation_id = (await start_and_send(visitor, "Hi", f"c-{n}"))["conversation_id"]
        await visitor.send_json_to({"type": "conversation.end", "conversation_id": conversation_id})
        await receive_until(visitor, "conversation.updated")

    await visitor.send_json_to({"type": "conversation.start"})
    refused = await receive_until(visitor, "error")

    assert refused["code"] == "rate_limited"
    await visitor.disconnect()
