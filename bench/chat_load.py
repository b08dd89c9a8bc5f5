#!/usr/bin/env python
"""Load benchmark of the full chat path on the real stack (Daphne + Redis layer + PostgreSQL).

Run by hand (never by the test suite); see bench/README.md. One invocation seeds a bench
database, starts server processes, opens one visitor socket per conversation and the agents'
sockets, drives `message.send` both ways at a fixed rate (or as fast as acks allow with
`--saturate`), then runs the same load against a bare Channels relay (bench/baseline_app.py)
and prints both, with the targets of the issue.

    .venv/bin/python bench/chat_load.py --conversations 50 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import re
import resource
import secrets
import shlex
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from websockets.asyncio.client import ClientConnection, connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

VENV_BIN = Path(sys.executable).parent
BENCH_ORIGIN = "http://bench.local"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
HANDSHAKE_CONCURRENCY = 200
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
OPEN_TIMEOUT = 60.0
SETTLE_SECONDS = 2.0
MAX_ATTEMPTS = 10  # a message refused with rate_limited / internal_error is resent at most this often
TARGETS = (
    "2,000 concurrent conversations (4,000 sockets) at one message per 10 s per side with p99 delivery "
    "under 100 ms, nothing lost, under 50 KB server memory per socket; saturation throughput of the "
    "full chat path at least 60 % of the bare baseline's"
)
FILLER = "Could you please check the delivery date of my order and tell me when it will arrive here?"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- Small helpers ------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile, None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def rss_kb(pid: int) -> int:
    """VmRSS of a process in KB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pids_named(name: str) -> list[int]:
    """Every process whose comm is `name` (read only: for CPU accounting of redis-server and postgres)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
    return found


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


def version_of(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


# --- Database: create, migrate, seed -------------------------------------------------------------


def database_name(url: str) -> str:
    return urlparse(url).path.lstrip("/")


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = database_name(url)
    admin_url = urlunparse(urlparse(url)._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def migrate(env: dict[str, str]) -> None:
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    print(f"migrated in {time.monotonic() - started:.1f} s")


def setup_django() -> None:
    import django

    django.setup()


@dataclass
class Seeded:
    conversation_ids: list[int]
    tokens: list[str]  # visitor tokens, same order as conversation_ids
    agent_of: list[int]  # index of the agent owning each conversation
    session_keys: list[str]  # one per agent
    site_key: str
    seconds: float


def seed(conversations: int, chats_per_agent: int) -> Seeded:
    """Replace the bench data with `conversations` active chats, each claimed by an agent."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.db import connection, transaction
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from agents.models import Agent, Team
    from bench.baseline_app import TABLE, TABLE_SQL
    from chat.models import Conversation, Site, Topic, Visitor
    from chat.services import token_hash

    started = time.monotonic()
    user_model = get_user_model()
    now = timezone.now()
    with connection.cursor() as cursor:
        # Only the bench database (checked in main); CASCADE also empties tables pointing at these.
        cursor.execute(
            "TRUNCATE chat_message, chat_conversation, chat_visitor, django_session RESTART IDENTITY CASCADE"
        )
        cursor.execute(TABLE_SQL)
        cursor.execute(f"TRUNCATE {TABLE} RESTART IDENTITY")
    with transaction.atomic():
        Site.objects.all().delete()
        Team.objects.all().delete()
        user_model.objects.filter(username__startswith="bench-").delete()
        site = Site.objects.create(name="Bench shop", allowed_origins=BENCH_ORIGIN)
        topic = Topic.objects.create(site=site, slug="orders", name="Orders")
        team = Team.objects.create(name="Bench team", is_default=True)
        team.topics.add(topic)

        agent_count = math.ceil(conversations / chats_per_agent)
        password = make_password(None)  # unusable: the agents log in through the sessions below
        users = user_model.objects.bulk_create(
            [
                user_model(username=f"bench-agent-{i}", password=password, first_name="Bench", last_name=f"Agent {i}")
                for i in range(agent_count)
            ]
        )
        agents = Agent.objects.bulk_create(
            [
                Agent(
                    user=user,
                    display_name=f"Bench Agent {i}",
                    max_chats=1000,
                    status=Agent.Status.ONLINE,
                    last_seen_at=now,
                )
                for i, user in enumerate(users)
            ]
        )
        Agent.teams.through.objects.bulk_create(
            [Agent.teams.through(agent_id=agent.pk, team_id=team.pk) for agent in agents]
        )
        tokens = [secrets.token_urlsafe(32) for _ in range(conversations)]
        visitors = Visitor.objects.bulk_create([Visitor(site=site, token_hash=token_hash(t)) for t in tokens])
        agent_of = [i // chats_per_agent for i in range(conversations)]
        created = Conversation.objects.bulk_create(
            [
                Conversation(
                    site=site,
                    visitor=visitor,
                    topic=topic,
                    status=Conversation.Status.ACTIVE,
                    assigned_agent=users[agent_of[i]],
                    claimed_at=now,
                )
                for i, visitor in enumerate(visitors)
            ]
        )
        store = SessionStore()
        session_keys = [get_random_string(32, string.ascii_lowercase + string.digits) for _ in users]
        Session.objects.bulk_create(
            [
                Session(
                    session_key=key,
                    session_data=store.encode(
                        {
                            SESSION_KEY: str(user.pk),
                            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                            HASH_SESSION_KEY: user.get_session_auth_hash(),
                        }
                    ),
                    expire_date=now + timezone.timedelta(days=1),
                )
                for key, user in zip(session_keys, users, strict=True)
            ]
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return Seeded(
        conversation_ids=[c.pk for c in created],
        tokens=tokens,
        agent_of=agent_of,
        session_keys=session_keys,
        site_key=site.key,
        seconds=time.monotonic() - started,
    )


def stored_rows(variant: str, tag: str) -> list[tuple[str, str, Any]]:
    """(client_id, sender, created_at) of every row this run stored."""
    from django.db import connection

    from bench.baseline_app import TABLE

    table = "chat_message" if variant == "chat" else TABLE
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT client_id, sender, created_at FROM {table} WHERE client_id LIKE %s", [tag + "%"])
        return list(cursor.fetchall())


# --- Server processes ---------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    url: str  # ws://127.0.0.1:PORT
    pid: int | None = None
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def origin(self) -> str:
        return self.url.replace("ws://", "http://").replace("wss://", "https://")


def start_servers(asgi: str, app: str, count: int, env: dict[str, str], log_dir: Path, label: str) -> list[Server]:
    servers: list[Server] = []
    for index in range(count):
        port = free_port()
        if asgi == "daphne":
            # Daphne drops a socket whose application has not accepted within 5 s; on a
            # loaded box 200 handshakes at a time take longer, and the handshake times are
            # reported anyway: give them a minute so the message path is what gets measured.
            cmd = [
                str(VENV_BIN / "daphne"),
                "--websocket_connect_timeout",
                "60",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                app,
            ]
        else:
            cmd = [
                str(VENV_BIN / "uvicorn"),
                app,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--lifespan",
                "off",
                "--no-access-log",
            ]
        log_path = log_dir / f"{label}-{asgi}-{index}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                cmd,
                cwd=PROJECT_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed as a group on exit
            )
        servers.append(Server(f"{label}{index}", f"ws://127.0.0.1:{port}", process.pid, process, log_path))
    deadline = time.monotonic() + START_TIMEOUT
    try:
        for server in servers:
            port = int(server.url.rsplit(":", 1)[1])
            while not accepts(port):
                assert server.process is not None
                if server.process.poll() is not None:
                    raise RuntimeError(f"{server.name} exited before listening:\n{read_log(server)}")
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{server.name} did not listen within {START_TIMEOUT:.0f} s:\n{read_log(server)}"
                    )
                time.sleep(0.1)
    except BaseException:
        stop_servers(servers)
        raise
    return servers


