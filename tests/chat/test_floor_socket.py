"""The floor's socket watches: it is no presence and takes no part in the chats."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from agents.models import Agent
from chat.supervision.views import SOCKET_PATH
from config.asgi import application

from ..agents.factories import make_agent
from .factories import make_conversation
from .sockets import TIMEOUT, open_agent, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_supervisor_watching_the_floor_stays_offline_and_only_syncs(desk):
    supervisor = await database_sync_to_async(make_agent)(supervisor=True, online=False)
    chat = await database_sync_to_async(make_conversation)(site=desk.site, topic=desk.topic)

    socket, welcome = await open_agent(supervisor, path=SOCKET_PATH)
    await socket.send_json_to({"type": "conversation.claim", "conversation_id": chat.pk})
    refused = await socket.receive_json_from(TIMEOUT)
    await socket.send_json_to({"type": "sync", "conversation_id": chat.pk, "after_seq": 0})
    answer = await socket.receive_json_from(TIMEOUT)
    await socket.disconnect()

    await database_sync_to_async(supervisor.refresh_from_db)()
    assert welcome["agent"]["status"] == Agent.Status.OFFLINE
    assert supervisor.status == Agent.Status.OFFLINE
    assert refused["type"] == "error" and refused["code"] == "unknown_type"
    assert answer["type"] == "sync.result" and answer["conversation"]["id"] == chat.pk


async def test_only_supervisors_may_watch(desk):
    cookie = await session_cookie(desk.agent)
    socket = WebsocketCommunicator(
        application,
        SOCKET_PATH,
        headers=[(b"origin", b"http://testserver"), (b"cookie", f"sessionid={cookie}".encode())],
    )

    connected, _ = await socket.connect(TIMEOUT)

    assert not connected
