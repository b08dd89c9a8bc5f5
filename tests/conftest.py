"""Shared test set-up: factories live per app; this file decides what needs services.

Tests that need PostgreSQL, Redis or Chromium skip with a reason when those are
missing, and fail instead under REQUIRE_SERVICES=1 (CI), so CI always runs them.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def need(available: bool, reason: str) -> None:
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture
def postgres() -> None:
    need(connection.vendor == "postgresql", "needs PostgreSQL: set DATABASE_URL")


@pytest.fixture
def redis_url() -> str:
    need(bool(settings.REDIS_URL), "needs Redis: set REDIS_URL")
    return settings.REDIS_URL


@pytest.fixture
def chromium_path() -> str:
    need(bool(shutil.which(CHROMIUM)), f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    # Socket handlers run in a thread pool; persistent connections there would keep
    # the test database busy at teardown. Tests close them after every call instead.
    from django.db import connections

    for conn in connections.all():
        conn.settings_dict["CONN_MAX_AGE"] = 0


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup) -> Iterator[None]:
    yield
    # Async tests' sync_to_async calls run in asgiref's one thread for thread-sensitive
    # work, and the last one leaves its connection open (only database_sync_to_async
    # closes them): PostgreSQL would refuse to drop the test database while it is.
    from asgiref.sync import SyncToAsync
    from django.db import connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture(autouse=True)
def process_memos_forgotten() -> None:
    """Each process keeps the composer's terms and which webhook events are subscribed for
    a few seconds. Each test starts without them: the rows of the test before were rolled
    back, and its memo would expire in the middle of this test and change its queries.
    Forgotten before, not after: a test may leave the cache pointing at a closed Redis."""
    from agents.composer import composer_terms_forget
    from feedback.webhooks import webhook_subscriptions_forget

    composer_terms_forget()
    webhook_subscriptions_forget()


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Celery tasks run in-process at `.delay()` (even when REDIS_URL is set for the real-stack tests)."""
    from config.celery import app as celery_app

    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = eager


@pytest.fixture(autouse=True)
def media_root(settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Uploaded files go to the test's own folder, never var/media: in this process
    (settings) and in server processes a test starts (the environment they copy)."""
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root
    monkeypatch.setenv("MEDIA_ROOT", str(root))
    return root


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    # channels_redis binds its receive lock to the event loop that first waits on it, and
    # every async test runs on a loop of its own: a test that ends while one of its
    # consumers still waits would hand the next test a lock held in a dead loop. A server
    # process has one loop for its life; here each test gets its own layer instead.
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def fresh_rate_limit_counters(settings) -> None:
    # The per-IP counters live in the cache; every test starts with its own, empty one.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }
