"""The channel layer of chat/channel_layer.py on a real Redis: its batched group send delivers
what channels_redis's own group_send delivers, in order, and drops over capacity as it does;
its batched receive loses nothing and gives nothing twice; its pool waits as redis-py's does."""

import asyncio
import logging
import uuid

import pytest
from channels_redis.core import RedisChannelLayer
from redis.asyncio import Redis
from redis.exceptions import RedisError

from chat.channel_layer import (
    MISSED_ALL,
    RECEIVE_BATCH_LUA,
    SKIP_CHANNEL,
    LayerConnectionPool,
    PipelinedRedisChannelLayer,
)


def layer_on(redis_url: str, cls: type[RedisChannelLayer] = PipelinedRedisChannelLayer, **config) -> RedisChannelLayer:
    config.setdefault("prefix", f"test-{uuid.uuid4().hex}")
    return cls(hosts=[{"address": redis_url, "socket_timeout": None}], **config)


async def number_received(layer: RedisChannelLayer, channel: str) -> int:
    return (await asyncio.wait_for(layer.receive(channel), 5))["payload"]["n"]


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


async def test_a_message_skips_the_channel_it_names_and_only_it(redis_url):
    layer = layer_on(redis_url)
    sender, other_tab = await layer.new_channel(), await layer.new_channel()
    alone = await layer.new_channel()
    for group, channel in (("visitor.1", sender), ("visitor.1", other_tab), ("visitor.2", alone)):
        await layer.group_add(group, channel)

    await layer.group_send_many(
        [("visitor.1", {**event(1), SKIP_CHANNEL: sender}), ("visitor.2", {**event(2), SKIP_CHANNEL: alone})]
    )
    await layer.group_send("visitor.1", event(3))

    assert await number_received(layer, other_tab) == 1
    assert await number_received(layer, sender) == 3  # not 1: skipped, not late
    assert await number_received(layer, other_tab) == 3
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(alone), 0.5)
    await layer.flush()


async def test_a_burst_over_the_pool_size_waits_for_connections_instead_of_failing(redis_url):
    # As 2,000 sockets of a process closing at once: each discards its groups.
    layer = PipelinedRedisChannelLayer(
        hosts=[{"address": redis_url, "socket_timeout": None, "max_connections": 2}], prefix=f"test-{uuid.uuid4().hex}"
    )
    channels = [await layer.new_channel() for _ in range(50)]
    await asyncio.gather(*(layer.group_add("room", channel) for channel in channels))

    await asyncio.gather(*(layer.group_discard("room", channel) for channel in channels))

    await layer.group_send("room", event(1))  # to nobody: every channel left
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(channels[0]), 0.5)
    await layer.flush()


async def test_the_pool_hands_an_idle_connection_out_directly_and_makes_a_busy_one_wait(redis_url):
    pool = LayerConnectionPool.from_url(redis_url, max_connections=2, timeout=5)
    client = Redis(connection_pool=pool)

    for _ in range(20):
        await client.ping()
    assert (len(pool._available_connections), len(pool._in_use_connections)) == (1, 0)

    # Two hold both connections; two more wait in redis-py's checkout until one comes back.
    held = [asyncio.create_task(client.blpop([f"empty-{uuid.uuid4().hex}"], timeout=0.3)) for _ in range(2)]
    await asyncio.sleep(0.05)
    waiting = [asyncio.create_task(client.ping()) for _ in range(2)]
    await asyncio.sleep(0.05)
    assert pool._in_checkout == 2 and not any(task.done() for task in waiting)

    assert await asyncio.wait_for(asyncio.gather(*held, *waiting), 5) == [None, None, True, True]
    assert pool._in_checkout == 0 and len(pool._in_use_connections) == 0
    await client.ping()  # directly again
    await pool.disconnect()


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
    assert await layer.take_missed(channel) == {"room"}
    await layer.flush()


async def test_expired_messages_leave_room_under_capacity_as_channels_redis_drops_them(redis_url):
    # The key lives on (every send renews its expiry), so only the send's own clean-up
    # takes the message that expired out of the count.
    layer = layer_on(redis_url, capacity=2, expiry=3)
    channel = await layer.new_channel()
    await layer.group_add("room", channel)

    await layer.group_send_many([("room", event(1))])
    await asyncio.sleep(2)
    await layer.group_send_many([("room", event(2))])  # the key now lives until 5 s
    await asyncio.sleep(2)  # the first is older than the expiry (whole seconds) now, the second not
    await layer.group_send_many([("room", event(3))])

    assert [await number_received(layer, channel) for _ in range(2)] == [2, 3]
    assert await layer.take_missed(channel) == {MISSED_ALL}  # an expired message's group is not known
    await layer.flush()


def two_processes(redis_url: str, **config) -> tuple[PipelinedRedisChannelLayer, PipelinedRedisChannelLayer]:
    """Two layers as two server processes have them: one Redis and prefix, channels of their own."""
    prefix = f"test-{uuid.uuid4().hex}"
    return tuple(layer_on(redis_url, prefix=prefix, **config) for _ in range(2))  # type: ignore[return-value]


async def test_a_process_learns_the_groups_it_lost_events_in_and_only_it(redis_url):
    behind, keeping_up = two_processes(redis_url, capacity=1)
    in_room, in_hall = await behind.new_channel(), await behind.new_channel()
    other = await keeping_up.new_channel()
    for layer, group, channel in ((behind, "room", in_room), (behind, "hall", in_hall), (keeping_up, "room", other)):
        await layer.group_add(group, channel)

    await behind.group_send_many([("room", event(1))])
    assert await number_received(keeping_up, other) == 1  # `behind` has not read its event yet
    await behind.group_send_many([("room", event(2)), ("hall", event(3))])

    assert await behind.take_missed(in_hall) == {"room", "hall"}  # one set per process, any of its channels
    assert await behind.take_missed(in_room) == set()  # taken once
    assert await keeping_up.take_missed(other) == set()
    assert await number_received(keeping_up, other) == 2
    await behind.flush()


