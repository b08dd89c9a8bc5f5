"""Load benchmark of the full chat path on the real stack (Daphne + Redis layer + PostgreSQL).

Run by hand (never by the test suite); see bench/README.md. One invocation seeds a bench
database, starts server processes, opens one visitor socket per conversation and the agents'
sockets, drives `message.send` both ways at a fixed rate (or as fast as acks allow with
`--saturate`), then runs the same load against a bare Channels relay (bench/baseline_app.py)
and prints both, with the targets of the issue.

    .venv/bin/python -m bench.chat_load --conversations 50 --duration 20
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import secrets
import shlex
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .driving import run_variant
from .report import machine_info, print_report, service_versions, source_state
from .seeding import seed
from .servers import delete_redis_keys
from .system import (
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    PROJECT_ROOT,
    VENV_BIN,
    database_name,
    ensure_database,
    migrate,
    setup_django,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chat_load", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", "-n", type=int, default=200, help="conversations (one visitor socket each)")
    parser.add_argument("--rate", type=float, default=0.1, help="messages per second per side per conversation")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of sending")
    parser.add_argument("--grace", type=float, default=20.0, help="seconds, at most, for acks, deliveries and syncs")
    parser.add_argument("--servers", type=int, default=2, help="server processes to start")
    parser.add_argument("--server-url", action="append", help="use this running server (ws://127.0.0.1:PORT)")
    parser.add_argument("--server-pid", action="append", type=int, help="pid of a --server-url, for RSS and CPU")
    parser.add_argument("--saturate", action="store_true", help="send as fast as the window allows (see --window)")
    parser.add_argument("--window", type=int, default=4, help="--saturate: messages in flight per conversation side")
    parser.add_argument(
        "--window-until",
        choices=["ack", "delivery"],
        default="delivery",
        help="--saturate: a message is in flight until acked, or until acked and delivered to the other side",
    )
    parser.add_argument(
        "--baseline", action=argparse.BooleanOptionalAction, default=True, help="also run the bare relay"
    )
    parser.add_argument(
        "--baseline-layer",
        choices=["channels_redis", "ours"],
        default="channels_redis",
        help="the bare relay's channel layer: channels_redis's own, or ours (chat/channel_layer.py)",
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
            "window": f"{args.window} until {args.window_until}" if args.saturate else "-",
            "duration": args.duration,
            "servers": len(args.server_url) if args.server_url else args.servers,
            "socket_per_chat": args.socket_per_chat,
            "channel_capacity": os.environ.get("CHANNEL_CAPACITY", "1000"),
            "conn_max_age": os.environ.get("CONN_MAX_AGE", 60),
            "full_collection_s": settings.ASGI_FULL_COLLECTION_SECONDS,
            "young_collection_s": settings.ASGI_YOUNG_COLLECTION_SECONDS,
            "baseline_layer": args.baseline_layer if args.baseline else "-",
            "rate_limit": f"{args.rate_limit or settings.CHAT_RATE_PER_SECOND}/s burst {settings.CHAT_RATE_BURST}",
            "compression": args.compression,
            "ip_limit": f"{args.ip_limit}/min",
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