def stop_servers(servers: Iterable[Server]) -> None:
    for server in servers:
        process = server.process
        if process is None or process.poll() is not None:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)


def read_log(server: Server) -> str:
    if server.log_path is None or not server.log_path.exists():
        return ""
    return server.log_path.read_text(errors="replace")


PROBLEM = re.compile(r"Traceback|ERROR|CRITICAL|[Ee]xception|WARNING|over capacity|full|took too long", re.MULTILINE)


def log_problems(servers: list[Server]) -> tuple[int, list[str]]:
    """Lines of the server logs that look like trouble, and the first few of them."""
    lines = []
    for server in servers:
        for line in read_log(server).splitlines():
            if PROBLEM.search(line) and "No directory at" not in line:
                lines.append(f"{server.name}: {line.strip()[:240]}")
    return len(lines), lines[:12]


def delete_redis_keys(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


# --- The load: sockets, frames, bookkeeping -------------------------------------------------------


@dataclass
class Sent:
    """One message a client sent, and what became of it."""

    client_id: str
    conv: int
    side: str  # "visitor" or "agent"
    body: str
    t_send: float
    attempts: int = 1
    t_ack: float | None = None
    seq: int | None = None
    error: str | None = None
    t_other: float | None = None  # first receipt on the other side
    via_other: str | None = None  # "live" (message.new) or "sync" (sync.result)


@dataclass
class View:
    """What one socket has of one conversation."""

    seen: set[int] = field(default_factory=set)
    contig: int = 0  # every seq up to here was received
    syncing: bool = False
    resync: bool = False


class Load:
    """All sockets of one run and every counter the report needs."""

    def __init__(self, *, variant: str, tag: str, saturate: bool, window: int) -> None:
        self.variant = variant
        self.tag = tag
        self.saturate = saturate
        self.window = window
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
        record = Sent(client_id, conv, self.side, body, time.monotonic())
        self.load.sent[client_id] = record
        await self.send_record(record)

    async def send_record(self, record: Sent) -> None:
        frame = {"type": "message.send", "conversation_id": record.conv, "client_id": record.client_id}
        frame["body"] = record.body
        if not await self.send_frame(frame):
            record.error = "socket_closed"
            self.release(record.conv)

    async def resend_later(self, record: Sent, delay: float) -> None:
        await asyncio.sleep(delay)
        record.attempts += 1
        self.load.count["resends"] += 1
        await self.send_record(record)

    def release(self, conv: int) -> None:
        window = self.windows.get(conv)
        if window is not None:
            window.release()

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
        """The console's heartbeat (agent sockets only)."""
        while self.heartbeat and time.monotonic() + self.heartbeat < until:
            await asyncio.sleep(self.heartbeat)
            self.load.count["pings"] += 1
            await self.send_frame({"type": "ping"})

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
                self.release(record.conv)
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
        else:
            self.load.count[f"own_echo_{via}"] += 1
        return True

    def check_gap(self, message: dict[str, Any]) -> None:
        """docs/protocol.md: a visitor syncs when prev_seq is above what it has, an agent on a seq gap."""
        conv = message["conversation_id"]
        view = self.views[conv]
        before = message.get("prev_seq", 0) if self.side == "visitor" else message["seq"] - 1
        if before > view.contig:
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
                self.release(record.conv)
        elif ref == "sync" and frame.get("conversation_id") in self.views:
            conv = frame["conversation_id"]
            if code in ("rate_limited", "internal_error"):
                load.spawn(self.sync_later(conv, retry))
            else:
                self.views[conv].syncing = False


# --- One run -----------------------------------------------------------------------------------


@dataclass
class Probe:
    """CPU of every process involved, at one instant."""

    t: float
    servers: list[float]
    generator: float
    redis: float
    postgres: float
    machine: tuple[int, int]


def probe(servers: list[Server]) -> Probe:
    return Probe(
        t=time.monotonic(),
        servers=[cpu_seconds(s.pid) if s.pid else 0.0 for s in servers],
        generator=self_cpu(),
        redis=sum(cpu_seconds(pid) for pid in pids_named("redis-server")),
        postgres=sum(cpu_seconds(pid) for pid in pids_named("postgres")),
        machine=machine_busy(),
    )


def server_rss(servers: list[Server]) -> int | None:
    if not all(s.pid for s in servers):
        return None
    return sum(rss_kb(s.pid) for s in servers if s.pid)


def build_sockets(load: Load, args: argparse.Namespace, seeded: Seeded, servers: list[Server]) -> list[Sock]:
    """Visitor sockets round-robin over the servers; agent sockets too (one per agent, or one per chat)."""
    k = len(servers)
    socks: list[Sock] = []
    convs = seeded.conversation_ids
    if load.variant == "baseline":
        for i, conv in enumerate(convs):
            for side, server in (("visitor", servers[i % k]), ("agent", servers[seeded.agent_of[i] % k])):
                url = f"{server.url}/ws/room/{conv}/{side}/"
                socks.append(Sock(load, side=side, url=url, origin=BENCH_ORIGIN, convs=[conv]))
        return socks
    by_agent: dict[int, list[int]] = {}
    for i, conv in enumerate(convs):
        by_agent.setdefault(seeded.agent_of[i], []).append(conv)
    for agent, agent_convs in by_agent.items():
        server = servers[agent % k]
        cookie = seeded.session_keys[agent]
        groups = [[c] for c in agent_convs] if args.socket_per_chat else [agent_convs]
        for group in groups:
            socks.append(
                Sock(
                    load, side="agent", url=f"{server.url}/ws/agent/", origin=server.origin, convs=group, cookie=cookie
                )
            )
    for i, conv in enumerate(convs):
        server = servers[i % k]
        url = f"{server.url}/ws/visitor/{seeded.site_key}/"
        socks.append(Sock(load, side="visitor", url=url, origin=BENCH_ORIGIN, convs=[conv], token=seeded.tokens[i]))
    return socks


async def open_all(socks: list[Sock], compression: bool) -> float:
    limit = asyncio.Semaphore(HANDSHAKE_CONCURRENCY)

    async def one(sock: Sock) -> None:
        async with limit:
            try:
                await sock.open(compression)
            except Exception as error:  # reported; the rest of the run goes on
                sock.failed = f"{type(error).__name__}: {error}"[:200]
                sock.load.errors[f"connect: {type(error).__name__}"] += 1
                if sock.ws is not None:
                    await sock.ws.close()

    started = time.monotonic()
    await asyncio.gather(*(one(sock) for sock in socks))
    return time.monotonic() - started


async def close_all(socks: list[Sock]) -> None:
    limit = asyncio.Semaphore(500)

    async def one(sock: Sock) -> None:
        if sock.ws is None:
            return
        async with limit:
            with contextlib.suppress(Exception):
                await sock.ws.close()

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(one(s) for s in socks)), 30)


