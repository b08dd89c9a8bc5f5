"""A socket that ended leaves nothing of itself in the channel layer: not its groups, even
when the server gave up on it before its disconnect ran, and no buffer of events that were
still on their way to it. On both layers: the embedded mode's and Redis."""

import asyncio
import contextlib
import time
import uuid

import pytest
from channels.layers import get_channel_layer

from chat import realtime
from chat.channel_layer import PipelinedRedisChannelLayer

from .sockets import TIMEOUT, open_agent

pytestmark = pytest.mark.django_db(transaction=True)


def use_redis_layer(settings, redis_url: str) -> None:
    config = {"hosts": [{"address": redis_url, "socket_timeout": None}], "prefix": f"test-{uuid.uuid4().hex}"}
    backend = {"BACKEND": "chat.channel_layer.PipelinedRedisChannelLayer", "CONFIG": config}
    settings.CHANNEL_LAYERS = {"default": backend}


@pytest.fixture(params=["memory", "redis"])
def layer_kind(request, settings) -> str:
    if request.param == "redis":
        use_redis_layer(settings, request.getfixturevalue("redis_url"))
    else:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "chat.memory_layer.RecordingInMemoryChannelLayer"}}
    return request.param


async def members(group: str) -> set[str]:
    layer = get_channel_layer()
    if isinstance(layer, PipelinedRedisChannelLayer):
        names = await layer.connection(0).zrange(layer._group_key(group), 0, -1)
        return {name.decode() for name in names}
    return set(layer.groups.get(group, {}))


async def until_left(group: str, channel: str) -> bool:
    deadline = time.monotonic() + TIMEOUT
    while channel in await members(group) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return channel not in await members(group)


async def test_a_socket_the_server_gave_up_on_leaves_its_groups(desk, layer_kind):
    socket, _ = await open_agent(desk.agent)
    group = realtime.agent_group(desk.agent.user_id)
    (channel,) = await members(group)

    # What Daphne does to a socket's application still busy 10 s after its client left
    # (its frames waiting for the database): it is cancelled before its disconnect runs.
    # Left in its groups, it would be sent their events for a day (the group expiry).
    socket.future.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await socket.future

    assert await until_left(group, channel)


async def test_an_event_still_on_its_way_to_a_socket_that_ended_is_not_kept(desk, settings, redis_url):
    # The in-memory layer drops it when it expires (60 s); Redis's reader kept it for good.
    use_redis_layer(settings, redis_url)
    ending, staying = (await open_agent(desk.agent))[0], (await open_agent(desk.other_agent))[0]
    ended = next(iter(await members(realtime.agent_group(desk.agent.user_id))))
    kept = next(iter(await members(realtime.agent_group(desk.other_agent.user_id))))
    await ending.disconnect()
    layer = get_channel_layer()

    await layer.send(ended, {"type": "chat.event", "payload": {"type": "late"}})
    await layer.send(kept, {"type": "chat.event", "payload": {"type": "after"}})

    assert await staying.receive_json_from(TIMEOUT) == {"type": "after"}  # read after the late one
    assert ended not in layer.receive_buffer
    await staying.disconnect()
