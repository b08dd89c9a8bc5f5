"""`make run-stack` (bin/run-stack): the real stack's four kinds of process, started and stopped.

On the real stack it runs against the test database and Redis: both Daphne ports answer
/readyz, the Celery worker comes up, and one SIGTERM stops everything, leaving no
process of its session behind.
"""

import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from tests.servers import PROJECT_ROOT, database_url, delete_redis_keys, free_port, node_environment

RUN_STACK = PROJECT_ROOT / "bin" / "run-stack"
START_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0


def test_run_stack_refuses_to_start_without_database_and_redis() -> None:
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}

    result = subprocess.run([str(RUN_STACK)], env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert "DATABASE_URL and REDIS_URL must both be set" in result.stderr


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return json.loads(response.read())["status"] == "ready"
    except (OSError, urllib.error.HTTPError):
        return False


def session_processes(session_id: int) -> list[str]:
    """The processes still alive in the session the script started (its own included)."""
    output = subprocess.run(["ps", "-eo", "sid=,pid=,stat=,args="], capture_output=True, text=True).stdout
    alive = []
    for line in output.splitlines():
        sid, pid, stat, args = line.split(None, 3)
        if int(sid) == session_id and not stat.startswith("Z"):
            alive.append(f"{pid} {args}")
    return alive


@pytest.mark.realstack
@pytest.mark.django_db(transaction=True)
def test_run_stack_serves_on_both_ports_and_stops_every_process(postgres: None, redis_url: str) -> None:
    ports = [free_port(), free_port()]
    prefix = f"runstack{ports[0]}"
    env = node_environment(
        database_url=database_url(connection.settings_dict),
        redis_url=redis_url,
        channel_prefix=prefix,
        extra={"ASGI_PORTS": " ".join(map(str, ports)), "CELERY_CONCURRENCY": "1", "STOP_TIMEOUT": "30"},
    )
    with tempfile.TemporaryDirectory(prefix="run-stack-") as tmp:
        log_path = Path(tmp) / "output.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(RUN_STACK)],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not (all(ready(port) for port in ports) and "ready." in log_path.read_text()):
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, f"not ready in {START_TIMEOUT:.0f} s\n{log_path.read_text()}"
                time.sleep(1)
            output = log_path.read_text()
            for name in (f"web-{ports[0]}", f"web-{ports[1]}", "worker", "beat"):
                assert f"started {name}" in output

            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=STOP_TIMEOUT) == 0, log_path.read_text()
            output = log_path.read_text()
            assert "Warm shutdown" in output and "all processes stopped" in output
            assert "did not stop" not in output
            deadline = time.monotonic() + 10
            while session_processes(process.pid) and time.monotonic() < deadline:
                time.sleep(0.2)  # the output prefixers end once their pipes close
            assert session_processes(process.pid) == []
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            delete_redis_keys(redis_url, prefix)
