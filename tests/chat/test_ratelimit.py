"""The per-network counters (chat/ratelimit.py) on the cache the real stack shares: Redis."""

import logging
import uuid

import pytest

from chat.ratelimit import window_hit
from tests.servers import closed_redis_url


@pytest.fixture
def redis_cache(settings, redis_url):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": uuid.uuid4().hex,
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


def test_an_unreachable_redis_lets_the_hit_through(settings, caplog):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": closed_redis_url()}
    }

    with caplog.at_level(logging.WARNING, logger="chat.ratelimit"):
        assert window_hit("message:203.0.113.9", limit=0) == 0.0

    assert "cache is unreachable" in caplog.text
