"""What the run prints: machine, versions, figures against the issue's targets."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from .system import PROJECT_ROOT, TARGETS, fmt, version_of


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
        ("delivery p99 ms, sent in 1st/2nd/3rd third", lambda r: ms_triplet(r["p99_by_third_ms"])),
        (
            "deliveries > 100 ms: n, seconds (on every server)",
            lambda r: f"{r['slow']['deliveries']}, {r['slow']['seconds']} ({r['slow']['on_every_server']})",
        ),
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
        (
            "GC gen 0/1/2 in window: n, pauses ms (CPU), max",
            lambda r: " / ".join(
                f"{g['count']}, {g['total_ms']:.0f} ({g['cpu_ms']:.0f}), {g['max_ms']:.0f}" for g in r["gc"]
            ),
        ),
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
    stored_ratio = delivered_ratio = None
    if chat and base and base["stored_per_s"]:
        stored_ratio = chat["stored_per_s"] / base["stored_per_s"] * 100
        delivered_ratio = chat["delivered_per_s"] / base["delivered_per_s"] * 100 if base["delivered_per_s"] else None
        print(f"\nours / baseline stored msgs/s: {stored_ratio:.0f} %, delivered: {fmt(delivered_ratio, 0)} %")
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
        if stored_ratio is not None and header["settings"]["saturate"]:
            verdict = ">=" if stored_ratio >= 60 else "<"
            window = header["settings"]["window"]
            verdicts.append(f"saturation ratio {stored_ratio:.0f} % {verdict} 60 % (window {window})")
        print("this run: " + "; ".join(verdicts))
        every = header["settings"]["full_collection_s"]
        if every and chat["gc"][0]["count"] and not chat["gc"][2]["count"]:
            # The window is often shorter than the timer: its pause is the tail a longer run has.
            print(f"note: no timed full collection (every {every:.0f} s) fell in this window; its pause is not here")
    print("=" * 100)


# --- Main --------------------------------------------------------------------------------------
