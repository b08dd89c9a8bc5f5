"""What both sockets share: frame parsing, rate limiting, errors and event delivery.

Consumers only parse, authorise, call a service and send the result; every rule about
conversations lives in `chat.services` and `chat.selectors`.
"""

import asyncio
import collections
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import translation

from config.logging import bind_conversation, log_context

from ..errors import ChatError, ErrorCode
from ..models import Conversation
from ..payloads import message_payload
from ..realtime import SKIP_CHANNEL, events_after, take_echo
from ..selectors import messages_after

logger = logging.getLogger(__name__)

CLIENT_ID_MAX_LENGTH = 64
# Ids are 64-bit in every database we run on; a larger number is no id at all.
ID_MAX = 2**63 - 1
# Valid JSON escapes (\u0000, \ud800) that no database column can store.
UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")

Frame = dict[str, Any]
Handler = Callable[[Frame], Awaitable[None]]

# Frames a socket may have read ahead of its frame task; past it, reading waits (backpressure).
FRAMES_AHEAD = 64
# The close code of a socket that kept sending refused frames: WebSocket's "policy
# violation" (1008) in the range that servers may send (autobahn refuses 1008 itself).
FLOODED_CODE = 4008
# How long an ended socket still in groups may take to leave them (a process stopping, or
# Redis unreachable, must not wait on it for long).
LEAVE_SECONDS = 5