async def rate_sender(sock: Sock, conv: int, start: float, end: float, period: float, load: Load) -> None:
    t = start + random.random() * period
    while t < end:
        delay = t - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        load.lag.append(time.monotonic() - t)
        await sock.send_message(conv)
        t += period


async def saturate_sender(sock: Sock, conv: int, end: float) -> None:
    window = sock.windows[conv]
    while True:
        remaining = end - time.monotonic()
        if remaining <= 0:
            return
        try:
            await asyncio.wait_for(window.acquire(), remaining)
        except TimeoutError:
            return
        if time.monotonic() >= end:
            window.release()
            return
        await sock.send_message(conv)


async def wait_until(predicate: Any, timeout: float) -> float:
    started = time.monotonic()
    while not predicate() and time.monotonic() - started < timeout:
        await asyncio.sleep(0.2)
    return time.monotonic() - started


def start_profiler(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes] | None:
    py_spy = VENV_BIN / "py-spy"
    if not py_spy.exists():
        print("py-spy is not installed in the venv: no profile")
        return None
    cmd = [str(py_spy), "record", "--pid", str(pid), "-d", str(seconds), "-r", "100", "--nonblocking"]
    cmd += ["--threads", "--format", "raw", "-o", str(out)]
    log = out.with_suffix(".log").open("wb")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


