"""The Redis channel layer, with group sends batched: two round trips for any number of groups.

channels_redis's `group_send` takes four round trips to Redis per group (drop expired
members, list them, drop expired messages, add the message), and one chat message goes
to two or three groups. Each round trip is a write and a read on the event loop, which
also delivers every event, and each command costs redis-py's packing and parsing, so they
cost the whole process. This layer does the same work for all the groups of a batch in
two round trips: one script lists the members of every group, then a pipeline of one
script per group stores the messages. Redis semantics (capacity, expiry, what is dropped
over capacity) stay channels_redis's own; only the round trips and commands change. Used
with one Redis host, the only set-up we run (config/settings.py); with several it sends
group by group, as before.

What channels_redis drops silently, this layer records: each process learns in which
groups it lost events (over capacity, expired unread, or never sent while Redis could
not be reached), so that chat.consumers.layer_watch can close those sockets and their
clients reconnect and sync, instead of lacking a chat's last event until the next one.

Relies on channels_redis internals (`_group_key`, `_map_channel_keys_to_connection`), so
its version is pinned in requirements.txt; tests/chat/test_channel_layer.py checks it.
"""

import asyncio
import collections
import contextlib
import copy
import logging
import time
from collections.abc import Iterable
from typing import Any

import redis
from channels_redis.core import RedisChannelLayer
from redis.asyncio import BlockingConnectionPool, ConnectionPool
from redis.asyncio.connection import AbstractConnection

logger = logging.getLogger(__name__)

# Drops each group's expired members (scored by when they joined) and lists the others.
# KEYS: the groups' keys; ARGV[1]: the time before which a member expired.
GROUP_MEMBERS_LUA = """
    local members = {}
    for i = 1, #KEYS do
        redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, ARGV[1])
        members[i] = redis.call('ZRANGE', KEYS[i], 0, -1)
    end
    return members
"""

# channels_redis's steps for one group's channel keys: drop each key's expired messages,
# then add the message under the key's capacity. KEYS[i] gets ARGV[i] under capacity
# ARGV[n + i]; then the score, the keys' expiry, the time before which a message expired
# and the group. Returns how many were dropped. Where a process lost an event, the group
# (or MISSED_ALL, for messages that expired unread: any group's) goes into the key's
# missed set KEYS[n + i], for the process to close those sockets (`take_missed`).
# One script per group, as channels_redis's, in a pipeline whose scripts a process's
# receive may come between. One script for the whole batch would be atomic: a process
# with room for one more event would lose every second event of a batch sent to it (an
# agent got none live in tests/realstack's flood at capacity 1).
GROUP_SEND_LUA = """
    local n = #KEYS / 2
    local score, expiry, expired, group = ARGV[2 * n + 1], ARGV[2 * n + 2], ARGV[2 * n + 3], ARGV[2 * n + 4]
    local over_capacity = 0
    for i = 1, n do
        local missed = false
        if redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, expired) > 0 then
            missed = ARGV[2 * n + 5]
        end
        if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[n + i]) then
            redis.call('ZADD', KEYS[i], score, ARGV[i])
            redis.call('EXPIRE', KEYS[i], expiry)
        else
            over_capacity = over_capacity + 1
            missed = missed or group
        end
        if missed then
            redis.call('SADD', KEYS[n + i], missed)
            redis.call('EXPIRE', KEYS[n + i], expiry)
        end
    end
    return over_capacity
"""

# In a process's missed set: events of any group were lost (they expired unread).
MISSED_ALL = "*"

# Pops up to ARGV[2] messages of a process's channel into its in-flight backup, which it
# first empties: dropped when ARGV[1] says the last batch reached the process, put back
# (to be received again) when that reply was lost, e.g. to a cancellation.
RECEIVE_BATCH_LUA = """
    local backed_up = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
    if ARGV[1] == '0' then
        for i = #backed_up, 1, -2 do
            redis.call('ZADD', KEYS[1], backed_up[i], backed_up[i - 1])
        end
    end
    redis.call('DEL', KEYS[2])
    local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[2])
    for i = 1, #popped, 2 do
        redis.call('ZADD', KEYS[2], popped[i + 1], popped[i])
    end
    return popped
"""
RECEIVE_BATCH_SIZE = 100

