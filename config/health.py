"""Liveness and readiness probes for load balancers and process supervisors.

They live in `config`, next to the settings and the ASGI application, not in an app:
they answer for the process and the services the deployment wires it to (database,
Redis, channel layer), which belong to no domain. `chat` owns conversations, not
whether PostgreSQL answers.

- `/healthz`: the process is up and its event loop answers. Touches nothing else, so a
  restart is never triggered by an outage of a shared service.
- `/readyz`: the database answers a query, Redis a PING, and a message sent through the
  channel layer to a fresh channel comes back. 503 names the checks that failed; a load
  balancer stops sending new sockets to the node until it is ready again.

Both are GET-only, need no login or session and write nothing (so CSRF does not apply);
no rate limit counts them (the limits are on the chat sockets). The answer names the
failed check and the exception type only; the details go to the log.
"""

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe
from redis.asyncio import Redis

logger = logging.getLogger(__name__)

# Each check gets this long; a probe answers within it even when a service hangs.
CHECK_TIMEOUT_SECONDS = 3.0
OK = "ok"


@require_safe
async def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": OK})


def _query_database() -> None:
    close_old_connections()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        close_old_connections()


async def check_database() -> str:
    # Its own thread, not the shared one the sockets' database work runs in: a hanging
    # connect must not hold up the chats on this node.
    await sync_to_async(_query_database, thread_sensitive=False)()
    return OK


async def check_redis() -> str:
    if not settings.REDIS_URL:
        return "skipped (no REDIS_URL: embedded mode)"
    client = Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS
    )
    try:
        await client.ping()
    finally:
        await client.aclose()
    return OK


async def check_channel_layer() -> str:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("No channel layer is configured.")
    channel = await layer.new_channel()
    nonce = uuid.uuid4().hex
    await layer.send(channel, {"type": "readyz.ping", "nonce": nonce})
    message = await layer.receive(channel)
    if message.get("nonce") != nonce:
        raise RuntimeError("The channel layer returned another message.")
    return OK


CHECKS: dict[str, Callable[[], Awaitable[str]]] = {
    "database": check_database,
    "redis": check_redis,
    "channel_layer": check_channel_layer,
}


async def _run(name: str, check: Callable[[], Awaitable[str]]) -> tuple[str, str, bool]:
    try:
        return name, await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS), True
    except TimeoutError:
        logger.warning("Readiness check %s timed out after %s s", name, CHECK_TIMEOUT_SECONDS)
        return name, f"failed (no answer in {CHECK_TIMEOUT_SECONDS:g} s)", False
    except Exception as error:
        # One line, no traceback: probes repeat every few seconds while a service is down.
        logger.warning("Readiness check %s failed: %s: %s", name, type(error).__name__, error)
        return name, f"failed ({type(error).__name__})", False


@require_safe
async def readyz(request: HttpRequest) -> JsonResponse:
    results = await asyncio.gather(*(_run(name, check) for name, check in CHECKS.items()))
    failed = [name for name, _, passed in results if not passed]
    return JsonResponse(
        {
            "status": "unavailable" if failed else "ready",
            "checks": {name: outcome for name, outcome, _ in results},
            "failed": failed,
        },
        status=503 if failed else 200,
    )
