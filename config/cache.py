"""One Redis connection pool per process for Django's cache.

Django keeps a cache backend per thread and per async context, and each new backend
opened a pool of its own. A socket frame's database call runs in a copy of its task's
context, so on the real stack every visitor message (the per-network limit) opened a new
TCP connection to Redis, with its handshake and a read of redis-py's package metadata:
15 % of a server's CPU at 100 msgs/s (docs/performance.md, round 4). This pool class is
given to Django's own RedisCache (`OPTIONS["pool_class"]`, config/settings.py): the
backends still come and go, their pool is the process's, shared by URL and options.
redis-py's pools are thread-safe.
"""

import functools
import threading
from typing import Any

from redis import ConnectionPool, Redis

_pools: dict[tuple[str, str], ConnectionPool] = {}
_lock = threading.Lock()


class ProcessConnectionPool(ConnectionPool):
    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> ConnectionPool:  # type: ignore[override]
        key = (url, repr(sorted(kwargs.items())))
        with _lock:
            pool = _pools.get(key)
            if pool is None:
                pool = _pools[key] = super().from_url(url, **kwargs)
        return pool

    @functools.cached_property
    def client(self) -> Redis:
        """A client of this pool, for code that talks to Redis itself (chat/ratelimit.py).

        Django builds a client for every call, and redis-py 8's constructor was a fifth of
        a rate-limit hit's CPU. A client is thread-safe: each command takes a connection
        from the pool."""
        return Redis(connection_pool=self)
