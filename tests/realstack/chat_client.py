"""A whole client of the socket protocol (docs/protocol.md) for the chaos tests.

`ChatClient` follows every rule of the protocol on its own, the way the widget and the
console do: it keeps each message pending until acked, reconnects (to the next node when
one is gone), resends what is pending with the same `client_id`, and fetches with `sync`
whenever a `prev_seq` shows a gap. The tests drive it, then compare what it showed with
what PostgreSQL stored.
"""

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from .clients import RECV_TIMEOUT, Frame, connect_to

# --- A whole client that follows the protocol -------------------------------------------------

# Refusals after which the same frame may succeed later: the client resends with the same id.
RETRYABLE = {"internal_error", "rate_limited"}
RECONNECT_PAUSE = 0.3
# A sent message with neither ack nor error for this long is sent again (same client_id).
UNANSWERED_RESEND = 8.0


@dataclass
class ChatClient:
    """One visitor tab or agent console on one conversation, reconnecting across `urls`.

    `shown` is what a person would see: each stored message once, in `seq` order. The
    counters tell how it got there (live events, `sync`, reconnects), so a test can
    prove its fault really happened.
    """

    label: str
    urls: list[str]
    origin: str
    conversation_id: int
    token: str | None = None  # a visitor's hello token; None for an agent (its cookie identifies it)
    cookie: str | None = None
    last_seq: int = 0
    shown: list[Frame] = field(default_factory=list)
    pending: dict[str, str] = field(default_factory=dict)  # client_id -> body, until acked
    acked: dict[str, int] = field(default_factory=dict)  # client_id -> seq of the ack
    ack_conflicts: list[str] = field(default_factory=list)  # an id acked with two different seqs
    errors: list[Frame] = field(default_factory=list)  # every error frame, shown to the person
    refused: dict[str, str] = field(default_factory=dict)  # client_id -> final error code
    errors_after_ack: list[Frame] = field(default_factory=list)  # "failed" for a message already stored
    live_shown: int = 0  # messages shown from message.new in order
    synced_shown: int = 0  # messages shown from sync.result
    gaps: int = 0  # message.new frames whose prev_seq showed a lost event
    duplicates: int = 0  # events for seqs already shown (dropped by the seq dedupe)
    live_seqs: set[int] = field(default_factory=set)  # every seq that came as message.new
    connections: int = 0
    resent_on_reconnect: int = 0  # pending messages sent again by a later connection
    failed_connects: int = 0
    closes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ws: ClientConnection | None = None
        self._url_index = 0
        self._syncing = False
        self._resync = False
        self._sent_at: dict[str, float] = {}
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._timers: set[asyncio.Task[None]] = set()

    # The test's side ----------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.label)

    async def stop(self) -> None:
        self._stopping = True
        for timer in list(self._timers):
            timer.cancel()
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def post(self, body: str) -> str:
        """Write a message: pending at once, sent now if connected, else after reconnecting."""
        client_id = str(uuid.uuid4())
        self.pending[client_id] = body
        await self._send_message(client_id)
        return client_id

    @property
    def connected(self) -> bool:
        return self._ws is not None

    @property
    def shown_seqs(self) -> list[int]:
        return [message["seq"] for message in self.shown]

    def describe(self) -> str:
        return (
            f"{self.label}: last_seq {self.last_seq}, shown {len(self.shown)} (live {self.live_shown}, "
            f"sync {self.synced_shown}), gaps {self.gaps}, duplicates {self.duplicates}, pending {len(self.pending)}, "
            f"connections {self.connections}, resent {self.resent_on_reconnect}, "
            f"failed connects {self.failed_connects}, closes {self.closes[-5:]}, "
            f"errors {[e.get('code') for e in self.errors][-10:]}"
        )

    # The connection loop ------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            url = self.urls[self._url_index % len(self.urls)]
            try:
                async with connect_to(url, origin=self.origin, cookie=self.cookie) as ws:
                    await self._session(ws)
                self.closes.append(f"{url}: closed {ws.close_code}")
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                # Refused or failed before it opened: this node may be gone; try the next one.
                self.failed_connects += 1
                self.closes.append(f"{url}: {type(exc).__name__}")
                self._url_index += 1
            except ConnectionClosed as closed:
                self.closes.append(f"{url}: {closed.rcvd}")
            finally:
                self._ws = None
                self._syncing = self._resync = False
            if not self._stopping:
                await asyncio.sleep(RECONNECT_PAUSE)

    async def _session(self, ws: ClientConnection) -> None:
        if self.cookie is None:
            await ws.send(json.dumps({"type": "hello", "token": self.token}))
        # Nothing is sent before the welcome: a visitor's frames need hello first.
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT))
            if frame.get("type") == "welcome":
                break
            if frame.get("type") == "error" and frame.get("ref") == "hello":
                # hello failed (the server could not reach a service): this socket is of no use.
                self.errors.append(frame)
                await ws.close()
                return
        self._ws = ws
        self.connections += 1
        self._sent_at.clear()
        await self._request_sync()  # whatever happened while away
        for client_id in list(self.pending):
            self.resent_on_reconnect += self.connections > 1
            await self._send_message(client_id)
        watchdog = asyncio.create_task(self._resend_unanswered())
        try:
            async for raw in ws:
                await self._handle(json.loads(raw))
        finally:
            watchdog.cancel()

    async def _send(self, frame: Frame) -> bool:
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(json.dumps(frame))
        except ConnectionClosed:
            return False  # the reconnect resends
        return True

    async def _send_message(self, client_id: str) -> None:
        body = self.pending.get(client_id)
        if body is None:
            return
        frame = {"type": "message.send", "conversation_id": self.conversation_id, "client_id": client_id, "body": body}
        if await self._send(frame):
            self._sent_at[client_id] = asyncio.get_running_loop().time()

    async def _request_sync(self) -> None:
        if self._syncing:
            self._resync = True
            return
        self._syncing = True
        if not await self._send({"type": "sync", "conversation_id": self.conversation_id, "after_seq": self.last_seq}):
            self._syncing = False

    def _later(self, seconds: float, action: Callable[[], Any]) -> None:
        async def run() -> None:
            await asyncio.sleep(seconds)
            await action()

        timer = asyncio.create_task(run())
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)

    async def _resend_unanswered(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(1.0)
            for client_id in list(self.pending):
                sent = self._sent_at.get(client_id)
                if sent is not None and loop.time() - sent > UNANSWERED_RESEND:
                    await self._send_message(client_id)

    # Frames from the server -------------------------------------------------------------------

    def _show(self, message: Frame) -> None:
        self.shown.append(message)
        self.last_seq = message["seq"]

    async def _handle(self, frame: Frame) -> None:
        kind = frame.get("type")
        if kind == "message.new":
            message = frame["message"]
            if message["conversation_id"] != self.conversation_id:
                return
            self.live_seqs.add(message["seq"])
            if message["seq"] <= self.last_seq:
                self.duplicates += 1
            elif message.get("prev_seq", message["seq"] - 1) <= self.last_seq:
                self._show(message)
                self.live_shown += 1
            else:
                self.gaps += 1
                await self._request_sync()
        elif kind == "sync.result":
            if frame["conversation"]["id"] != self.conversation_id:
                return
            self._syncing = False
            for message in frame["messages"]:
                if message["seq"] > self.last_seq:
                    self._show(message)
                    self.synced_shown += 1
            if frame["has_more"] or self._resync:
                self._resync = False
                await self._request_sync()
        elif kind == "message.ack":
            client_id = frame["client_id"]
            if client_id in self.acked and self.acked[client_id] != frame["seq"]:
                self.ack_conflicts.append(client_id)
            self.acked.setdefault(client_id, frame["seq"])
            self.pending.pop(client_id, None)
            self._sent_at.pop(client_id, None)
            if "message" in frame:  # in place of the message.new this socket would get (docs/protocol.md)
                await self._handle({"type": "message.new", "message": frame["message"]})
        elif kind == "error":
            await self._on_error(frame)

    async def _on_error(self, frame: Frame) -> None:
        self.errors.append(frame)
        ref, code = frame.get("ref"), frame.get("code")
        if ref in self.acked:
            self.errors_after_ack.append(frame)
        delay = max(0.2, float(frame.get("retry_after") or 0.5))
        if ref == "sync":
            self._syncing = False
            self._later(delay, self._request_sync)
        elif ref in self.pending:
            self._sent_at.pop(ref, None)
            if code in RETRYABLE:
                self._later(delay, lambda: self._send_message(ref))
            else:
                self.refused[ref] = str(code)
                self.pending.pop(ref)
