"""The Redis channel layer, with group sends pipelined: two round trips for any number of groups.

channels_redis's `group_send` takes four round trips to Redis per group (drop expired
members, list them, drop expired messages, add the message), and one chat message goes
to two or three groups. Each round trip is a write and a read on the event loop, which
also delivers every event, so they cost the whole process. This layer does the same
commands for all the groups of a batch in two pipelines: one lists the members, one
stores the messages. Redis semantics (capacity, expiry, what is dropped over capacity)
stay channels_redis's own; only the round trips change. Used with one Redis host, the
only set-up we run (config/settings.py); with several it sends group by group, as before.

Relies on channels_redis internals (`_group_key`, `_map_channel_keys_to_connection`), so
its version is pinned in requirements.txt; tests/chat/test_channel_layer.py checks it.
"""

import logging
import time
from typing import Any

from channels_redis.core import RedisChannelLayer

logger = logging.getLogger(__name__)

# channels_redis's own script: add the message to each channel under its capacity.
GROUP_SEND_LUA = """
    local over_capacity = 0
    local current_time = ARGV[#ARGV - 1]
    local expiry = ARGV[#ARGV]
    for i=1,#KEYS do
        if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
            redis.call('ZADD', KEYS[i], current_time, ARGV[i])
            redis.call('EXPIRE', KEYS[i], expiry)
        else
            over_capacity = over_capacity + 1
        end
    end
    return over_capacity
"""

GroupSend = tuple[str, dict[str, Any]]


class PipelinedRedisChannelLayer(RedisChannelLayer):
    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self.group_send_many([(group, message)])

    async def group_send_many(self, sends: list[GroupSend]) -> None:
        """Send each (group, message) in order, in two round trips to Redis."""
        if self.ring_size != 1:
            for group, message in sends:
                await super().group_send(group, message)
            return
        for group, _ in sends:
            assert self.require_valid_group_name(group), "Group name not valid"
        connection = self.connection(0)
        members = connection.pipeline(transaction=False)
        for group, _ in sends:
            key = self._group_key(group)
            members.zremrangebyscore(key, min=0, max=int(time.time()) - self.group_expiry)
            members.zrange(key, 0, -1)
        listed = (await members.execute())[1::2]

        stores = connection.pipeline(transaction=False)
        # (group, channels in it, index of its script's result among the pipeline's results)
        scripts: list[tuple[str, int, int]] = []
        commands = 0
        score = 0.0
        for (group, message), names in zip(sends, listed, strict=True):
            if not names:
                continue
            channel_names = [name.decode("utf8") for name in names]
            _, key_to_message, key_to_capacity = self._map_channel_keys_to_connection(channel_names, message)
            keys = list(key_to_message)
            for key in keys:
                stores.zremrangebyscore(key, min=0, max=int(time.time()) - int(self.expiry))
            args = [key_to_message[key] for key in keys] + [key_to_capacity[key] for key in keys]
            # The score orders a channel's messages, and the sockets of a process share one
            # channel key: strictly increasing, even within one clock tick, keeps the order sent.
            score = max(time.time(), score + 1e-6)
            stores.eval(GROUP_SEND_LUA, len(keys), *keys, *args, score, self.expiry)
            commands += len(keys) + 1
            scripts.append((group, len(channel_names), commands - 1))
        if not scripts:
            return
        results = await stores.execute()
        for group, channels, index in scripts:
            if results[index] > 0:
                # As channels_redis logs it: the only trace of a dropped event.
                logger.info("%s of %s channels over capacity in group %s", results[index], channels, group)