class TokenBucket:
    """Allows a burst of `capacity` frames, refilled at `rate` per second."""

    def __init__(self, capacity: int, rate: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = float(capacity)
        self.updated = time.monotonic()

    def take(self) -> float:
        """Take one token; returns 0 when allowed, else the seconds until one is free."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


def field_int(frame: Frame, name: str, *, minimum: int = 0) -> int:
    value = frame.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= ID_MAX:
        raise ChatError(ErrorCode.INVALID_FIELD, f"'{name}' must be an integer of at least {minimum}.")
    return value


def has_unstorable_text(value: object) -> bool:
    """Whether a string (or key) anywhere in `value` holds NUL or an unpaired surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if UNSTORABLE_TEXT.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def field_str(frame: Frame, name: str, *, max_length: int | None = None, required: bool = True) -> str | None:
    value = frame.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise ChatError(ErrorCode.INVALID_FIELD, f"'{name}' must be a non-empty string.")
    if max_length is not None and len(value) > max_length:
        raise ChatError(ErrorCode.INVALID_FIELD, f"'{name}' must be at most {max_length} characters.")
    return value


def field_body(frame: Frame) -> str:
    """The message body; emptiness and length are the service's rules (message_post)."""
    body = frame.get("body")
    if not isinstance(body, str):
        raise ChatError(ErrorCode.INVALID_FIELD, "'body' must be a string.")
    return body


def sync_answer(
    conversation: Conversation, after_seq: int, view: Callable[[Conversation], dict[str, Any]], *, for_agent: bool
) -> dict[str, Any]:
    """A `sync.result` frame: the conversation as `view` shows it and the messages after
    `after_seq`; an agent's also has private notes and message ids."""
    messages, has_more = messages_after(conversation=conversation, after_seq=after_seq, with_notes=for_agent)
    return {
        "type": "sync.result",
        "conversation": view(conversation),
        "messages": [message_payload(message, for_agent=for_agent) for message in messages],
        "has_more": has_more,
    }


def frame_ref(frame: Frame) -> str | None:
    ref = frame.get("client_id") or frame.get("type")
    return ref if isinstance(ref, str) else None


class SocketGone(Exception):
    """A frame could not be sent: the socket closed under it."""


class ProtocolConsumer(AsyncWebsocketConsumer):
    """A JSON socket whose frames are dispatched by `type` to the handlers of `handlers()`."""

    groups_joined: list[str]

    def handlers(self) -> dict[str, Handler]:
        raise NotImplementedError

    async def join(self, group: str) -> None:
        if group not in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)

    # Agents carry many chats on one socket: their consumer allows more frames.
    rate_factor = 1
    # The language of the error messages this socket sends; "" until the subclass knows.
    language = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.groups_joined = []
        self.bucket = TokenBucket(
            settings.CHAT_RATE_BURST * self.rate_factor, settings.CHAT_RATE_PER_SECOND * self.rate_factor
        )
        self.refusals = TokenBucket(
            settings.CHAT_REFUSALS_BEFORE_CLOSE * self.rate_factor, settings.CHAT_RATE_PER_SECOND * self.rate_factor
        )
        self.flooded = False
        # (text, bytes) of each frame read, handled in order by `frame_task`, which runs
        # only while there are some: an idle socket holds no task (memory per socket).
        self.frames: collections.deque[tuple[str | None, bytes | None]] = collections.deque()
        self.frame_task: asyncio.Task[None] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # The server gave up on the socket (closed too long, or shutting down).
            if self.frame_task is not None:
                self.frame_task.cancel()
            await self.leave_channel_layer()

    async def leave_channel_layer(self) -> None:
        """Leave nothing of this ended socket in the channel layer: no events still on
        their way to it, and no group membership."""
        layer, channel = getattr(self, "channel_layer", None), getattr(self, "channel_name", None)
        if layer is None or channel is None:
            return
        if hasattr(layer, "channel_closed"):
            layer.channel_closed(channel)
        if not self.groups_joined:
            return
        # The server gave up on the socket before `disconnect` ran (Daphne cancels one still
        # busy 10 s after its client left). Left in its groups, it would be sent their
        # events until the layer expires it, a day later.
        try:
            await asyncio.wait_for(self.leave_groups(), LEAVE_SECONDS)
        except Exception:
            logger.warning("An ended socket could not leave its groups; the layer expires it later", exc_info=True)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Log lines written while handling this message name the socket (config/logging.py).
        with log_context(socket_id=self.channel_name, conversation_id=None):
            # Neither does database work: skip Channels' close_old_connections step, a hop
            # onto the process's database thread that would queue every delivery and every
            # frame read behind other sockets' queries (database_sync_to_async, which the
            # handlers use, closes them anyway).
            if message["type"] == "chat.event":
                await self.chat_event(message)
            elif message["type"] == "websocket.receive":
                await self.websocket_receive(message)
            else:
                await self.in_language(super().dispatch(message))

    async def in_language(self, work: Awaitable[None]) -> None:
        # Error frames are in the language of whoever is on the socket (set once known).
        with translation.override(self.language or settings.LANGUAGE_CODE):
            await work

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        """Queue the frame for the socket's frame task.

        Channels handles one message of a consumer at a time: a frame waiting for the
        database (seconds, at load) would hold back every event for this socket, which
        its client then took for lost and synced. Frames still run one at a time, in the
        order read, so a client's messages are stored in the order it sent them.
        """
        if self.flooded:
            return  # read before the close; never answered, so a client resends what it needs
        self.frames.append((message.get("text"), message.get("bytes")))
        if self.frame_task is None or self.frame_task.done():
            self.frame_task = asyncio.create_task(self.handle_frames())
        elif len(self.frames) >= FRAMES_AHEAD:
            # Read no further until the frames read are handled (the rest wait in the
            # server's queue; a flood is refused, then closed: count_refusal).
            await asyncio.shield(self.frame_task)

    async def handle_frames(self) -> None:
        while self.frames:
            frame = self.frames.popleft()
            with log_context(socket_id=self.channel_name, conversation_id=None):
                try:
                    await self.in_language(self.receive(text_data=frame[0], bytes_data=frame[1]))
                except SocketGone:
                    # receive answers every fault with an error frame, so only sending can
                    # fail here: the socket is closing, and its later frames still run.
                    logger.debug("A frame's answer could not be sent", exc_info=True)
                except Exception:
                    logger.exception("A frame's answer failed")  # a fault of ours; the rest still run

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        # What the client sent before it left is still stored; its acks go nowhere.
        if self.frame_task is not None:
            await self.frame_task
        await super().websocket_disconnect(message)

    async def disconnect(self, code: int) -> None:
        await self.leave_groups()

    async def leave_groups(self) -> None:
        # A group is forgotten once left: cancelled midway, the rest are left later.
        while self.groups_joined:
            await self.channel_layer.group_discard(self.groups_joined[-1], self.channel_name)
            self.groups_joined.pop()

    async def send_json(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload)
        try:
            await self.send(text_data=text)
        except Exception as error:
            # The server's exception type varies (Daphne's, from autobahn, is Disconnected
            # while the closing handshake runs): the client left, no fault of ours.
            raise SocketGone from error

    async def send_ack(self, conversation_id: int, client_id: str, seq: int) -> None:
        """Answer a `message.send`. The ack carries the `message.new` this socket would get
        of it, which then skips this socket: one frame, not two (docs/protocol.md)."""
        ack = {"type": "message.ack", "conversation_id": conversation_id, "client_id": client_id, "seq": seq}
        echo = take_echo(self.channel_name, self.groups_joined, conversation_id, seq)
        if echo is not None:
            ack.update({key: value for key, value in echo.items() if key != "type"})
        await self.send_json(ack)

    async def send_error(self, error: ChatError, frame: Frame) -> None:
        conversation_id = frame.get("conversation_id")
        await self.send_json(
            {
                "type": "error",
                "code": error.code,
                "message": error.message,
                "ref": frame_ref(frame),
                # Lets a client tell which conversation a refused claim, end or sync was about.
                "conversation_id": conversation_id if isinstance(conversation_id, int) else None,
                **error.extra,
            }
        )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        frame: Frame = {}
        handled = False
        try:
            if text_data is None:
                raise ChatError(ErrorCode.INVALID_JSON, "Frames must be JSON text, not binary.")
            if len(text_data.encode()) > settings.CHAT_FRAME_MAX_BYTES:
                raise ChatError(
                    ErrorCode.FRAME_TOO_LARGE, f"A frame can be at most {settings.CHAT_FRAME_MAX_BYTES} bytes."
                )
            try:
                parsed = json.loads(text_data)
            except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
                raise ChatError(ErrorCode.INVALID_JSON) from None
            if not isinstance(parsed, dict):
                raise ChatError(ErrorCode.INVALID_JSON)
            frame = parsed
            bind_conversation(frame.get("conversation_id"))
            logger.debug("Frame %s", frame.get("type"))
            # Limited after parsing, so the refusal names the frame's client_id to resend.
            retry_after = self.bucket.take()
            if retry_after:
                # Never 0: a client told to retry at once would just be refused again.
                raise ChatError(ErrorCode.RATE_LIMITED, retry_after=max(round(retry_after, 2), 0.01))
            # Only an escape can carry them: raw control characters are not JSON, text frames are UTF-8.
            if "\\u" in text_data and has_unstorable_text(frame):
                raise ChatError(ErrorCode.INVALID_FIELD, "Text may not contain NUL characters or unpaired surrogates.")
            frame_type = frame.get("type")
            if not isinstance(frame_type, str):  # a list or object here is not even hashable
                raise ChatError(ErrorCode.UNKNOWN_TYPE, "'type' must be a string naming a frame type.")
            handler = self.handlers().get(frame_type)
            if handler is None:
                raise ChatError(ErrorCode.UNKNOWN_TYPE, f"Unknown frame type {frame_type!r}.")
            # The events a handler's services commit go out after it returns, so its
            # answer (e.g. the ack) comes first and the database thread never waits on Redis.
            handled = True
            async with events_after():
                await handler(frame)
        except ChatError as error:
            await self.send_error(error, frame)
            if not handled:
                await self.count_refusal()
        except SocketGone:
            raise  # nobody to answer: handle_frames notes it and runs the socket's next frame
        except Exception:
            # A fault of ours must not close the socket: the client keeps the frame
            # pending and resends it, and the rest of the chat goes on.
            logger.exception("Socket frame %r failed", frame.get("type"))
            await self.send_error(ChatError(ErrorCode.INTERNAL_ERROR), frame)

    async def count_refusal(self) -> None:
        """Close the socket once it has sent more refused frames than it may in a row."""
        if not self.refusals.take():
            return
        # A flood, or a client that ignores retry_after. Daphne reads a socket without limit
        # and pings only a quiet one, so the answers to a client that never reads them would
        # pile up in this process's memory.
        logger.warning("Closing a socket that kept sending refused frames")
        self.flooded = True
        self.frames.clear()
        await self.close(code=FLOODED_CODE)

    async def chat_close(self, event: dict[str, Any]) -> None:
        """A service asked for this socket to be closed (chat.realtime.close_on_commit)."""
        await self.close(code=event["code"])

    async def chat_event(self, event: dict[str, Any]) -> None:
        """A protocol frame a service addressed to this socket's groups (chat.realtime)."""
        if event.get(SKIP_CHANNEL) == self.channel_name:
            return  # this socket's ack carried it (send_ack)
        try:
            await self.send_json(event["payload"])
        except SocketGone:
            # The socket closed while the event was on its way. Nothing is lost: the
            # client syncs from its last seq on reconnect.
            logger.debug("Dropped an event for a closed socket", exc_info=True)
