"""The load generator's sockets: a visitor or agent each, on the real protocol, counting what they send and get."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .system import FILLER, MAX_ATTEMPTS, OPEN_TIMEOUT

# The clients' wait for a message in flight before they sync a hole (console transcript.js, widget chat.js).
IN_FLIGHT_SECONDS = 1.5


@dataclass
class Sent:
    """One message a client sent, and what became of it."""

    client_id: str
    conv: int
    side: str  # "visitor" or "agent"
    body: str
    t_send: float
    server: str  # host:port of the server the sender's socket is on
    attempts: int = 1
    t_ack: float | None = None
    seq: int | None = None
    error: str | None = None
    t_other: float | None = None  # first receipt on the other side
    via_other: str | None = None  # "live" (message.new) or "sync" (sync.result)
    window: asyncio.Semaphore | None = None  # --saturate: the sender's slot this message holds


@dataclass
class View:
    """What one socket has of one conversation."""

    seen: set[int] = field(default_factory=set)
    contig: int = 0  # every seq up to here was received
    pending: int = 0  # own messages sent and not acked (or refused) yet
    syncing: bool = False
    resync: bool = False


class Load:
    """All sockets of one run and every counter the report needs."""

    def __init__(self, *, variant: str, tag: str, saturate: bool, window: int, window_until: str) -> None:
        self.variant = variant
        self.tag = tag
        self.saturate = saturate
        self.window = window
        self.window_until = window_until  # "ack" or "delivery": what frees a --saturate slot
        self.sent: dict[str, Sent] = {}
        self.count: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.closes: Counter[str] = Counter()
        self.handshakes: list[float] = []
        self.lag: list[float] = []
        self.sockets: list[Sock] = []
        self.closing = False
        self.sequence = 0
        self.tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def new_client_id(self, side: str, conv: int) -> str:
        self.sequence += 1
        return f"{self.tag}{side[0]}{conv}.{self.sequence}"


def free_window_if_landed(record: Sent, window_until: str) -> None:
    """Give back the --saturate slot `record` holds, once it is refused for good, or acked
    and (with --window-until delivery) received by the other side."""
    landed = record.t_ack is not None and (window_until == "ack" or record.t_other is not None)
    if record.window is not None and (record.error or landed):
        record.window.release()
        record.window = None


class Sock:
    """One client WebSocket: a visitor's, an agent's (carrying `convs`), or a baseline room side."""

    def __init__(
        self,
        load: Load,
        *,
        side: str,
        url: str,
        origin: str,
        convs: list[int],
        cookie: str | None = None,
        token: str | None = None,
    ) -> None:
        self.load = load
        self.side = side
        self.url = url
        self.origin = origin
        self.cookie = cookie
        self.token = token
        self.convs = convs
        self.views = {conv: View() for conv in convs}
        self.windows = {conv: asyncio.Semaphore(load.window) for conv in convs} if load.saturate else {}
        self.ws: ClientConnection | None = None
        self.failed: str | None = None
        self.heartbeat = 0
        self.welcomed_at = 0.0

    # -- opening -------------------------------------------------------------------------------

    async def open(self, compression: bool) -> None:
        headers = [("Cookie", f"sessionid={self.cookie}")] if self.cookie else None
        started = time.monotonic()
        self.ws = await connect(
            self.url,
            origin=self.origin,  # type: ignore[arg-type]
            additional_headers=headers,
            open_timeout=OPEN_TIMEOUT,
            close_timeout=2,
            ping_interval=None,  # the servers ping; a browser does not ping either
            compression="deflate" if compression else None,
            max_size=2**23,
            proxy=None,
        )
        if self.load.variant == "chat" and self.side == "visitor":
            await self.ws.send(json.dumps({"type": "hello", "token": self.token}))
        welcome = json.loads(await asyncio.wait_for(self.ws.recv(), OPEN_TIMEOUT))
        if welcome.get("type") != "welcome":
            raise RuntimeError(f"expected welcome, got {str(welcome)[:200]}")
        self.load.handshakes.append(time.monotonic() - started)
        if self.load.variant == "chat":
            if self.side == "visitor":
                conversation = welcome.get("conversation") or {}
                if conversation.get("id") != self.convs[0]:
                    self.load.count["welcome_mismatch"] += 1
            else:
                chats = {chat["id"] for chat in welcome.get("chats", [])}
                self.load.count["welcome_mismatch"] += len(set(self.convs) - chats)
                self.heartbeat = int(welcome.get("heartbeat_seconds") or 0)
                self.welcomed_at = time.monotonic()
        self.load.spawn(self.reader())

    # -- sending -------------------------------------------------------------------------------

    async def send_frame(self, frame: dict[str, Any]) -> bool:
        if self.ws is None:
            return False
        try:
            await self.ws.send(json.dumps(frame))
        except ConnectionClosed:
            self.load.count["send_on_closed_socket"] += 1
            return False
        return True

    async def send_message(self, conv: int) -> None:
        client_id = self.load.new_client_id(self.side, conv)
        body = f"Bench {client_id} at {time.time():.6f}. {FILLER}"[:100]
        record = Sent(client_id, conv, self.side, body, time.monotonic(), urlparse(self.url).netloc)
        record.window = self.windows.get(conv)
        self.load.sent[client_id] = record
        self.views[conv].pending += 1
        await self.send_record(record)

    async def send_record(self, record: Sent) -> None:
        frame = {"type": "message.send", "conversation_id": record.conv, "client_id": record.client_id}
        frame["body"] = record.body
        if not await self.send_frame(frame):
            record.error = "socket_closed"
            self.settle(record)

    async def resend_later(self, record: Sent, delay: float) -> None:
        await asyncio.sleep(delay)
        record.attempts += 1
        self.load.count["resends"] += 1
        await self.send_record(record)

    def settle(self, record: Sent) -> None:
        """One of this socket's messages is acked or refused for good."""
        self.views[record.conv].pending -= 1
        free_window_if_landed(record, self.load.window_until)

    def request_sync(self, conv: int) -> None:
        view = self.views[conv]
        if view.syncing:
            view.resync = True
            return
        view.syncing = True
        view.resync = False
        self.load.count["sync_requests"] += 1
        self.load.spawn(self.send_frame({"type": "sync", "conversation_id": conv, "after_seq": view.contig}))

    async def sync_later(self, conv: int, delay: float) -> None:
        await asyncio.sleep(delay)
        view = self.views[conv]
        self.load.count["sync_resends"] += 1
        await self.send_frame({"type": "sync", "conversation_id": conv, "after_seq": view.contig})

    async def pinger(self, until: float) -> None:
        """The console's heartbeat (agent sockets only). A console pings every `heartbeat`
        seconds from its own welcome, so consoles' pings are spread: started together,
        every agent would ping in the same instant, and a burst of hundreds of pings would
        queue the messages sent then behind them on the database thread."""
        if not self.heartbeat:
            return
        # The first of its pings still to come: the window starts after every socket opened.
        next_ping = self.welcomed_at + self.heartbeat
        while next_ping < time.monotonic():
            next_ping += self.heartbeat
        while next_ping < until:
            await asyncio.sleep(next_ping - time.monotonic())
            self.load.count["pings"] += 1
            await self.send_frame({"type": "ping"})
            next_ping += self.heartbeat

    # -- receiving -----------------------------------------------------------------------------

    async def reader(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                self.on_frame(json.loads(raw), time.monotonic())
        except ConnectionClosed:
            pass
        finally:
            if not self.load.closing:
                rcvd = self.ws.close_code
                self.load.closes[f"{self.side} closed by server (code {rcvd})"] += 1

    def on_frame(self, frame: dict[str, Any], now: float) -> None:
        load = self.load
        kind = frame.get("type")
        load.count[f"frames_in:{kind}"] += 1
        if kind == "message.new":
            message = frame["message"]
            if self.record_message(message, now, "live") and load.variant == "chat":
                self.check_gap(message)
        elif kind == "message.ack":
            record = load.sent.get(frame.get("client_id", ""))
            if record is None:
                load.count["ack_unknown"] += 1
            elif record.t_ack is None:
                record.t_ack = now
                record.seq = frame.get("seq")
                self.hold_own(record.conv, record.seq)
                self.settle(record)
            else:
                load.count["ack_repeated"] += 1
        elif kind == "sync.result":
            self.on_sync_result(frame, now)
        elif kind == "error":
            self.on_error(frame)

    def record_message(self, message: dict[str, Any], now: float, via: str) -> bool:
        """Keep a received message; False for one this socket already had (or not its chat)."""
        view = self.views.get(message.get("conversation_id", -1))
        if view is None:
            self.load.count["message_for_unknown_conversation"] += 1
            return False
        seq = message["seq"]
        if seq in view.seen:
            self.load.count[f"duplicate_{via}"] += 1
            return False
        view.seen.add(seq)
        while view.contig + 1 in view.seen:
            view.contig += 1
        record = self.load.sent.get(message.get("client_id") or "")
        if record is None:
            self.load.count["other_messages"] += 1  # system messages
        elif record.side != self.side:
            if record.t_other is None:
                record.t_other = now
                record.via_other = via
                free_window_if_landed(record, self.load.window_until)
        else:
            self.load.count[f"own_echo_{via}"] += 1
        return True

    def hold_own(self, conv: int, seq: int | None) -> None:
        """The widget and the console show an acked message at its seq at once, so it
        counts as held: its echo is then a duplicate, and the other side's next message
        (prev_seq = this seq) is no gap. The console also syncs when the ack leaves a hole
        that stays open (static/agents/console/transcript.js)."""
        view = self.views.get(conv)
        if view is None or seq is None or seq in view.seen:
            return
        view.seen.add(seq)
        while view.contig + 1 in view.seen:
            view.contig += 1
        if self.side == "agent" and self.load.variant == "chat" and view.contig < max(view.seen):
            self.load.spawn(self.sync_if_still_missing(conv))

    async def sync_if_still_missing(self, conv: int) -> None:
        """As the console and the widget: the missing message is usually in flight (the other
        side's event, or this visitor's own ack); sync if it has not come within IN_FLIGHT_SECONDS."""
        await asyncio.sleep(IN_FLIGHT_SECONDS)
        view = self.views[conv]
        if view.contig < max(view.seen):
            self.load.count["gaps_detected"] += 1
            self.request_sync(conv)

    def check_gap(self, message: dict[str, Any]) -> None:
        """docs/protocol.md: a visitor syncs when prev_seq is above what it has, an agent on a seq gap."""
        conv = message["conversation_id"]
        view = self.views[conv]
        before = message.get("prev_seq", 0) if self.side == "visitor" else message["seq"] - 1
        if before <= view.contig:
            return
        if view.pending:
            # As the widget and the console: the missing message may be our own, not acked yet.
            self.load.spawn(self.sync_if_still_missing(conv))
            return
        self.load.count["gaps_detected"] += 1
        self.request_sync(conv)

    def on_sync_result(self, frame: dict[str, Any], now: float) -> None:
        conv = frame["conversation"]["id"]
        view = self.views.get(conv)
        if view is None:
            return
        last = view.contig
        for message in frame["messages"]:
            self.record_message(message, now, "sync")
            last = max(last, message["seq"])
        if frame.get("has_more"):
            self.load.spawn(self.send_frame({"type": "sync", "conversation_id": conv, "after_seq": last}))
            return
        view.syncing = False
        if view.resync and view.contig < max(view.seen, default=0):
            self.request_sync(conv)

    def on_error(self, frame: dict[str, Any]) -> None:
        load = self.load
        code = frame.get("code", "?")
        ref = frame.get("ref")
        load.errors[code] += 1
        retry = float(frame.get("retry_after") or 0.5)
        record = load.sent.get(ref or "")
        if record is not None:
            if code in ("rate_limited", "internal_error") and record.attempts < MAX_ATTEMPTS and not load.closing:
                load.spawn(self.resend_later(record, retry))
            else:
                record.error = code
                self.settle(record)
        elif ref == "sync" and frame.get("conversation_id") in self.views:
            conv = frame["conversation_id"]
            if code in ("rate_limited", "internal_error"):
                load.spawn(self.sync_later(conv, retry))
            else:
                self.views[conv].syncing = False


# --- One run -----------------------------------------------------------------------------------
