"""R24 and R9 by the clock (Celery beat): no chat is left hanging, no long wait unseen."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .. import payloads
from ..languages import conversation_language
from ..models import Conversation, Message
from ..realtime import SUPERVISORS_GROUP, send_on_commit
from ..selectors import conversations_with_people
from .audiences import announce_conversation
from .conversations import close_conversation
from .locking import lock_conversation
from .timeline import message_insert

SWEEP_BATCH = 200


def conversations_mark_missed(*, now: datetime | None = None) -> int:
    """Queued chats nobody took in time: mark them missed and owed (follow-up), and tell
    the visitor how the answer will come. Returns how many were marked."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.CHAT_MISSED_AFTER_SECONDS)
    due = Conversation.objects.filter(
        status=Conversation.Status.QUEUED, missed_at__isnull=True, waiting_since__lt=cutoff
    ).values_list("pk", flat=True)[:SWEEP_BATCH]
    marked = 0
    for conversation_id in list(due):
        with transaction.atomic():
            conversation = lock_conversation(conversation_id)
            if conversation.status != Conversation.Status.QUEUED or conversation.missed_at is not None:
                continue
            conversation.missed_at = now
            conversation.needs_follow_up = True
            conversation.save(update_fields=["missed_at", "needs_follow_up"])
            email = conversation.visitor.email
            with translation.override(conversation_language(conversation)):
                if email:
                    sorry = _(
                        "Sorry, nobody could answer in time. Your message is kept: we'll answer by email at "
                        "%(email)s; the answer will also be here when you come back."
                    ) % {"email": email}
                else:
                    sorry = _(
                        "Sorry, nobody could answer in time. Your message is kept: leave your email here and "
                        "we'll answer by email; the answer will also be here when you come back."
                    )
            message_insert(conversation, sender=Message.Sender.SYSTEM, body=sorry)
            announce_conversation(conversation)
            marked += 1
    return marked


def conversations_close_abandoned(*, now: datetime | None = None) -> int:
    """Active chats where nothing is owed to the customer and nobody wrote for a long time:
    close them (and send a requested transcript). Returns how many were closed."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.CHAT_ABANDONED_AFTER_SECONDS)
    due = (
        Conversation.objects.filter(status=Conversation.Status.ACTIVE, waiting_since__isnull=True)
        .annotate(last_message_at=Max("messages__created_at"))
        .filter(last_message_at__lt=cutoff)
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    closed = 0
    minutes = settings.CHAT_ABANDONED_AFTER_SECONDS // 60
    for conversation_id in list(due):
        with transaction.atomic():
            conversation = lock_conversation(conversation_id)
            last = conversation.messages.aggregate(last=Max("created_at"))["last"]
            if (
                conversation.status != Conversation.Status.ACTIVE
                or conversation.waiting_since
                or (last and last >= cutoff)
            ):
                continue
            conversation.abandoned_at = now
            with translation.override(conversation_language(conversation)):
                notice = ngettext(
                    "This chat was closed after %(minutes)d minute without messages. Write again any time.",
                    "This chat was closed after %(minutes)d minutes without messages. Write again any time.",
                    minutes,
                ) % {"minutes": minutes}
            close_conversation(conversation, notice=notice)
            closed += 1
    return closed


def supervisors_alert_long_waits(*, now: datetime | None = None) -> int:
    """Tell supervisors of every customer waiting for a reply past the R9 limit."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.CHAT_WAIT_ALERT_SECONDS)
    waiting = list(
        conversations_with_people()
        .exclude(status=Conversation.Status.ENDED)
        .filter(waiting_since__lt=cutoff)
        .prefetch_related("labels")
        .order_by("waiting_since")[:SWEEP_BATCH]
    )
    if waiting:
        send_on_commit(
            [SUPERVISORS_GROUP],
            {
                "type": "alert.waiting",
                "limit_seconds": settings.CHAT_WAIT_ALERT_SECONDS,
                "conversations": [payloads.conversation_for_agent(c) for c in waiting],
            },
        )
    return len(waiting)