async def drive(load: Load, args: argparse.Namespace, seeded: Seeded, servers: list[Server]) -> dict[str, Any]:
    """Open every socket, send for `args.duration` seconds, recover, close; returns the client-side figures."""
    out: dict[str, Any] = {}
    socks = build_sockets(load, args, seeded, servers)
    load.sockets = socks

    # Warm-up: one socket per server first, so the per-socket memory excludes first-use imports.
    warm = [s for s in socks if s.side == "visitor"][: len(servers)]
    await open_all(warm, args.compression)
    out["rss_before_kb"] = server_rss(servers)
    out["open_seconds"] = await open_all([s for s in socks if s not in warm], args.compression)
    opened = [s for s in socks if s.ws is not None and s.failed is None]
    out["sockets_wanted"] = len(socks)
    out["sockets_open"] = len(opened)
    out["agent_sockets"] = sum(1 for s in opened if s.side == "agent")
    out["connect_failures"] = [s.failed for s in socks if s.failed][:5]
    await asyncio.sleep(SETTLE_SECONDS)
    out["rss_open_kb"] = server_rss(servers)

    # Only conversations with both sides connected are driven.
    ready_convs = {c for s in opened if s.side == "visitor" for c in s.convs} & {
        c for s in opened if s.side == "agent" for c in s.convs
    }
    out["conversations_driven"] = len(ready_convs)
    before = probe(servers)
    wall_start = time.time()
    start = time.monotonic()
    end = start + args.duration
    profiler = None
    if args.profile and servers and servers[0].pid:
        seconds = max(5, min(20, int(args.duration) - 4))
        path = Path(args.profile) / f"{load.variant}-{args.asgi}-{'sat' if args.saturate else 'rate'}.txt"
        profiler = start_profiler(servers[0].pid, seconds, path)
        out["profile"] = str(path)
    senders = []
    for sock in opened:
        for conv in sock.convs:
            if conv not in ready_convs:
                continue
            if args.saturate:
                senders.append(saturate_sender(sock, conv, end))
            else:
                senders.append(rate_sender(sock, conv, start, end, 1 / args.rate, load))
        if sock.side == "agent" and load.variant == "chat":
            load.spawn(sock.pinger(end))
    await asyncio.gather(*senders)
    after = probe(servers)
    wall_end = time.time()
    out["elapsed"] = after.t - start

    # Grace: acks, then live deliveries, then the clients' own gap recovery through sync.
    def all_acked() -> bool:
        return all(r.t_ack is not None or r.error for r in load.sent.values())

    def all_delivered() -> bool:
        return all(r.t_other is not None for r in load.sent.values() if r.t_ack is not None)

    out["grace_acks_s"] = await wait_until(all_acked, args.grace / 2)
    out["grace_live_s"] = await wait_until(all_delivered, 3.0)
    if load.variant == "chat":
        highest: dict[int, int] = {}
        for record in load.sent.values():
            if record.seq is not None:
                highest[record.conv] = max(highest.get(record.conv, 0), record.seq)
        tail = 0
        for sock in opened:
            for conv in sock.convs:
                if sock.views[conv].contig < highest.get(conv, 0):
                    tail += 1
                    sock.request_sync(conv)
        out["tail_syncs"] = tail

        def syncs_done() -> bool:
            return not any(v.syncing for s in opened for v in s.views.values())

        out["grace_sync_s"] = await wait_until(syncs_done, args.grace / 2)
    out["rss_end_kb"] = server_rss(servers)
    if profiler is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            profiler.wait(timeout=30)
    load.closing = True
    await close_all(socks)
    for task in list(load.tasks):
        task.cancel()
    await asyncio.gather(*load.tasks, return_exceptions=True)
    out["cpu"] = {
        "servers": [a - b for a, b in zip(after.servers, before.servers, strict=True)],
        "generator": after.generator - before.generator,
        "redis": after.redis - before.redis,
        "postgres": after.postgres - before.postgres,
        "machine_busy": (after.machine[0] - before.machine[0]) / max(1, after.machine[1] - before.machine[1]),
        "machine_busy_s": (after.machine[0] - before.machine[0]) / CLK_TCK,
    }
    cpu = out["cpu"]
    # Whatever else ran on the machine meanwhile (other users' tests, browsers): noise to report.
    cpu["other"] = cpu["machine_busy_s"] - sum(cpu["servers"]) - cpu["generator"] - cpu["redis"] - cpu["postgres"]
    out["window"] = (start, end, wall_start, wall_end)
    return out


