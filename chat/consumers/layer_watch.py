"""Closes this process's sockets that Redis lost events or group memberships of.

channels_redis keeps who is in which group only in Redis. A Redis that restarts without
its data (or is flushed) forgets them, and a consumer that lived through the outage
stays open but deaf: no event reaches it again, and its client cannot know. So each
process keeps a sentinel key in every Redis of the layer; when one is gone, the groups
went with it, and every socket of the process is closed with RECONNECT_CODE. Its client
reconnects (joining its groups again), syncs from its last seq and resends what is
pending (docs/protocol.md). While Redis cannot be reached nothing is closed: the
sockets keep storing and acking, and the check runs again.

A socket also misses an event when the layer drops it (over the process's capacity, or
expired unread) or when Redis could not be reached to send it. A client sees such a gap
in seq only when a later event comes, which for a chat's last message may be never. The
layer records in which groups each process missed events (chat.channel_layer; for the
embedded mode's in-memory layer, chat.memory_layer); the same check closes this
process's sockets in those groups, with the same code and recovery.

A Daphne process that is stopped cancels its sockets' applications and exits without
letting them finish, so none leaves its groups, and each membership would be sent its
group's events for a day (the group expiry). `leave_groups_at_shutdown` takes them out as
the server stops.
"""

import asyncio
import logging
import sys
import uuid
import weakref
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from redis.exceptions import RedisError

from ..channel_layer import MISSED_ALL, PipelinedRedisChannelLayer
from ..realtime import RECONNECT_CODE

logger = logging.getLogger(__name__)

_sockets: "weakref.WeakSet[Any]" = weakref.WeakSet()
_watcher: asyncio.Task[None] | None = None
# The key this process keeps in each Redis of the layer, to learn that Redis lost its data.
_SENTINEL = f"process-alive:{uuid.uuid4().hex}"


def watch_channel_layer(consumer: Any) -> None:
    """Close `consumer`'s socket if the layer loses its events or Redis forgets its
    groups (call once it has joined them)."""
    global _watcher
    layer = consumer.channel_layer
    if not hasattr(layer, "take_missed"):  # a layer that records nothing
        return
    _sockets.add(consumer)
    loop = asyncio.get_running_loop()
    if _watcher is None or _watcher.done() or _watcher.get_loop() is not loop:
        _watcher = loop.create_task(_watch(layer), name="channel-layer-watch")


async def _watch(layer: Any) -> None:
    interval = settings.CHANNEL_LAYER_CHECK_SECONDS
    placed = False
    while True:
        try:
            redis_forgot = False
            if isinstance(layer, PipelinedRedisChannelLayer):
                redis_forgot = await _redis_forgot(layer, placed)
                placed = True
            if redis_forgot:
                sockets = list(_sockets)
                logger.warning(
                    "Redis lost the channel groups; closing %d sockets so their clients reconnect", len(sockets)
                )
                await _close(sockets)
            else:
                await _close_missed(layer)
        except (RedisError, OSError):
            logger.warning("Channel layer unreachable; sockets stay open and the check runs again", exc_info=True)
        except Exception:  # the watcher must outlive any surprise
            logger.exception("Channel layer check failed")
        await asyncio.sleep(interval)


async def _redis_forgot(layer: PipelinedRedisChannelLayer, placed: bool) -> bool:
    """Whether a Redis of the layer lost this process's sentinel since it was `placed`."""
    key = f"{layer.prefix}:{_SENTINEL}"
    lives = max(60, int(settings.CHANNEL_LAYER_CHECK_SECONDS * 6))
    lost = False
    for index in range(layer.ring_size):
        redis = layer.connection(index)
        # SET NX answers true only when the key was missing: first run, or data lost.
        created = await redis.set(key, 1, nx=True, ex=lives)
        await redis.expire(key, lives)
        lost = lost or (bool(created) and placed)
    return lost


async def _close_missed(layer: Any) -> None:
    if isinstance(layer, PipelinedRedisChannelLayer):
        await layer.tell_unsent()
    missed: set[str] = set()
    for process_channel in {layer.non_local_name(consumer.channel_name) for consumer in _sockets}:
        missed |= await layer.take_missed(process_channel)
    if not missed:
        return
    closing = [c for c in _sockets if MISSED_ALL in missed or missed.intersection(c.groups_joined)]
    logger.warning("Events of %d groups were lost; closing their %d sockets to resync", len(missed), len(closing))
    await _close(closing)


async def _close(sockets: list[Any]) -> None:
    for consumer in sockets:
        _sockets.discard(consumer)
        try:
            await consumer.close(code=RECONNECT_CODE)
        except Exception:  # already closed
            logger.debug("Socket already closed", exc_info=True)


def leave_groups_at_shutdown() -> None:
    """Under Daphne, take this process's sockets out of their groups when the server stops."""
    if "daphne.server" not in sys.modules:  # Daphne installs its reactor on import
        return
    from twisted.internet import reactor

    reactor.addSystemEventTrigger("before", "shutdown", _leave_all_groups)  # type: ignore[attr-defined]


def _leave_all_groups() -> None:
    # Blocking: Twisted runs this trigger but does not wait for what it would start on the
    # loop (a Deferred returned here is not waited for either).
    layer = get_channel_layer()
    if not isinstance(layer, PipelinedRedisChannelLayer) or layer.ring_size != 1:
        return
    memberships = [(group, consumer.channel_name) for consumer in list(_sockets) for group in consumer.groups_joined]
    if not memberships:
        return
    try:
        layer.group_discard_blocking(memberships)
        logger.info("Left %d group memberships of this process's sockets at shutdown", len(memberships))
    except RedisError:
        logger.warning("Could not leave the groups at shutdown; the layer expires them later", exc_info=True)
