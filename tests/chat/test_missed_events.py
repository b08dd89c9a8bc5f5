"""A socket that the channel layer could not give an event to is closed, so that its
client reconnects and syncs (chat.consumers.layer_watch), instead of lacking a chat's
last message until the next one shows it the gap. On a real Redis; the layer's own
record of what each process missed is in test_channel_layer.py."""

import uuid
from urllib.parse import urlsplit

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from chat import realtime
from chat.channel_layer import PipelinedRedisChannelLayer
from tests.realstack.proxy import TcpProxy

from .sockets import TIMEOUT, open_agent

pytestmark = pytest.mark.django_db(transaction=True)


def layer_settings(settings, redis_url: str, prefix: str) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "chat.channel_layer.PipelinedRedisChannelLayer",
            "CONFIG": {"hosts": [{"address": redis_url, "socket_timeout": None}], "prefix": prefix},
        }
    }


async def test_the_sockets_of_a_group_that_missed_events_are_closed_to_resync_and_no_others(desk, settings, redis_url):
    layer_settings(settings, redis_url, f"test-{uuid.uuid4().hex}")
    settings.CHANNEL_LAYER_CHECK_SECONDS = 0.2
    missing, keeping = (await open_agent(desk.agent))[0], (await open_agent(desk.other_agent))[0]

    # As when an event for the first agent's group could not be sent.
    get_channel_layer().remember_unsent([realtime.agent_group(desk.agent.user_id)])

    assert await missing.receive_output(TIMEOUT) == {"type": "websocket.close", "code": realtime.RECONNECT_CODE}
    assert await keeping.receive_nothing(1)
    await keeping.send_json_to({"type": "ping"})
    assert (await keeping.receive_json_from(TIMEOUT))["type"] == "pong"
    await keeping.disconnect()


async def test_events_redis_could_not_take_are_told_to_their_processes_once_it_answers(settings, redis_url):
    # This process reaches Redis through a proxy the test cuts; another process, which
    # has a socket in the group, keeps its own connection.
    redis = urlsplit(redis_url)
    proxy = TcpProxy(redis.hostname or "127.0.0.1", redis.port or 6379)
    proxy.start()
    prefix = f"test-{uuid.uuid4().hex}"
    layer_settings(settings, redis._replace(netloc=f"127.0.0.1:{proxy.port}").geturl(), prefix)
    other_process = PipelinedRedisChannelLayer(hosts=[{"address": redis_url, "socket_timeout": None}], prefix=prefix)
    socket = await other_process.new_channel()
    await other_process.group_add("visitor.7", socket)

    def commit_event(group: str) -> None:
        with transaction.atomic():
            realtime.send_on_commit([group], {"type": "conversation.updated"})

    try:
        proxy.cut()
        await database_sync_to_async(commit_event)("visitor.7")  # not sent: Redis cannot be reached
        proxy.restore()
        assert await other_process.take_missed(socket) == set()  # nobody could say so yet
        await database_sync_to_async(commit_event)("visitor.8")  # the next send tells it first
        assert await other_process.take_missed(socket) == {"visitor.7"}
    finally:
        proxy.stop()
        await other_process.flush()
