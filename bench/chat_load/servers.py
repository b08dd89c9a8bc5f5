"""The server processes under test (Daphne or uvicorn, ours or the bare baseline) and their logs."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .system import GC_PROBE, PROJECT_ROOT, START_TIMEOUT, STOP_TIMEOUT, VENV_BIN, accepts, free_port


@dataclass
class Server:
    name: str
    url: str  # ws://127.0.0.1:PORT
    pid: int | None = None
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    gc_path: Path | None = None

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
        gc_path = log_dir / f"{label}-{asgi}-{index}-gc.json"
        probed = {
            **env,
            "GC_PROBE_FILE": str(gc_path),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(GC_PROBE), env.get("PYTHONPATH")])),
        }
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                cmd,
                cwd=PROJECT_ROOT,
                env=probed,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed as a group on exit
            )
        servers.append(Server(f"{label}{index}", f"ws://127.0.0.1:{port}", process.pid, process, log_path, gc_path))
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


def gc_pauses(servers: list[Server], start: float, end: float) -> list[dict[str, float]]:
    """Per generation, the servers' collections within wall-clock [start, end): count, pauses, CPU."""
    totals = [{"count": 0, "total_ms": 0.0, "max_ms": 0.0, "cpu_ms": 0.0} for _ in range(3)]
    for server in servers:
        if server.gc_path is None or not server.gc_path.exists():
            continue
        seconds = json.loads(server.gc_path.read_text())["seconds"]
        for second, generations in seconds.items():
            if not start <= int(second) < end:
                continue
            for total, (count, pause, longest, cpu) in zip(totals, generations, strict=True):
                total["count"] += count
                total["total_ms"] += pause * 1000
                total["max_ms"] = max(total["max_ms"], longest * 1000)
                total["cpu_ms"] += cpu * 1000
    return totals


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
