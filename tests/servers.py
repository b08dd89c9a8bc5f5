"""Real server processes for the real-stack and browser tests: Daphne nodes sharing Redis and PostgreSQL.

Each node is `<venv>/bin/daphne -b 127.0.0.1 -p PORT config.asgi:application`, started with
the same environment, so the nodes share the Redis channel layer (under a prefix of
their own) and the PostgreSQL test database of the running test session.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DAPHNE = Path(sys.executable).parent / "daphne"
START_TIMEOUT = 60.0  # generous: a busy 2-core machine imports Django slowly
STOP_TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_redis_url() -> str:
    """A Redis URL on a port nobody listens on."""
    return f"redis://127.0.0.1:{free_port()}/0"


def database_url(settings_dict: Mapping[str, Any]) -> str:
    """A DATABASE_URL for `settings_dict`: during a test, NAME is the test database."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or "5432"
    return f"postgres://{credentials}{host}:{port}/{quote(settings_dict['NAME'], safe='')}"


@dataclass
class Node:
    """One Daphne process."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def origin(self) -> str:
        """The Origin a browser on this node's own pages would send (an ALLOWED_HOSTS host)."""
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def log(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace")

    def describe(self) -> str:
        return f"--- node {self.name} (port {self.port}, exit {self.process.poll()}) output ---\n{self.log()}"


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_ready(node: Node, deadline: float) -> None:
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            raise RuntimeError(f"Daphne node {node.name} exited before listening.\n{node.describe()}")
        if _accepts(node.port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"Daphne node {node.name} did not listen within {START_TIMEOUT:.0f} s.\n{node.describe()}")


def _stop(node: Node) -> None:
    if node.process.poll() is None:
        node.process.terminate()
        try:
            node.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait(timeout=STOP_TIMEOUT)


@contextmanager
def daphne_nodes(names: list[str], env: Mapping[str, str]) -> Iterator[list[Node]]:
    """Start one Daphne process per name with `env`, wait until all listen, stop them on exit."""
    if not DAPHNE.exists():
        raise RuntimeError(f"Daphne is not installed next to the interpreter: {DAPHNE}")
    log_dir = Path(tempfile.mkdtemp(prefix="realstack-"))
    nodes: list[Node] = []
    try:
        for name in names:
            port = free_port()
            log_path = log_dir / f"daphne-{name}.log"
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    [str(DAPHNE), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
                    cwd=PROJECT_ROOT,
                    env=dict(env),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            nodes.append(Node(name=name, port=port, process=process, log_path=log_path))
        # Started together, then waited for: the imports run in parallel.
        deadline = time.monotonic() + START_TIMEOUT
        for node in nodes:
            _wait_ready(node, deadline)
        yield nodes
    finally:
        for node in nodes:
            _stop(node)


def kill(node: Node) -> None:
    """SIGKILL: the process dies at once, mid-frame, without closing its sockets or connections."""
    node.process.send_signal(signal.SIGKILL)
    node.process.wait(timeout=STOP_TIMEOUT)


def node_environment(
    *, database_url: str, redis_url: str, channel_prefix: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of every node: this process's, pointed at the test database and a fresh prefix.

    `extra` overrides settings read from the environment (e.g. CHANNEL_CAPACITY)."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CHANNEL_PREFIX": channel_prefix,
            # Fresh rate-limit counters per run; every test client comes from 127.0.0.1,
            # so the per-IP limits (tested in-process) would otherwise throttle the suite.
            "CACHE_KEY_PREFIX": channel_prefix,
            "CHAT_IP_CONVERSATIONS_PER_MINUTE": "10000",
            "CHAT_IP_MESSAGES_PER_MINUTE": "100000",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


def delete_redis_keys(redis_url: str, prefix: str) -> None:
    """Remove what the nodes left in Redis under `prefix` (groups otherwise live a day)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


class RedisServer:
    """A `redis-server` of a test's own on a free port, to stop and start again mid-test.

    The shared Redis of the test session is never restarted: other tests use it. Nothing
    is persisted (`--save "" --appendonly no`), so a restart starts empty, as a crash would.
    """

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log_path = log_dir / f"redis-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on {self.port} did not start:\n{self.log_path.read_text()}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL, as a crash: every connection drops, and the port refuses until start()."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(Path(tempfile.mkdtemp(prefix="realstack-redis-")))
    server.start()
    try:
        yield server
    finally:
        server.kill()
