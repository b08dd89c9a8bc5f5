"""The per-network counters (chat/ratelimit.py) on the cache the real stack shares: Redis."""

import logging
import threading
import uuid

import pytest
from redis import Redis

from chat.ratelimit import window_hit
from tests.servers import closed_redis_url


@pytest.fixture
def redis_cache(settings, redis_url):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": uuid.uuid4().hex,
            "OPTIONS": {"pool_class": "config.cache.ProcessConnectionPool"},  # as config/settings.py
        }
    }


def test_the_hit_over_the_limit_is_told_when_the_window_resets(redis_cache):
    assert [window_hit("message:203.0.113.9", limit=3) for _ in range(3)] == [0.0, 0.0, 0.0]

    retry_after = window_hit("message:203.0.113.9", limit=3)

    assert 0 < retry_after <= 60
    assert window_hit("message:198.51.100.1", limit=3) == 0.0  # another network counts apart


def test_the_counter_expires_with_its_window(redis_cache):
    from django.core.cache import cache

    window_hit("message:203.0.113.9", limit=3, window_seconds=60)

    [key] = cache._cache.get_client().keys(f"{cache.key_prefix}*ratelimit:message:203.0.113.9:*")
    assert 0 < cache._cache.get_client().ttl(key) <= 61


def test_the_hits_of_every_thread_share_the_process_connections(redis_cache, redis_url):
    # Django makes a cache backend per thread (and async context): each used to connect anew.
    redis = Redis.from_url(redis_url)
    connections_before = redis.info("stats")["total_connections_received"]

    for _ in range(10):
        thread = threading.Thread(target=window_hit, args=("message:203.0.113.9",), kwargs={"limit": 100})
        thread.start()
        thread.join()

    assert redis.info("stats")["total_connections_received"] - connections_before <= 1
    redis.close()


def test_an_unreachable_redis_lets_the_hit_through(settings, caplog):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": closed_redis_url()}
    }

    with caplog.at_level(logging.WARNING, logger="chat.ratelimit"):
        assert window_hit("message:203.0.113.9", limit=0) == 0.0

    assert "cache is unreachable" in caplog.text