def summarize(load: Load, out: dict[str, Any], rows: list[tuple[str, str, Any]], duration: float) -> dict[str, Any]:
    start, end, wall_start, wall_end = out["window"]
    records = list(load.sent.values())
    stored_ids = {row[0] for row in rows}
    in_window = sum(1 for row in rows if wall_start <= row[2].timestamp() <= wall_end)
    acked = [r for r in records if r.t_ack is not None]
    received = [r for r in records if r.t_other is not None]
    latency = {
        side: [(r.t_other - r.t_send) * 1000 for r in received if r.side == side and r.t_other is not None]
        for side in ("visitor", "agent")
    }
    ack_ms = [(r.t_ack - r.t_send) * 1000 for r in acked if r.t_ack is not None]
    lost = [r for r in records if r.client_id in stored_ids and r.t_other is None]
    result: dict[str, Any] = {
        "variant": load.variant,
        "sockets_open": out["sockets_open"],
        "sockets_wanted": out["sockets_wanted"],
        "agent_sockets": out["agent_sockets"],
        "conversations_driven": out["conversations_driven"],
        "open_seconds": out["open_seconds"],
        "handshake_p50_ms": (percentile(load.handshakes, 50) or 0) * 1000,
        "handshake_p99_ms": (percentile(load.handshakes, 99) or 0) * 1000,
        "sent": len(records),
        "sent_per_s": len(records) / duration,
        "acked": len(acked),
        "stored": len(rows),
        "stored_per_s": in_window / duration,
        "delivered_per_s": sum(1 for r in received if r.t_other is not None and start <= r.t_other <= end) / duration,
        "received_other_side": len(received),
        "recovered_by_sync": sum(1 for r in received if r.via_other == "sync"),
        "lost": len(lost),
        "lost_examples": [(r.client_id, r.seq, r.side) for r in lost[:5]],
        "acked_not_stored": sum(1 for r in acked if r.client_id not in stored_ids),
        "sent_not_stored": sum(1 for r in records if r.client_id not in stored_ids),
        "stored_not_acked": sum(1 for r in records if r.client_id in stored_ids and r.t_ack is None),
        "errors": dict(load.errors),
        "closes": dict(load.closes),
        "counters": {k: v for k, v in sorted(load.count.items())},
        "ack_ms": [percentile(ack_ms, p) for p in (50, 95, 99)],
        "v2a_ms": [percentile(latency["visitor"], p) for p in (50, 95, 99, 100)],
        "a2v_ms": [percentile(latency["agent"], p) for p in (50, 95, 99, 100)],
        "sender_lag_p99_ms": (percentile(load.lag, 99) or 0) * 1000 if load.lag else None,
        "rss_before_kb": out["rss_before_kb"],
        "rss_open_kb": out["rss_open_kb"],
        "rss_end_kb": out["rss_end_kb"],
        "cpu": out["cpu"],
        "grace": {k: round(v, 1) for k, v in out.items() if k.startswith("grace_")},
        "tail_syncs": out.get("tail_syncs"),
        "profile": out.get("profile"),
        "connect_failures": out["connect_failures"],
    }
    opened = out["sockets_open"]
    if out["rss_before_kb"] is not None and out["rss_open_kb"] is not None and opened:
        result["rss_per_socket_kb"] = (out["rss_open_kb"] - out["rss_before_kb"]) / opened
        result["rss_end_per_socket_kb"] = (out["rss_end_kb"] - out["rss_before_kb"]) / opened
    else:
        result["rss_per_socket_kb"] = result["rss_end_per_socket_kb"] = None
    stored_in_window = in_window or 1
    server_cpu = sum(out["cpu"]["servers"])
    result["server_cpu_ms_per_msg"] = server_cpu * 1000 / stored_in_window if server_cpu else None
    return result


