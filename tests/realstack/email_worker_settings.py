"""Settings of the Celery workers that tests/realstack/test_email_worker.py starts and kills.

The real settings, with the recovery of a killed worker's task shortened from an hour
to seconds: the broker hands an unacknowledged task to another worker after
`visibility_timeout`, and that worker may take over a `sending` claim older than
CHAT_EMAIL_CLAIM_TIMEOUT (kept below the visibility timeout, as in production).
"""

from config.settings import *  # noqa: F403

CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 5,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
CHAT_EMAIL_CLAIM_TIMEOUT = 2
