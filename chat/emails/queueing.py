"""Owing an email: the row, made in the transaction of the event that causes it, and the
task that sends it, queued only once that transaction commits.

The database row, not the broker, is the source of truth. A task can be lost (the broker
was down at the commit, a message was dropped) and a delayed email (a review request)
is due long after its event, so `emails_requeue`, run by beat every minute, queues
every `ready` row that is due and has no task on its way, and every `sending` row
whose worker died. Queuing twice is harmless: `email_send` claims a row once.
"""

import logging
from datetime import datetime, timedelta
from email.utils import make_msgid

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from ..models import Conversation, Message, OutboundEmail
from .rendering import one_line, sender_address
from .sending import claim_timeout

logger = logging.getLogger(__name__)

# How long a queued task may take to start before its row counts as lost. A worker busy
# for longer only means a second task, which finds the row claimed and does nothing.
REQUEUE_AFTER = timedelta(minutes=1)
# A retry waits at most this long (chat.tasks.send_email's retry_backoff_max): a row that
# failed a try is not queued again while its retry is still on its way.
RETRY_BACKOFF_MAX = timedelta(seconds=600)
REQUEUE_BATCH = 200


def new_message_id() -> str:
    return make_msgid(domain=sender_address().rpartition("@")[2] or "localhost")


def owe_once(
    *,
    kind: str,
    conversation: Conversation,
    address: str,
    subject: str,
    send_after: datetime,
    enqueued_at: datetime | None,
) -> tuple[OutboundEmail, bool]:
    """The conversation's one email of `kind`: the row owed already, or one made now (with
    a new Message-ID) for `address`; True when made now. `enqueued_at` None leaves it to
    the requeue sweep."""
    return OutboundEmail.objects.get_or_create(
        kind=kind,
        conversation=conversation,
        defaults={
            "to_address": address,
            "subject": one_line(subject),
            "message_id_header": new_message_id(),
            "send_after": send_after,
            "enqueued_at": enqueued_at,
        },
    )


def _enqueue(email_id: int, *, countdown: float = 0) -> None:
    """Hand the send to Celery; a broker that is down is logged and left to the sweep,
    never raised into the chat event that owes the email."""
    from ..tasks import send_email  # the tasks module imports the services, which import this one

    try:
        send_email.apply_async(args=[email_id], countdown=countdown or None)
    except OperationalError:
        logger.exception("Could not queue email %s; the requeue sweep will send it", email_id)
    except Exception:
        # Eager Celery (the embedded default) runs the task right here: its failure is on
        # the row (state, last error, admin retry), not the chat event's.
        logger.exception("Sending email %s failed", email_id)


def _send_on_commit(email: OutboundEmail, *, countdown: float = 0) -> None:
    email_id = email.pk
    transaction.on_commit(lambda: _enqueue(email_id, countdown=countdown))


def email_queue_transcript(*, conversation: Conversation) -> OutboundEmail | None:
    """R18: owe the visitor its transcript, once per conversation however often this runs.
    Called inside the transaction that ends the chat (or records the request after it
    ended); the task is queued only when that commits. None without an address."""
    address = conversation.visitor.email
    if not address:
        return None
    now = timezone.now()
    email, created = owe_once(
        kind=OutboundEmail.Kind.TRANSCRIPT,
        conversation=conversation,
        address=address,
        subject=f"Your chat with {conversation.site.name}",
        send_after=now,
        enqueued_at=now,
    )
    if created:
        _send_on_commit(email)
    return email


def email_queue_follow_up(*, message: Message) -> OutboundEmail | None:
    """R16: email an agent's later answer in a follow-up chat.

    Answers given before the email is claimed join it (one conditional UPDATE on the row,
    which the claim's UPDATE waits for), so a burst of answers is one email; an answer
    after the claim starts the next one. With CHAT_FOLLOW_UP_BATCH_SECONDS the email
    also waits that long for more answers. Called under the conversation's lock."""
    conversation = message.conversation
    address = conversation.visitor.email
    if not address:
        return None
    joined = OutboundEmail.objects.filter(
        kind=OutboundEmail.Kind.FOLLOW_UP,
        conversation=conversation,
        to_address=address,
        state=OutboundEmail.State.READY,
        attempts=0,  # a tried email may have reached the server: its content stays as it was
        up_to_seq__lt=message.seq,
    )
    email = joined.order_by("-pk").first()
    if email is not None and joined.filter(pk=email.pk).update(up_to_seq=message.seq):
        email.up_to_seq = message.seq
        return email
    window = settings.CHAT_FOLLOW_UP_BATCH_SECONDS
    send_after = timezone.now() + timedelta(seconds=window)
    email, created = OutboundEmail.objects.get_or_create(
        kind=OutboundEmail.Kind.FOLLOW_UP,
        message=message,
        defaults={
            "conversation": conversation,
            "up_to_seq": message.seq,
            "to_address": address,
            "subject": one_line(f"An answer to your question from {conversation.site.name}"),
            "message_id_header": new_message_id(),
            "send_after": send_after,
            "enqueued_at": send_after,
        },
    )
    if created:
        _send_on_commit(email, countdown=window)
    return email


def email_retry(*, email_ids: list[int]) -> int:
    """Send failed emails again (the admin's "Retry sending"); returns how many."""
    now = timezone.now()
    with transaction.atomic():
        emails = list(
            OutboundEmail.objects.select_for_update().filter(pk__in=email_ids, state=OutboundEmail.State.FAILED)
        )
        for email in emails:
            email.state = OutboundEmail.State.READY
            email.send_after = email.enqueued_at = now
            email.save(update_fields=["state", "send_after", "enqueued_at"])
            _send_on_commit(email)
    return len(emails)


def _requeueable(now: datetime) -> Q:
    no_task_on_its_way = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - REQUEUE_AFTER)
    due = Q(state=OutboundEmail.State.READY, send_after__lte=now) & (
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - RETRY_BACKOFF_MAX - REQUEUE_AFTER)
    )
    # A worker that died mid-send: the broker redelivers its task only after the
    # visibility timeout (an hour); email_send takes over a claim this old at once.
    orphaned = Q(state=OutboundEmail.State.SENDING, claimed_at__lt=now - claim_timeout())
    return no_task_on_its_way & (due | orphaned)


def emails_requeue(*, now: datetime | None = None) -> int:
    """Queue a task for every email that is due and has none on its way: review requests
    whose delay has passed, rows whose task was lost, sends whose worker died. Each row
    is marked queued by a conditional UPDATE first, so two sweeps queue it once."""
    now = now or timezone.now()
    candidates = list(
        OutboundEmail.objects.filter(_requeueable(now))
        .order_by("send_after")
        .values_list("pk", flat=True)[:REQUEUE_BATCH]
    )
    queued = 0
    for email_id in candidates:
        if OutboundEmail.objects.filter(_requeueable(now), pk=email_id).update(enqueued_at=now):
            _enqueue(email_id)
            queued += 1
    return queued