def run_variant(
    variant: str, args: argparse.Namespace, seeded: Seeded, env: dict[str, str], log_dir: Path
) -> dict[str, Any]:
    """Start the servers of one variant (unless given), drive them, count what was stored, stop them."""
    tag = secrets.token_hex(3) + ("c" if variant == "chat" else "b")
    load = Load(variant=variant, tag=tag, saturate=args.saturate, window=args.window)
    servers: list[Server] = []
    try:
        if variant == "chat" and args.server_url:
            pids = args.server_pid or []
            servers = [
                Server(f"given{i}", url.rstrip("/"), pids[i] if i < len(pids) else None)
                for i, url in enumerate(args.server_url)
            ]
        else:
            app = "config.asgi:application" if variant == "chat" else "bench.baseline_app:application"
            server_env = dict(env)
            if variant == "baseline":
                server_env["DJANGO_SETTINGS_MODULE"] = "bench.baseline_settings"
            servers = start_servers(args.asgi, app, args.servers, server_env, log_dir, variant)
        print(f"[{variant}] {len(servers)} server(s): " + ", ".join(f"{s.url} pid {s.pid}" for s in servers))
        out = asyncio.run(drive(load, args, seeded, servers))
        rows = stored_rows(variant, tag)
        result = summarize(load, out, rows, args.duration)
        result["servers"] = [{"url": s.url, "pid": s.pid} for s in servers]
        stop_servers(servers)  # first: what the servers log while sockets close counts too
        result["log_problem_lines"], result["log_problems"] = log_problems(servers)
        return result
    finally:
        stop_servers(servers)


# --- Report ----------------------------------------------------------------------------------


def machine_info() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "ram": mem, "kernel": platform.release()}


