"""The one way services tell connected clients about a change: after the commit.

A client must never see something that was rolled back, so every event is queued with
`transaction.on_commit`. Only services call this module; they decide the recipients.

Where the events go once committed depends on who called the service. A socket handler
opens an `Outbox` (`events_after`) around its work: the committed events wait in it and
the handler sends them from the event loop when its database call has returned, after
its own answer (the ack). Everything else (views, Celery tasks, sweeps) sends them
straight away from its thread. Either way nothing is sent before the commit.
"""

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from redis.exceptions import RedisError

from .channel_layer import SKIP_CHANNEL, PipelinedRedisChannelLayer

logger = logging.getLogger(__name__)

SUPERVISORS_GROUP = "supervisors"

Event = tuple[list[str], dict[str, Any]]


# Closing a socket with this code asks its client to reconnect and say hello again
# (docs/protocol.md). Daphne lets an application close with 1000 or 3000-4999 only.
RECONNECT_CODE = 4000


def visitor_group(visitor_id: int) -> str:
    return f"visitor.{visitor_id}"


def agent_group(user_id: int) -> str:
    return f"agent.{user_id}"


def team_group(team_id: int) -> str:
    return f"team.{team_id}"


async def _send_in_order(events: list[Event]) -> None:
    sends = [(group, event) for groups, event in events for group in groups]
    layer = get_channel_layer()
    try:
        if isinstance(layer, PipelinedRedisChannelLayer):
            await layer.group_send_many(sends)  # all in two round trips to Redis
        else:
            for group, event in sends:
                await layer.group_send(group, event)
    except (RedisError, OSError):
        # Redis is down: the events are lost, never the change, which is committed. The
        # caller's answer (an ack) stands; once Redis answers, the sockets of these groups
        # are closed (chat.consumers.layer_watch), and their clients reconnect and sync.
        logger.warning("Channel layer unreachable; %s events were not sent", len(sends), exc_info=True)
        if isinstance(layer, PipelinedRedisChannelLayer):
            layer.remember_unsent(group for group, _ in sends)


class Outbox:
    """Committed events held for a socket handler to send from the event loop.

    Sending from the database thread would block it on Redis while every other socket
    of the process waits for that thread. Once closed (the handler finished, or was
    cancelled while its call still runs), an event committed later is sent at once, so
    a commit is never left untold.
    """

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._open = True
        self._lock = threading.Lock()

    def committed(self, event: Event) -> None:
        with self._lock:
            if self._open:
                self._events.append(event)
                return
        async_to_sync(_send_in_order)([event])

    def take_echo(self, channel: str, groups: Iterable[str], conversation_id: int, seq: int) -> dict[str, Any] | None:
        """The `message.new` frame of message `seq` that the socket `channel`, in `groups`,
        would get, for it to carry in its answer (the ack); the event then skips that socket."""
        groups = set(groups)
        with self._lock:
            for targets, event in self._events:
                payload = event.get("payload", {})
                message = payload.get("message", {}) if payload.get("type") == "message.new" else {}
                same = message.get("conversation_id") == conversation_id and message.get("seq") == seq
                if same and groups & set(targets):
                    event[SKIP_CHANNEL] = channel
                    return dict(payload)
        return None

    def close(self) -> list[Event]:
        with self._lock:
            self._open = False
            events, self._events = self._events, []
        return events


# Set by a socket handler on the event loop; the database thread it calls sees the same
# Outbox, because sync_to_async runs the call in a copy of the caller's context.
_outbox: ContextVar[Outbox | None] = ContextVar("chat_realtime_outbox", default=None)


def take_echo(channel: str, groups: Iterable[str], conversation_id: int, seq: int) -> dict[str, Any] | None:
    """`Outbox.take_echo` of the socket handler running: None outside one, or when its
    services committed no such event (e.g. a resend of a stored message)."""
    outbox = _outbox.get()
    return None if outbox is None else outbox.take_echo(channel, groups, conversation_id, seq)


@asynccontextmanager
async def events_after() -> AsyncIterator[None]:
    """Collect the events committed inside the block and send them, in commit order, at its end."""
    outbox = Outbox()
    token = _outbox.set(outbox)
    try:
        yield
    finally:
        _outbox.reset(token)
        events = outbox.close()
        if events:
            # Shielded: a socket closing while it sends (its task cancelled) must not keep a
            # committed change from the other sockets.
            await asyncio.shield(_send_in_order(events))


def send_on_commit(groups: Iterable[str], payload: dict[str, Any]) -> None:
    """Deliver `payload` as a protocol frame to every socket in `groups` once committed."""
    _on_commit(groups, {"type": "chat.event", "payload": payload})


def close_on_commit(groups: Iterable[str]) -> None:
    """Close every socket in `groups` once committed, with RECONNECT_CODE: its client says
    hello again and learns who it is now (e.g. a stranger, after an erasure)."""
    _on_commit(groups, {"type": "chat.close", "code": RECONNECT_CODE})


def _on_commit(groups: Iterable[str], event: dict[str, Any]) -> None:
    targets = list(dict.fromkeys(groups))
    if not targets:
        return
    outbox = _outbox.get()
    if outbox is not None:
        transaction.on_commit(lambda: outbox.committed((targets, event)))
    else:
        transaction.on_commit(lambda: async_to_sync(_send_in_order)([(targets, event)]))
