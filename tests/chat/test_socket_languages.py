"""Sockets speak the language of whoever is on them: error frames for a German widget or a German
agent's browser are German (docs/languages.md)."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from tests.agents.factories import make_agent

from .factories import ORIGIN, make_site
from .sockets import TIMEOUT, session_cookie


@pytest.mark.django_db(transaction=True)
async def test_visitor_socket_errors_are_in_the_widgets_language():
    site = await sync_to_async(make_site)()
    socket = WebsocketCommunicator(application, f"/ws/visitor/{site.key}/", headers=[(b"origin", ORIGIN.encode())])
    connected, _ = await socket.connect(TIMEOUT)
    assert connected
    try:
        await socket.send_json_to({"type": "hello", "token": None, "language": "de-DE"})
        assert (await socket.receive_json_from(TIMEOUT))["type"] == "welcome"

        await socket.send_json_to({"type": "sync", "conversation_id": 999999, "after_seq": 0})
        error = await socket.receive_json_from(TIMEOUT)
    finally:
        await socket.disconnect()

    assert error["code"] == "not_found"
    assert error["message"] == "Diesen Chat gibt es nicht."


@pytest.mark.django_db(transaction=True)
async def test_agent_socket_errors_follow_the_agents_browser_language():
    agent = await sync_to_async(make_agent)()
    cookie = await session_cookie(agent)
    headers = [
        (b"origin", b"http://testserver"),
        (b"cookie", f"sessionid={cookie}".encode()),
        (b"accept-language", b"de-DE,de;q=0.9,en;q=0.8"),
    ]
    socket = WebsocketCommunicator(application, "/ws/agent/", headers=headers)
    connected, _ = await socket.connect(TIMEOUT)
    assert connected
    try:
        assert (await socket.receive_json_from(TIMEOUT))["type"] == "welcome"
        await socket.send_json_to({"type": "conversation.claim", "conversation_id": 999999})
        error = await socket.receive_json_from(TIMEOUT)
    finally:
        await socket.disconnect()

    assert error["message"] == "Diesen Chat gibt es nicht."
