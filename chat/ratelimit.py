"""Fixed-window counters in the cache, shared by every process on the real stack (Redis)."""

import time

from django.core.cache import cache


def window_hit(key: str, *, limit: int, window_seconds: int = 60) -> float:
    """Count one hit of `key`; returns 0 when within `limit` per window, else the seconds
    until the window resets."""
    now = time.time()
    window = int(now // window_seconds)
    cache_key = f"ratelimit:{key}:{window}"
    # add() is atomic: the first hit of a window creates the counter with an expiry.
    if cache.add(cache_key, 1, timeout=window_seconds + 1):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.add(cache_key, 1, timeout=window_seconds + 1)
            count = 1
    if count <= limit:
        return 0.0
    return round((window + 1) * window_seconds - now, 2)