# A group message's one socket to leave out: the one that sent a chat message, whose
# answer (the ack) carried it already (chat.realtime.take_echo). Left out here, it costs
# no Redis write and no delivery; consumers also skip it, for the other layers.
SKIP_CHANNEL = "skip_channel"

GroupSend = tuple[str, dict[str, Any]]


class ReaderFailed:
    """Put in a waiting socket's buffer when the process's reader failed: its receive raises."""

    def __init__(self, error: Exception) -> None:
        self.error = error


# How long a command waits for one of the pool's connections before it fails.
POOL_WAIT_SECONDS = 30


class LayerConnectionPool(BlockingConnectionPool):
    """redis-py's blocking pool, which hands out an idle connection directly when no task
    waits for one.

    redis-py's checkout and release take a condition, a timeout and observability hooks,
    and release dispatches an event, for every command: 12-17 µs of the event loop's CPU
    more than the plain pool per command (docs/performance.md, round 7), and a chat
    message costs two or three checkouts. The event loop's one thread makes taking an idle
    connection safe without them. Whenever a task is in redis-py's checkout (it may be
    waiting for a release), and with a credential provider (whose re-authentication the
    release event runs), both are redis-py's own.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_checkout = 0
        self._direct = self.connection_kwargs.get("credential_provider") is None

    def _may_go_direct(self) -> bool:
        return self._direct and not self._in_checkout and not self._in_maintenance

    async def get_connection(self, *args: Any, **kwargs: Any) -> AbstractConnection:
        if self._available_connections and self._may_go_direct():
            connection = self._available_connections.pop()
            self._in_use_connections.add(connection)
            try:
                await self.ensure_connection(connection)  # as redis-py: connected, nothing unread
            except BaseException:
                await self.release(connection)
                raise
            return connection
        self._in_checkout += 1
        try:
            return await super().get_connection()
        finally:
            self._in_checkout -= 1

    async def release(self, connection: AbstractConnection) -> None:
        if not self._may_go_direct():
            await super().release(connection)  # wakes a task waiting for a connection
            return
        self._in_use_connections.remove(connection)
        if connection.should_reconnect():
            await connection.disconnect()
        self._available_connections.append(connection)


class PipelinedRedisChannelLayer(RedisChannelLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Process channel keys whose last batch reply may not have arrived.
        self._in_doubt: set[str] = set()
        # The process's channels with a receive waiting, and the task that reads for them.
        self._waiting: collections.Counter[str] = collections.Counter()
        # The process's channels whose socket has not ended (`channel_closed`).
        self._open: set[str] = set()
        self._reader: asyncio.Task[None] | None = None
        # Groups whose events this process could not send (`remember_unsent`).
        self._unsent: set[str] = set()

    def create_pool(self, index: int) -> ConnectionPool:
        """A pool that makes a command wait for a free connection, where channels_redis's
        fails it at `max_connections`: when 2,000 sockets of a process closed at once, their
        group discards failed with "Too many connections" (docs/performance.md, round 5)."""
        host = dict(self.hosts[index])
        if "address" not in host:
            return super().create_pool(index)
        return LayerConnectionPool.from_url(host.pop("address"), timeout=POOL_WAIT_SECONDS, **host)

    async def new_channel(self, prefix: str = "specific.") -> str:
        channel = await super().new_channel(prefix)
        self._open.add(channel)
        return channel

    def channel_closed(self, channel: str) -> None:
        """Forget a channel whose socket has ended. An event that still comes for it (on
        its way when the socket closed, or sent to a group it could not leave) is dropped
        by the reader; channels_redis keeps it in a buffer that nobody reads, for the life
        of the process (django/channels_redis#384)."""
        self._open.discard(channel)
        self.receive_buffer.pop(channel, None)

    def group_discard_blocking(self, memberships: list[tuple[str, str]]) -> None:
        """Take each (group, channel) out of its group, in one blocking round trip on a
        connection of its own: for a server that stops, whose loop no longer runs what it
        starts (chat.consumers.layer_watch). Raises RedisError when Redis cannot be reached."""
        client = redis.Redis.from_url(self.hosts[0]["address"], socket_timeout=2, socket_connect_timeout=2)
        try:
            leaving = client.pipeline(transaction=False)
            for group, channel in memberships:
                leaving.zrem(self._group_key(group), channel)
            leaving.execute()
        finally:
            client.close()

    async def receive(self, channel: str) -> dict[str, Any]:
        """The next message of a channel. A process's own channels (its sockets) wait only
        on their buffers, which one reader task per process fills from Redis (`_read`).

        channels_redis has every waiting socket race for a lock against its buffer, with two
        new tasks per message received, and cancels the loser: a CancelledError and its
        traceback, in reference cycles, per event delivered, that only the garbage collector
        frees (docs/performance.md, round 7).
        """
        if "!" not in channel or self.ring_size != 1:
            return await super().receive(channel)
        assert self.require_valid_channel_name(channel), "Channel name invalid"
        self._open.add(channel)
        buffer = self.receive_buffer[channel]
        self._waiting[channel] += 1
        try:
            if buffer.empty():
                self._reader_start(self.non_local_name(channel))
            item = await buffer.get()
        except asyncio.CancelledError:
            # As channels_redis: a socket that stopped receiving leaves no buffer behind.
            self.receive_buffer.pop(channel, None)
            raise
        finally:
            self._waiting[channel] -= 1
            if not self._waiting[channel]:
                del self._waiting[channel]
        if buffer.empty():
            self.receive_buffer.pop(channel, None)  # an idle socket holds no queue (memory)
        if isinstance(item, ReaderFailed):
            raise copy.copy(item.error) from item.error
        return item

    def _reader_start(self, channel: str) -> None:
        loop = asyncio.get_running_loop()
        if self._reader is None or self._reader.done() or self._reader.get_loop() is not loop:
            self._reader = loop.create_task(self._read(channel))

    async def _read(self, channel: str) -> None:
        """Hand every message of the process channel `channel` to its socket's buffer, in
        the order sent, while any socket waits; a Redis failure fails each waiting receive,
        whose socket then closes and its client reconnects, as with channels_redis."""
        try:
            while self._waiting:
                for content in await self._pop_batch(channel):
                    names, message = self._unpack(content, channel)
                    for name in names if isinstance(names, list) else [names]:
                        if name in self._open:
                            self.receive_buffer[name].put_nowait(message)
        except Exception as error:
            logger.warning("Channel layer receive failed; %s sockets told", len(self._waiting), exc_info=True)
            for waiting in self._waiting:
                self.receive_buffer[waiting].put_nowait(ReaderFailed(error))

    async def _pop_batch(self, channel: str) -> list[bytes]:
        """Up to RECEIVE_BATCH_SIZE messages of a process channel, oldest first, in one
        round trip (channels_redis takes four per message: restore the backup, BZPOPMIN,
        back it up, clean the backup); BZPOPMIN waits, up to its timeout, only when none
        is waiting. Empty when none came."""
        key = self.prefix + channel
        connection = self.connection(0)
        doubt = key in self._in_doubt
        self._in_doubt.add(key)
        batch = await connection.eval(
            RECEIVE_BATCH_LUA, 2, key, self._backup_channel_name(key), 0 if doubt else 1, RECEIVE_BATCH_SIZE
        )
        self._in_doubt.discard(key)
        if batch:
            return list(batch[0::2])
        # As channels_redis: a cancellation while a popped message is on its way here
        # loses it; the clients' seq + sync recover it.
        result = await connection.bzpopmin(key, timeout=self.brpop_timeout)
        return [] if result is None else [result[1]]

    async def close_pools(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None and not reader.done() and reader.get_loop() is asyncio.get_running_loop():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        await super().close_pools()

    def _unpack(self, content: bytes, channel: str) -> tuple[str | list[str], dict[str, Any]]:
        # A process channel's message names its socket(s) in __asgi_channel__.
        message = self.deserialize(content)
        return message.pop("__asgi_channel__", channel), message

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self.group_send_many([(group, message)])

    async def group_send_many(self, sends: list[GroupSend]) -> None:
        """Send each (group, message) in order, in two round trips to Redis, to every
        channel of the group but the message's SKIP_CHANNEL."""
        if self.ring_size != 1:
            for group, message in sends:
                await super().group_send(group, message)
            return
        for group, _ in sends:
            assert self.require_valid_group_name(group), "Group name not valid"
        await self.tell_unsent()
        listed = await self._group_members([group for group, _ in sends])

        stores = self.connection(0).pipeline(transaction=False)
        scripts: list[tuple[str, int]] = []  # the group of each script, and how many channels it has
        score = 0.0
        expired = int(time.time()) - int(self.expiry)
        for (group, message), names in zip(sends, listed, strict=True):
            skip = message.get(SKIP_CHANNEL)
            channel_names = [name for name in names if name != skip]
            if not channel_names:
                continue
            _, key_to_message, key_to_capacity = self._map_channel_keys_to_connection(channel_names, message)
            keys = list(key_to_message)
            args = [key_to_message[key] for key in keys] + [key_to_capacity[key] for key in keys]
            # The score orders a channel's messages, and the sockets of a process share one
            # channel key: strictly increasing, even within one clock tick, keeps the order sent.
            score = max(time.time(), score + 1e-6)
            keys += [self._missed_key(key) for key in keys]
            stores.eval(GROUP_SEND_LUA, len(keys), *keys, *args, score, self.expiry, expired, group, MISSED_ALL)
            scripts.append((group, len(channel_names)))
        if not scripts:
            return
        for (group, channels), dropped in zip(scripts, await stores.execute(), strict=True):
            if dropped > 0:
                # As channels_redis logs it: the only trace of a dropped event.
                logger.info("%s of %s channels over capacity in group %s", dropped, channels, group)

    async def _group_members(self, groups: list[str]) -> list[list[str]]:
        """The channels of each group, in one round trip, its expired members dropped."""
        group_keys = [self._group_key(group) for group in groups]
        listed = await self.connection(0).eval(
            GROUP_MEMBERS_LUA, len(group_keys), *group_keys, int(time.time()) - self.group_expiry
        )
        return [[name.decode("utf8") for name in names] for names in listed]

    def _missed_key(self, channel_key: str) -> str:
        return f"{channel_key}:missed"

    async def take_missed(self, channel: str) -> set[str]:
        """The groups in which the process of `channel` lost events since the last call
        (MISSED_ALL: any), forgotten once taken: its sockets in them lack an event, and
        their clients cannot know until a later one shows them the gap."""
        if self.ring_size != 1:
            return set()  # channels_redis's own group send keeps no such record
        key = self._missed_key(self.prefix + self.non_local_name(channel))
        taking = self.connection(0).pipeline(transaction=True)
        taking.smembers(key)
        taking.delete(key)
        missed, _ = await taking.execute()
        return {group.decode("utf8") for group in missed}

    def remember_unsent(self, groups: Iterable[str]) -> None:
        """Groups whose events could not be sent because Redis could not be reached: once
        it answers again, every process with a socket in them is told (`tell_unsent`)."""
        self._unsent.update(groups)

    async def tell_unsent(self) -> None:
        """Put the groups of `remember_unsent` into the missed set of each process that has
        a socket in them. Kept for the next try if Redis still cannot be reached."""
        if not self._unsent or self.ring_size != 1:
            return
        groups, self._unsent = sorted(self._unsent), set()
        try:
            marks = self.connection(0).pipeline(transaction=False)
            for group, names in zip(groups, await self._group_members(groups), strict=True):
                for key in {self._missed_key(self.prefix + self.non_local_name(name)) for name in names}:
                    marks.sadd(key, group)
                    marks.expire(key, self.expiry)
            await marks.execute()
        except BaseException:
            self._unsent.update(groups)
            raise
