"""One measured run: open every socket, drive messages at a rate or flat out, settle, collect the figures."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import random
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .clients import Load, Sent, Sock
from .seeding import Seeded, stored_rows
from .servers import Server, gc_pauses, log_problems, start_servers, stop_servers
from .system import (
    BENCH_ORIGIN,
    CLK_TCK,
    HANDSHAKE_CONCURRENCY,
    SETTLE_SECONDS,
    SLOW_DELIVERY_SECONDS,
    VENV_BIN,
    cpu_seconds,
    machine_busy,
    own_collector_off,
    percentile,
    pids_named,
    rss_kb,
    self_cpu,
)


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
        # A backend that exits in the window (a connection older than CONN_MAX_AGE, replaced)
        # takes its CPU out of the sum: the postmaster's reaped children put it back.
        postgres=sum(cpu_seconds(pid, reaped=True) for pid in pids_named("postgres")),
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
    await asyncio.sleep(1.2)  # the probes write their files once a second
    out["gc"] = gc_pauses(servers, wall_start, wall_end)
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


def slow_deliveries(received: list[Sent], start: float, end: float) -> dict[str, int]:
    """Deliveries over the issue's 100 ms, and the seconds of the window they were sent in.

    A stall of one server (a garbage collection, the warm-up) shows in seconds on that server
    only; the machine slowing down, or the generator stalling, in seconds on every server at
    once (docs/performance.md, round 12). A second counts as on every server where each had a
    tenth of its messages slow.
    """
    by_second: dict[int, dict[str, list[int]]] = {}  # second -> server -> [sent, slow]
    for r in received:
        if r.t_other is not None and start <= r.t_send < end:
            counts = by_second.setdefault(int(r.t_send - start), {}).setdefault(r.server, [0, 0])
            counts[0] += 1
            counts[1] += r.t_other - r.t_send > SLOW_DELIVERY_SECONDS
    slow_seconds = [servers for servers in by_second.values() if any(late for _, late in servers.values())]
    return {
        "deliveries": sum(late for servers in slow_seconds for _, late in servers.values()),
        "seconds": len(slow_seconds),
        "on_every_server": sum(
            1 for servers in slow_seconds if all(late * 10 >= sent for sent, late in servers.values())
        ),
    }


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
    # Warm-up or steady state: the p99 of messages sent in each third of the window.
    thirds = [start + (end - start) * i / 3 for i in range(4)]
    p99_by_third = [
        percentile([(r.t_other - r.t_send) * 1000 for r in received if r.t_other and a <= r.t_send < b], 99)
        for a, b in itertools.pairwise(thirds)
    ]
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
        "p99_by_third_ms": p99_by_third,
        "slow": slow_deliveries(received, start, end),
        "sender_lag_p99_ms": (percentile(load.lag, 99) or 0) * 1000 if load.lag else None,
        "rss_before_kb": out["rss_before_kb"],
        "rss_open_kb": out["rss_open_kb"],
        "rss_end_kb": out["rss_end_kb"],
        "cpu": out["cpu"],
        "grace": {k: round(v, 1) for k, v in out.items() if k.startswith("grace_")},
        "tail_syncs": out.get("tail_syncs"),
        "gc": out["gc"],
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
    load = Load(variant=variant, tag=tag, saturate=args.saturate, window=args.window, window_until=args.window_until)
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
                server_env["BASELINE_CHANNEL_LAYER"] = args.baseline_layer
            servers = start_servers(args.asgi, app, args.servers, server_env, log_dir, variant)
        print(f"[{variant}] {len(servers)} server(s): " + ", ".join(f"{s.url} pid {s.pid}" for s in servers))
        with own_collector_off():
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
