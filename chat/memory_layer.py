"""Channels' in-memory layer (the embedded mode's one process), recording what it drops.

Like channels_redis, it drops silently: an event for a socket with `capacity` (100)
events unread, and a socket whose event lay unread past `expiry` (60 s) is taken out of
every group, deaf from then on. A client sees a gap in seq only when a later event
comes, which for a chat's last message may be never. This layer records in which
groups it lost events, as chat.channel_layer does for Redis, so that
chat.consumers.layer_watch closes those sockets and their clients reconnect, join
their groups again and sync.
"""

import logging
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer

from .channel_layer import SKIP_CHANNEL

logger = logging.getLogger(__name__)


class RecordingInMemoryChannelLayer(InMemoryChannelLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The groups each process lost events in (`take_missed`), by its channels' shared part.
        self._missed: dict[str, set[str]] = {}

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        """Send to every channel of the group but the message's SKIP_CHANNEL, in the
        order the group lists them (channels' own layer races a task per channel)."""
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        skip = message.get(SKIP_CHANNEL)
        for channel in [name for name in self.groups.get(group, {}) if name != skip]:
            try:
                await self.send(channel, message)
            except ChannelFull:
                logger.info("Channel %s over capacity in group %s", channel, group)
                self._missed_by(channel).add(group)

    def channel_closed(self, channel: str) -> None:
        """Forget a channel whose socket has ended: its unread events and its groups, at
        once. Left to expire (60 s), it would be taken for a live socket gone deaf, and
        every socket of the process in its groups closed to resync."""
        self.channels.pop(channel, None)
        super()._remove_from_groups(channel)

    def _remove_from_groups(self, channel: str) -> None:
        # Called only when a message of `channel` expired unread. A socket still in groups
        # is deaf to them from now on; one that left them (it closed) lost nothing.
        self._missed_by(channel).update(group for group, channels in self.groups.items() if channel in channels)
        super()._remove_from_groups(channel)

    def _missed_by(self, channel: str) -> set[str]:
        return self._missed.setdefault(self.non_local_name(channel), set())

    async def take_missed(self, channel: str) -> set[str]:
        """The groups in which the process of `channel` lost events since the last call,
        forgotten once taken (as PipelinedRedisChannelLayer's)."""
        return self._missed.pop(self.non_local_name(channel), set())

    async def flush(self) -> None:
        await super().flush()
        self._missed = {}