async def test_groups_whose_events_were_not_sent_are_told_to_the_processes_in_them(redis_url):
    # As when Redis could not be reached: chat.realtime remembers the groups of the events
    # it could not send, and the next send (or the process's check) tells their processes.
    sender, receiver = two_processes(redis_url)
    in_room, in_hall = await receiver.new_channel(), await receiver.new_channel()
    elsewhere = await sender.new_channel()
    joins = ((receiver, "room", in_room), (receiver, "hall", in_hall), (sender, "yard", elsewhere))
    for layer, group, channel in joins:
        await layer.group_add(group, channel)

    sender.remember_unsent(["room", "nobody"])
    await sender.group_send_many([("yard", event(1))])

    assert await receiver.take_missed(in_room) == {"room"}
    assert await sender.take_missed(elsewhere) == set()
    await sender.tell_unsent()  # told once
    assert await receiver.take_missed(in_room) == set()
    assert await number_received(sender, elsewhere) == 1
    await sender.flush()


@pytest.mark.parametrize("group", ["", "white space", "x" * 200])
async def test_an_invalid_group_name_is_refused_before_anything_is_sent(redis_url, group):
    layer = layer_on(redis_url)
    with pytest.raises(TypeError):
        await layer.group_send_many([(group, event(1))])


async def test_a_process_receives_every_message_of_its_sockets_in_order(redis_url):
    layer = layer_on(redis_url, capacity=1000)  # the sockets of a process share one key
    sockets = [await layer.new_channel() for _ in range(3)]
    for number in range(250):  # more than one batch (RECEIVE_BATCH_SIZE)
        await layer.send(sockets[number % 3], event(number))

    for index, channel in enumerate(sockets):
        received = [await number_received(layer, channel) for _ in range(len(range(index, 250, 3)))]
        assert received == list(range(index, 250, 3))
    assert not any(layer.receive_buffer[channel].qsize() for channel in sockets)  # nothing twice
    await layer.flush()


async def test_a_batch_whose_reply_was_lost_is_received_again(redis_url):
    layer = layer_on(redis_url)
    channel = await layer.new_channel()
    for number in range(3):
        await layer.send(channel, event(number))
    key = layer.prefix + layer.non_local_name(channel)
    # What a receive cancelled while its batch was on the way leaves: popped, in the backup.
    await layer.connection(0).eval(RECEIVE_BATCH_LUA, 2, key, layer._backup_channel_name(key), 1, 100)
    layer._in_doubt.add(key)

    assert [await number_received(layer, channel) for _ in range(3)] == [0, 1, 2]
    await layer.flush()


async def test_waiting_sockets_hold_no_task_of_their_own_and_one_reader_serves_them(redis_url):
    layer = layer_on(redis_url)
    sockets = [await layer.new_channel() for _ in range(50)]
    tasks_before = len(asyncio.all_tasks())
    receives = [asyncio.create_task(layer.receive(channel)) for channel in sockets]
    await asyncio.sleep(0.1)

    # channels_redis runs two more tasks per waiting socket, and cancels one per message.
    assert len(asyncio.all_tasks()) == tasks_before + len(sockets) + 1
    for number, channel in enumerate(sockets):
        await layer.send(channel, event(number))
    assert [message["payload"]["n"] for message in await asyncio.wait_for(asyncio.gather(*receives), 5)] == list(
        range(50)
    )
    assert not layer.receive_buffer  # idle sockets keep no queue
    await layer.flush()


async def test_a_cancelled_receive_leaves_nothing_and_the_others_still_receive(redis_url):
    layer = layer_on(redis_url)
    leaving, staying = await layer.new_channel(), await layer.new_channel()
    gone = asyncio.create_task(layer.receive(leaving))
    await asyncio.sleep(0.05)
    gone.cancel()
    await asyncio.sleep(0.05)

    assert leaving not in layer.receive_buffer
    await layer.send(staying, event(7))
    assert await number_received(layer, staying) == 7
    await layer.flush()


async def test_events_for_a_channel_that_closed_are_dropped_not_kept(redis_url):
    # channels_redis keeps them in a buffer that nobody reads, for the life of the process
    # (django/channels_redis#384): a socket's late event, or every event of a group it
    # could not leave.
    layer = layer_on(redis_url)
    closed, staying = await layer.new_channel(), await layer.new_channel()
    for channel in (closed, staying):
        await layer.group_add("room", channel)
    layer.channel_closed(closed)

    await layer.group_send("room", event(1))
    await layer.send(closed, event(2))
    await layer.group_send("room", event(3))

    assert [await number_received(layer, staying) for _ in range(2)] == [1, 3]
    assert closed not in layer.receive_buffer
    await layer.flush()


async def test_an_unreachable_redis_fails_each_waiting_receive_instead_of_hanging():
    layer = layer_on("redis://127.0.0.1:9/0")  # nothing listens on the discard port
    channels = [await layer.new_channel() for _ in range(3)]

    results = await asyncio.wait_for(
        asyncio.gather(*(layer.receive(channel) for channel in channels), return_exceptions=True), 5
    )
    assert all(isinstance(result, (RedisError, OSError)) for result in results), results
    with pytest.raises((RedisError, OSError)):  # and again: a new reader tries again
        await asyncio.wait_for(layer.receive(channels[0]), 5)
