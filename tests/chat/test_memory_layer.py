"""The embedded mode's in-memory channel layer (chat/memory_layer.py) records what it drops,
as the Redis layer does (test_channel_layer.py), and the sockets that lost an event are
closed to resync (chat.consumers.layer_watch)."""

import asyncio

import pytest
from channels.layers import get_channel_layer

from chat import realtime
from chat.channel_layer import SKIP_CHANNEL
from chat.memory_layer import RecordingInMemoryChannelLayer

from .sockets import TIMEOUT, open_agent


def event(number: int) -> dict:
    return {"type": "chat.event", "payload": {"n": number}}


async def test_an_event_over_a_sockets_capacity_is_recorded_for_its_process_and_others_still_get_it():
    layer = RecordingInMemoryChannelLayer(capacity=2)
    full, other = await layer.new_channel(), await layer.new_channel()
    for group, channel in (("team.1", full), ("team.1", other), ("visitor.2", other)):
        await layer.group_add(group, channel)

    await layer.group_send("team.1", event(1))
    await layer.group_send("team.1", event(2))
    assert await layer.take_missed(full) == set()
    await layer.receive(other)
    await layer.group_send("team.1", event(3))  # `full` has 2 unread: dropped for it only

    assert await layer.take_missed(full) == {"team.1"}
    assert await layer.take_missed(full) == set()  # forgotten once taken
    assert [(await layer.receive(full))["payload"]["n"] for _ in range(2)] == [1, 2]
    assert [(await layer.receive(other))["payload"]["n"] for _ in range(2)] == [2, 3]


async def test_a_closed_channel_leaves_its_groups_and_its_unread_events_at_once():
    # Not 60 s later, when its unread event expires: the layer would take that for a live
    # socket gone deaf, and have every socket of the process in its groups resync.
    layer = RecordingInMemoryChannelLayer()
    closed, staying = await layer.new_channel(), await layer.new_channel()
    for channel in (closed, staying):
        await layer.group_add("team.1", channel)
    await layer.group_send("team.1", event(1))

    layer.channel_closed(closed)

    assert closed not in layer.channels
    assert set(layer.groups["team.1"]) == {staying}
    assert await layer.take_missed(closed) == set()
    assert (await layer.receive(staying))["payload"]["n"] == 1


async def test_a_socket_whose_event_expired_unread_is_recorded_as_having_missed_its_groups():
    layer = RecordingInMemoryChannelLayer(expiry=0.05)
    deaf, other = await layer.new_channel(), await layer.new_channel()
    for group, channel in (("visitor.1", deaf), ("team.1", deaf)):
        await layer.group_add(group, channel)
    await layer.group_send("visitor.1", event(1))
    await asyncio.sleep(0.1)

    await layer.group_add("visitor.2", other)  # any later use cleans the expired out
    await layer.group_send("visitor.2", event(2))

    assert await layer.take_missed(deaf) == {"visitor.1", "team.1"}
    assert not layer.groups["visitor.1"]  # channels' rule: the socket left its groups


async def test_an_event_that_expired_for_a_closed_socket_is_no_loss():
    layer = RecordingInMemoryChannelLayer(expiry=0.05)
    closed, other = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("visitor.1", closed)
    await layer.group_send("visitor.1", event(1))
    await layer.group_discard("visitor.1", closed)  # its socket closed with the event unread
    await asyncio.sleep(0.1)

    await layer.group_add("visitor.2", other)
    await layer.group_send("visitor.2", event(2))

    assert closed not in layer.channels  # cleaned out
    assert await layer.take_missed(other) == set()  # the process's record: nobody to close


async def test_a_group_send_leaves_out_the_channel_the_message_names_and_keeps_the_order():
    layer = RecordingInMemoryChannelLayer()
    sender, other_tab = await layer.new_channel(), await layer.new_channel()
    for channel in (sender, other_tab):
        await layer.group_add("visitor.1", channel)

    for number in range(1, 30):
        await layer.group_send("visitor.1", {**event(number), SKIP_CHANNEL: sender})

    assert [(await layer.receive(other_tab))["payload"]["n"] for _ in range(29)] == list(range(1, 30))
    assert sender not in layer.channels


@pytest.mark.django_db(transaction=True)
async def test_the_sockets_of_a_group_that_lost_an_event_are_closed_to_resync_and_no_others(desk, settings):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "chat.memory_layer.RecordingInMemoryChannelLayer", "CONFIG": {"capacity": 1}}
    }
    settings.CHANNEL_LAYER_CHECK_SECONDS = 0.2
    missing, keeping = (await open_agent(desk.agent))[0], (await open_agent(desk.other_agent))[0]

    # Two events with no await between them: the socket has room for one.
    group = realtime.agent_group(desk.agent.user_id)
    for number in (1, 2):
        await get_channel_layer().group_send(group, {"type": "chat.event", "payload": {"type": "pong", "n": number}})

    assert (await missing.receive_json_from(TIMEOUT))["n"] == 1
    assert await missing.receive_output(TIMEOUT) == {"type": "websocket.close", "code": realtime.RECONNECT_CODE}
    assert await keeping.receive_nothing(1)
    await keeping.send_json_to({"type": "ping"})
    assert (await keeping.receive_json_from(TIMEOUT))["type"] == "pong"
    await keeping.disconnect()
