"""One socket floods its server without reading the answers: what that costs the server's memory.

    .venv/bin/python -m bench.flood_memory [--frames 200000] [--database-url URL] [--redis-url URL]

Starts one Daphne process with the app on the real stack, opens a visitor socket, sends
`--frames` invalid frames as fast as it can while reading nothing, and prints the server's
RSS as it goes and for 10 s after. Daphne reads a socket without limit and pings only a
quiet client, so every answer that the client does not read stays in the server until the
socket closes; the server closes a socket that keeps sending refused frames
(chat.consumers.base `count_refusal`, docs/protocol.md). Run by hand; prints figures.
"""

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from bench.chat_load.servers import start_servers, stop_servers
from bench.chat_load.system import (
    BENCH_ORIGIN,
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    PROJECT_ROOT,
    ensure_database,
    migrate,
    rss_kb,
    setup_django,
)


async def flood(url: str, pid: int, frames: int) -> None:
    started = time.monotonic()

    def report(what: str) -> None:
        print(f"{time.monotonic() - started:6.1f} s  {what:<28} server RSS {rss_kb(pid) / 1024:7.1f} MB", flush=True)

    report("before")
    async with connect(url, origin=BENCH_ORIGIN, max_queue=None) as socket:
        await socket.send('{"type": "hello"}')
        await socket.recv()
        socket.transport.pause_reading()  # from now on read nothing: the server's answers pile up
        try:
            for sent in range(frames):
                await socket.send("{not json")
                if sent % (frames // 10) == 0:
                    report(f"{sent} frames sent")
        except ConnectionClosed:
            report(f"closed by the server after {sent}")
        for _ in range(10):
            await asyncio.sleep(1)
            report("after")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    args = parser.parse_args()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "CHANNEL_PREFIX": f"flood{secrets.token_hex(3)}",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(40),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DJANGO_SECRET_KEY")})
    ensure_database(args.database_url)
    migrate({**env, "REDIS_URL": ""})
    setup_django()
    from chat.models import Site

    site = Site.objects.create(name="Flood bench", allowed_origins=BENCH_ORIGIN)
    servers = start_servers("daphne", "config.asgi:application", 1, env, Path(tempfile.mkdtemp("-flood")), "flood")
    try:
        (server,) = servers
        asyncio.run(flood(f"{server.url}/ws/visitor/{site.key}/", server.pid, args.frames))
    finally:
        stop_servers(servers)
        site.delete()


if __name__ == "__main__":
    main()
