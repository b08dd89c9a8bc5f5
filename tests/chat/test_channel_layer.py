"""The pipelined group send (chat/channel_layer.py) on a real Redis: it delivers what
channels_redis's own group_send delivers, in order, and drops over capacity as it does."""

import logging
import uuid

import pytest
from channels_redis.core import RedisChannelLayer

from chat.channel_layer import PipelinedRedisChannelLayer


def layer_on(redis_url: str, cls: type[RedisChannelLayer] = PipelinedRedisChannelLayer, **config) -> RedisChannelLayer:
    return cls(hosts=[{"address": redis_url, "socket_timeout": None}], prefix=f"test-{uuid.uuid4().hex}", **config)


def event(number: int) -> dict:
    return {"type": "chat.event", "payload": {"n": number, "text": "héllo"}}


async def test_every_group_gets_its_events_in_the_order_sent(redis_url):
    layer = layer_on(redis_url)
    first, second, other = [await layer.new_channel() for _ in range(3)]
    for group, channel in (("a", first), ("a", second), ("b", other)):
        await layer.group_add(group, channel)

    sends = [("a", event(1)), ("nobody", event(2)), ("b", event(3)), ("a", event(4))]
    sends += [("a", event(n)) for n in range(5, 50)]
    await layer.group_send_many(sends)

    for channel in (first, second):
        received = [await layer.receive(channel) for _ in range(47)]
        assert [message["payload"]["n"] for message in received] == [1, 4, *range(5, 50)]
        assert received[0] == event(1)
    assert await layer.receive(other) == event(3)
    await layer.flush()


async def test_a_single_send_is_what_channels_redis_delivers(redis_url):
    ours, theirs = layer_on(redis_url), layer_on(redis_url, RedisChannelLayer)
    for layer in (ours, theirs):
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        await layer.group_send("room", event(7))
        assert await layer.receive(channel) == event(7)
        await layer.flush()


async def test_over_capacity_drops_and_logs_as_channels_redis_does(redis_url, caplog):
    layer = layer_on(redis_url, capacity=2)
    channel = await layer.new_channel()
    await layer.group_add("room", channel)

    with caplog.at_level(logging.INFO, logger="chat.channel_layer"):
        await layer.group_send_many([("room", event(n)) for n in range(4)])

    assert [(await layer.receive(channel))["payload"]["n"] for _ in range(2)] == [0, 1]
    assert "1 of 1 channels over capacity in group room" in caplog.text
    await layer.flush()


@pytest.mark.parametrize("group", ["", "white space", "x" * 200])
async def test_an_invalid_group_name_is_refused_before_anything_is_sent(redis_url, group):
    layer = layer_on(redis_url)
    with pytest.raises(TypeError):
        await layer.group_send_many([(group, event(1))])
