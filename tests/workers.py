"""Real Celery worker processes for the real-stack tests, and waiting on what they do
with their log shown when the wait runs out."""

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

from tests.servers import PROJECT_ROOT

CELERY = Path(sys.executable).parent / "celery"
WAIT = 30.0
T = TypeVar("T")


def wait_for(check: Callable[[], T], what: str, *logs: Path, timeout: float = WAIT) -> T:
    """`check()`'s first truthy result within `timeout` seconds; fails showing the `logs`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    output = "\n".join(f"--- {log.name} ---\n{log.read_text(errors='replace')}" for log in logs if log.exists())
    pytest.fail(f"Waited {timeout:.0f} s for {what}.\n{output}")


@contextmanager
def celery_worker(name: str, env: dict[str, str], log_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real worker process, ready to consume, logging to `log_dir`/worker-`name`.log;
    terminated (or killed) on exit."""
    log_path = log_dir / f"worker-{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(CELERY), "-A", "config", "worker", "--pool=solo", "--concurrency=1", "-l", "info",
             "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for(lambda: " ready." in log_path.read_text(errors="replace"), f"worker {name} to start", log_path)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
