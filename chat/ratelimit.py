"""Fixed-window counters in the cache, shared by every process on the real stack (Redis)."""

import logging
import time

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis import Redis
from redis.exceptions import RedisError

from config.cache import ProcessConnectionPool

logger = logging.getLogger(__name__)

# Counts a hit and starts the window's expiry with the first: one command, one round trip.
COUNT_LUA = """
    local count = redis.call('INCR', KEYS[1])
    if count == 1 then
        redis.call('EXPIRE', KEYS[1], ARGV[1])
    end
    return count
"""


def _count(cache_key: str, timeout: int) -> int:
    """Count one hit of `cache_key`, which expires `timeout` seconds after its first hit."""
    cache = caches["default"]  # the backend itself: django.core.cache.cache is a proxy to it
    if isinstance(cache, RedisCache):
        # One round trip, not the three of add() + incr() (which checks that the key
        # exists first): this runs for every visitor message (docs/performance.md).
        key = cache.make_and_validate_key(cache_key)
        pool = cache._cache._get_connection_pool(write=True)  # type: ignore[attr-defined]  # Django's, not in the stubs
        client = pool.client if isinstance(pool, ProcessConnectionPool) else Redis(connection_pool=pool)
        return int(client.eval(COUNT_LUA, 1, key, timeout))
    # add() is atomic: the first hit of a window creates the counter with an expiry.
    if cache.add(cache_key, 1, timeout=timeout):
        return 1
    try:
        return cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=timeout)
        return 1


def window_hit(key: str, *, limit: int, window_seconds: int = 60) -> float:
    """Count one hit of `key`; returns 0 when within `limit` per window, else the seconds
    until the window resets. Allows the hit when Redis is unreachable: the limit must not
    refuse what PostgreSQL could still store, and each socket's own limit still holds."""
    now = time.time()
    window = int(now // window_seconds)
    try:
        count = _count(f"ratelimit:{key}:{window}", window_seconds + 1)
    except (RedisError, OSError):
        logger.warning("Rate limit not counted: the cache is unreachable", exc_info=True)
        return 0.0
    if count <= limit:
        return 0.0
    return round((window + 1) * window_seconds - now, 2)
