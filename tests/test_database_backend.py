"""config/postgresql: a busy connection's health check runs at most once a second, and a
connection that died is still replaced, by the check or after the one query that failed."""

from collections.abc import Iterator

import pytest
from django.db import OperationalError, close_old_connections, connection, connections

from config.postgresql import base as backend

pytestmark = pytest.mark.django_db(transaction=True)


def frame() -> int:
    """One socket frame's database call, as database_sync_to_async runs it."""
    close_old_connections()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 2")
            return cursor.fetchone()[0]
    finally:
        close_old_connections()


@pytest.fixture
def checks(postgres, monkeypatch) -> Iterator[list[bool]]:
    """Each health check's outcome, on a persistent connection (tests close them otherwise)."""
    db = connections["default"]
    assert isinstance(db, backend.DatabaseWrapper), "settings use config.postgresql"
    monkeypatch.setitem(db.settings_dict, "CONN_MAX_AGE", 60)
    db.close()
    frame()  # connected
    db.health_checked_at = float("-inf")
    results: list[bool] = []
    is_usable = db.is_usable
    monkeypatch.setattr(db, "is_usable", lambda: results.append(is_usable()) or results[-1])
    yield results
    db.close()


def kill_connection() -> None:
    pid = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()


def test_a_busy_connection_is_checked_once_a_second(checks):
    assert [frame() for _ in range(5)] == [2] * 5

    assert checks == [True]


def test_without_the_interval_every_frame_is_checked(checks, monkeypatch):
    monkeypatch.setattr(backend, "HEALTH_CHECK_INTERVAL", 0)

    assert [frame() for _ in range(3)] == [2] * 3

    assert checks == [True] * 3


def test_a_connection_that_died_is_replaced_by_the_next_check(checks):
    kill_connection()

    assert frame() == 2
    assert checks == [False]


def test_a_connection_that_died_within_the_second_fails_one_frame_then_is_replaced(checks):
    frame()
    kill_connection()

    with pytest.raises(OperationalError):
        frame()  # a socket frame answers this with internal_error, and the client resends
    assert frame() == 2
