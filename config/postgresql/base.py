"""Django's PostgreSQL backend, with the health check of a busy connection kept to one a second.

Django checks a persistent connection (`CONN_HEALTH_CHECKS`) with a `SELECT 1` before the
first query of each request. Channels runs Django's request-end clean-up around every
database call of a socket (`database_sync_to_async`), so every chat message paid that
round trip: a tenth of `message_post`'s CPU and of its database's (docs/performance.md,
round 5). A connection checked within the last HEALTH_CHECK_INTERVAL seconds is taken as
alive. One that died in that second fails its next query like an unchecked one: the frame
gets `internal_error` and is resent (docs/protocol.md), and Django replaces a connection
whose query failed before the next call (`close_if_unusable_or_obsolete`).
"""

import time

from django.db.backends.postgresql import base

HEALTH_CHECK_INTERVAL = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    health_check_enabled: bool  # Django's, not in its type stubs
    health_check_done: bool
    health_checked_at = float("-inf")

    def close_if_health_check_failed(self) -> None:
        if self.connection is None or not self.health_check_enabled or self.health_check_done:
            return
        if time.monotonic() - self.health_checked_at < HEALTH_CHECK_INTERVAL:
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
        if self.connection is not None:  # it passed
            self.health_checked_at = time.monotonic()
