"""Constants of the run and small helpers: ports, processes, CPU and memory readings, the bench database."""

from __future__ import annotations

import contextlib
import gc
import math
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from urllib.parse import urlparse, urlunparse

PROJECT_ROOT = Path(__file__).resolve().parents[2]


VENV_BIN = Path(sys.executable).parent
GC_PROBE = PROJECT_ROOT / "bench" / "gc_probe"  # its sitecustomize times the servers' garbage collections
BENCH_ORIGIN = "http://bench.local"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
HANDSHAKE_CONCURRENCY = 200
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
OPEN_TIMEOUT = 60.0
SETTLE_SECONDS = 2.0
SLOW_DELIVERY_SECONDS = 0.1  # the p99 target
MAX_ATTEMPTS = 10  # a message refused with rate_limited / internal_error is resent at most this often
TARGETS = (
    "2,000 concurrent conversations (4,000 sockets) at one message per 10 s per side with p99 delivery "
    "under 100 ms, nothing lost, under 50 KB server memory per socket; saturation throughput of the "
    "full chat path at least 60 % of the bare baseline's"
)
FILLER = "Could you please check the delivery date of my order and tell me when it will arrive here?"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- Small helpers ------------------------------------------------------------------------------


@contextlib.contextmanager
def own_collector_off() -> Iterator[None]:
    """The generator's garbage collector, off while it drives a load.

    All the simulated clients share this one process, so each of its collections stalled them
    all at once: with 4,000 sockets and every message's record its middle generation took
    50-60 ms, its oldest 300-400 ms, and every delivery in flight was timed that much late, on
    both servers at once (docs/performance.md, round 12). Real clients share no collector. What
    the run leaves in reference cycles is collected once it is over.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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


def cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """utime + stime of a process from /proc/<pid>/stat; `reaped`: with those of the
    children it has waited for (cutime + cstime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


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
