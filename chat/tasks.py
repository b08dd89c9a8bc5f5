from smtplib import SMTPException

from celery import shared_task

from .emails import email_send, emails_requeue
from .emails.queueing import RETRY_BACKOFF_MAX
from .privacy import conversations_anonymise_expired
from .services import queue_dispatch
from .services.sweeps import conversations_close_abandoned, conversations_mark_missed, supervisors_alert_long_waits


@shared_task(ignore_result=True)
def dispatch_queue() -> int:
    return queue_dispatch()


# acks_late: a worker killed mid-send leaves the task message unacknowledged, so the
# broker hands it to another worker, which takes over the stale claim (chat.emails).
# The backoff starts at 30 s (30, 60, 120, 240, 480 s, each with jitter) so a short
# SMTP outage is ridden out instead of failing the email within a minute.
@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=int(RETRY_BACKOFF_MAX.total_seconds()),
    retry_jitter=True,
    max_retries=5,
    ignore_result=True,
)
def send_email(self, email_id: int) -> str:
    """Send one `OutboundEmail` row; running it twice sends it once."""
    email = email_send(email_id=email_id, final_attempt=self.request.retries >= self.max_retries)
    return email.state


@shared_task(ignore_result=True)
def requeue_emails() -> int:
    """Every minute: queue emails that are due (review requests) or whose task was lost."""
    return emails_requeue()


@shared_task(ignore_result=True)
def sweep_conversations() -> dict[str, int]:
    return {"missed": conversations_mark_missed(), "abandoned": conversations_close_abandoned()}


@shared_task(ignore_result=True)
def alert_long_waits() -> int:
    return supervisors_alert_long_waits()


@shared_task(ignore_result=True)
def anonymise_expired_conversations() -> int:
    """Daily: chats past their site's retention period lose their personal data (R4)."""
    action = conversations_anonymise_expired()
    return action.details.get("conversations", 0) if action else 0