def service_versions(database_url: str, redis_url: str) -> dict[str, str]:
    versions = {
        "python": platform.python_version(),
        **{
            name: version_of(name)
            for name in ("django", "channels", "daphne", "channels_redis", "redis", "websockets", "uvicorn", "psycopg")
        },
    }
    with contextlib.suppress(Exception):
        import psycopg

        with psycopg.connect(database_url) as conn:
            versions["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    with contextlib.suppress(Exception):
        import redis

        client = redis.Redis.from_url(redis_url)
        versions["redis-server"] = client.info("server")["redis_version"]
        client.close()
    return versions


def source_state() -> str:
    """The commit the servers ran, and whether the working tree had uncommitted changes (read only)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "chat", "agents", "config"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} + {len(dirty)} uncommitted files in chat/ agents/ config/" if dirty else head


def ms_triplet(values: list[float | None]) -> str:
    return " / ".join(fmt(v, 1) for v in values)


def print_report(header: dict[str, Any], results: list[dict[str, Any]]) -> None:
    print()
    print("=" * 100)
    print("Chat load benchmark —", header["date"])
    m = header["machine"]
    print(f"machine: {m['nproc']} CPU ({m['cpu']}), RAM {m['ram']}, kernel {m['kernel']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in header["versions"].items()))
    print("command: " + header["command"])
    print("settings: " + ", ".join(f"{k}={v}" for k, v in header["settings"].items()))
    print(f"seed: {header['seed']}")
    print(f"source: {header['source']}")
    rows: list[tuple[str, Any]] = [
        (
            "sockets open / wanted",
            lambda r: f"{r['sockets_open']} / {r['sockets_wanted']} ({r['agent_sockets']} agent)",
        ),
        ("conversations driven", lambda r: r["conversations_driven"]),
        (
            "socket open phase s / handshake p50, p99 ms",
            lambda r: f"{r['open_seconds']:.1f} / {r['handshake_p50_ms']:.0f}, {r['handshake_p99_ms']:.0f}",
        ),
        ("sent (msgs/s)", lambda r: f"{r['sent']} ({r['sent_per_s']:.1f}/s)"),
        ("acked / stored", lambda r: f"{r['acked']} / {r['stored']}"),
        ("stored msgs/s in window", lambda r: f"{r['stored_per_s']:.1f}"),
        ("delivered msgs/s (other side)", lambda r: f"{r['delivered_per_s']:.1f}"),
        ("v->a p50/p95/p99/max ms", lambda r: ms_triplet(r["v2a_ms"])),
        ("a->v p50/p95/p99/max ms", lambda r: ms_triplet(r["a2v_ms"])),
        ("ack p50/p95/p99 ms", lambda r: ms_triplet(r["ack_ms"])),
        ("received by other side live+sync", lambda r: f"{r['received_other_side']} (sync {r['recovered_by_sync']})"),
        ("UNDELIVERED at end (stored, not received)", lambda r: r["lost"]),
        ("acked not stored / sent not stored", lambda r: f"{r['acked_not_stored']} / {r['sent_not_stored']}"),
        ("error frames", lambda r: ", ".join(f"{k} {v}" for k, v in r["errors"].items()) or "none"),
        ("sockets closed by server", lambda r: sum(r["closes"].values())),
        (
            "gaps detected / sync requests",
            lambda r: f"{r['counters'].get('gaps_detected', 0)} / {r['counters'].get('sync_requests', 0)}",
        ),
        (
            "server RSS before/open/end MB",
            lambda r: " / ".join(
                fmt(v / 1024 if v is not None else None, 0)
                for v in (r["rss_before_kb"], r["rss_open_kb"], r["rss_end_kb"])
            ),
        ),
        (
            "server RSS per socket KB (open, end)",
            lambda r: f"{fmt(r['rss_per_socket_kb'])}, {fmt(r['rss_end_per_socket_kb'])}",
        ),
        ("CPU s in window: servers", lambda r: " + ".join(f"{c:.1f}" for c in r["cpu"]["servers"])),
        (
            "CPU s: generator / redis / postgres*",
            lambda r: f"{r['cpu']['generator']:.1f} / {r['cpu']['redis']:.1f} / {r['cpu']['postgres']:.1f}",
        ),
        ("machine busy in window", lambda r: f"{r['cpu']['machine_busy'] * 100:.0f} %"),
        ("CPU s of other processes (noise)", lambda r: f"{max(0.0, r['cpu']['other']):.1f}"),
        ("server CPU ms per stored msg", lambda r: fmt(r["server_cpu_ms_per_msg"], 2)),
        ("sender lag p99 ms", lambda r: fmt(r["sender_lag_p99_ms"])),
        ("server log problem lines", lambda r: r["log_problem_lines"]),
    ]
    names = [f"{r['variant']} ({header['settings']['asgi']} x{len(r['servers'])})" for r in results]
    width = 44
    col = 34
    print()
    print("| " + "figure".ljust(width) + " | " + " | ".join(n.ljust(col) for n in names) + " |")
    print("|-" + "-" * width + "-|-" + "-|-".join("-" * col for _ in names) + "-|")
    for label, getter in rows:
        print("| " + label.ljust(width) + " | " + " | ".join(str(getter(r)).ljust(col) for r in results) + " |")
    print("* postgres and redis CPU: every process of that name on the machine, not only ours.")
    chat = next((r for r in results if r["variant"] == "chat"), None)
    base = next((r for r in results if r["variant"] == "baseline"), None)
    if chat and base and base["stored_per_s"]:
        print(f"\nours / baseline stored msgs/s: {chat['stored_per_s'] / base['stored_per_s'] * 100:.0f} %")
    for r in results:
        if r["log_problems"]:
            print(f"\n{r['variant']}: first server log problem lines:")
            for line in r["log_problems"]:
                print("   " + line)
        if r["closes"]:
            print(f"{r['variant']}: closes {r['closes']}")
        if r["connect_failures"]:
            print(f"{r['variant']}: connect failures, e.g. {r['connect_failures']}")
        if r["lost_examples"]:
            print(f"{r['variant']}: lost, e.g. {r['lost_examples']}")
        if r.get("profile"):
            print(f"{r['variant']}: py-spy profile (raw folded stacks) in {r['profile']}")
        print(f"{r['variant']}: counters {r['counters']}")
    print("\nTargets (issue): " + TARGETS)
    if chat:
        verdicts = []
        p99 = max((v for v in (chat["v2a_ms"][2], chat["a2v_ms"][2]) if v is not None), default=None)
        verdicts.append(f"p99 delivery {fmt(p99)} ms {'<' if p99 is not None and p99 < 100 else '>='} 100 ms")
        verdicts.append(f"lost {chat['lost']} (+ {chat['sent_not_stored']} sent, never stored)")
        if chat["rss_per_socket_kb"] is not None:
            verdict = "<" if chat["rss_per_socket_kb"] < 50 else ">="
            verdicts.append(f"RSS/socket {chat['rss_per_socket_kb']:.1f} KB {verdict} 50 KB")
        if base and base["stored_per_s"] and header["settings"]["saturate"]:
            ratio = chat["stored_per_s"] / base["stored_per_s"] * 100
            verdicts.append(f"saturation ratio {ratio:.0f} % {'>=' if ratio >= 60 else '<'} 60 %")
        print("this run: " + "; ".join(verdicts))
    print("=" * 100)


# --- Main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", "-n", type=int, default=200, help="conversations (one visitor socket each)")
    parser.add_argument("--rate", type=float, default=0.1, help="messages per second per side per conversation")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of sending")
    parser.add_argument("--grace", type=float, default=20.0, help="seconds, at most, for acks, deliveries and syncs")
    parser.add_argument("--servers", type=int, default=2, help="server processes to start")
    parser.add_argument("--server-url", action="append", help="use this running server (ws://127.0.0.1:PORT)")
    parser.add_argument("--server-pid", action="append", type=int, help="pid of a --server-url, for RSS and CPU")
    parser.add_argument("--saturate", action="store_true", help="send as fast as acks allow (see --window)")
    parser.add_argument("--window", type=int, default=4, help="--saturate: unacked messages per conversation side")
    parser.add_argument(
        "--baseline", action=argparse.BooleanOptionalAction, default=True, help="also run the bare relay"
    )
    parser.add_argument("--asgi", choices=["daphne", "uvicorn"], default="daphne")
    parser.add_argument("--socket-per-chat", action="store_true", help="one agent (and agent socket) per conversation")
    parser.add_argument("--chats-per-agent", type=int, default=50, help="conversations per agent (one socket each)")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--compression", action="store_true", help="offer permessage-deflate, as browsers do")
    parser.add_argument("--rate-limit", type=float, help="CHAT_RATE_PER_SECOND for our servers (default: the app's)")
    parser.add_argument(
        "--ip-limit",
        type=int,
        default=1_000_000,
        help="CHAT_IP_MESSAGES_PER_MINUTE of our servers: every simulated visitor is 127.0.0.1, so the "
        "app's per-network limit would cap them all together (default: practically off)",
    )
    parser.add_argument("--db-threads", type=int, help="CHAT_DB_THREADS of our servers (default: the app's)")
    parser.add_argument("--log-level", default="WARNING", help="LOG_LEVEL of the servers")
    parser.add_argument("--profile", metavar="DIR", help="py-spy record the first server during the run, into DIR")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.socket_per_chat:
        args.chats_per_agent = 1
    limits = [
        (args.conversations, 1, 5000, "--conversations"),
        (args.duration, 1, 900, "--duration"),
        (args.servers, 1, 8, "--servers"),
        (args.window, 1, 64, "--window"),
        (args.chats_per_agent, 1, 1000, "--chats-per-agent"),
        (args.rate, 0.001, 20, "--rate"),
    ]
    for value, low, high, name in limits:
        if not low <= value <= high:
            parser.error(f"{name} must be between {low} and {high}")
    for url in args.server_url or []:
        if urlparse(url).hostname not in ("127.0.0.1", "localhost"):
            parser.error("--server-url must point at 127.0.0.1: this benchmark sends traffic to this machine only")
    if not database_name(args.database_url).startswith("helpdesk_bench"):
        parser.error("--database-url must name a database starting with helpdesk_bench (its tables are emptied)")
    for url in (args.database_url, args.redis_url):
        if urlparse(url).hostname not in ("127.0.0.1", "localhost"):
            parser.error(f"{url}: only services on 127.0.0.1")
    return args


def raise_fd_limit(sockets: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, sockets * 2 + 1024))
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    if wanted < sockets + 256:
        print(f"warning: file descriptor limit {wanted} is low for {sockets} sockets")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.asgi == "uvicorn" and not (VENV_BIN / "uvicorn").exists():
        print("uvicorn is not installed in the venv (pip install uvicorn); skipping the run.")
        return 0
    agents = math.ceil(args.conversations / args.chats_per_agent)
    raise_fd_limit(args.conversations + agents if not args.socket_per_chat else 2 * args.conversations)

    secret = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(40)
    prefix = f"bench{secrets.token_hex(3)}"
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "CHANNEL_PREFIX": prefix,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secret,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": args.log_level,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if args.rate_limit:
        env["CHAT_RATE_PER_SECOND"] = str(args.rate_limit)
    env["CHAT_IP_MESSAGES_PER_MINUTE"] = str(args.ip_limit)
    if args.db_threads:
        env["CHAT_DB_THREADS"] = str(args.db_threads)
    # The generator's own Django (seeding, counting): same database and secret (it signs the sessions).
    os.environ.update(
        {k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DJANGO_DEBUG", "DJANGO_SECRET_KEY")}
    )
    os.environ.pop("REDIS_URL", None)

    ensure_database(args.database_url)
    migrate({**env, "REDIS_URL": ""})
    setup_django()
    from django.conf import settings

    seeded = seed(args.conversations, args.chats_per_agent)
    print(f"seeded {args.conversations} conversations, {agents} agents in {seeded.seconds:.1f} s")
    header = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine_info(),
        "versions": service_versions(args.database_url, args.redis_url),
        "command": " ".join(shlex.quote(a) for a in [sys.executable.replace(str(PROJECT_ROOT) + "/", ""), *sys.argv]),
        "settings": {
            "asgi": args.asgi,
            "conversations": args.conversations,
            "agents": agents,
            "rate": "saturate" if args.saturate else args.rate,
            "saturate": args.saturate,
            "window": args.window if args.saturate else "-",
            "duration": args.duration,
            "servers": len(args.server_url) if args.server_url else args.servers,
            "socket_per_chat": args.socket_per_chat,
            "channel_capacity": os.environ.get("CHANNEL_CAPACITY", "1000"),
            "conn_max_age": os.environ.get("CONN_MAX_AGE", 60),
            "rate_limit": f"{args.rate_limit or settings.CHAT_RATE_PER_SECOND}/s burst {settings.CHAT_RATE_BURST}",
            "compression": args.compression,
            "ip_limit": f"{args.ip_limit}/min",
            "db_threads": args.db_threads or env.get("CHAT_DB_THREADS") or "app default (1)",
        },
        "source": source_state(),
        "seed": f"{args.conversations} conversations, {agents} agents, {seeded.seconds:.1f} s",
    }
    log_dir = Path(tempfile.mkdtemp(prefix="chat-load-"))
    print(f"server logs in {log_dir}")
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    results = []
    try:
        results.append(run_variant("chat", args, seeded, env, log_dir))
        if args.baseline:
            results.append(run_variant("baseline", args, seeded, env, log_dir))
    finally:
        with contextlib.suppress(Exception):
            delete_redis_keys(args.redis_url, prefix)
    print_report(header, results)
    if args.json:
        Path(args.json).write_text(json.dumps({"header": header, "results": results}, indent=2, default=str))
    return 0


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # unwinds through every finally: servers are stopped


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())
