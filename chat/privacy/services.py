"""Writes of personal data (R4): erasing a visitor on request, and anonymising conversations
whose site's retention has run out. Both share `_conversations_anonymise`, so a chat reads
the same whichever way its texts went.

What goes and what stays, and why, is in docs/privacy.md. In short: every text a person
wrote or that names them becomes "[erased]"; sequence numbers, times, ratings and the
metric columns stay, so supervisors' reports do not change; consent records stay as proof.
"""

import re
import secrets
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext

from feedback.models import Mention, WebhookDelivery
from knowledgebase.models import ArticleUsage

from ..errors import ChatError, ErrorCode
from ..languages import conversation_language
from ..models import (
    Attachment,
    Conversation,
    Message,
    OutboundEmail,
    PersonalDataAction,
    Site,
    TrainingFlag,
    Visitor,
)
from ..realtime import close_on_commit, visitor_group
from ..selectors import conversations_with_people
from ..services import token_hash
from ..services.conversations import close_conversation

ERASED = "[erased]"
RETENTION_BATCH = 500
# System messages are written by the chat itself; the only personal data they carry is the
# visitor's email address ("we'll answer by email at ..."), so only that is taken out.
EMAIL_ADDRESS = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
UNSENT = [OutboundEmail.State.READY, OutboundEmail.State.SENDING, OutboundEmail.State.FAILED]


def _lock_visitors(visitor_ids: Iterable[int]) -> list[Visitor]:
    # Visitors before their conversations, as visitor_contact_set locks them.
    return list(Visitor.objects.select_for_update().filter(pk__in=list(visitor_ids)).order_by("pk"))


def _lock_conversations(conversation_ids: Iterable[int]) -> list[Conversation]:
    # In primary-key order, so two services locking several chats never deadlock; `of`
    # keeps the lock off the outer-joined rows (see chat/services/locking.py).
    return list(
        conversations_with_people().select_for_update(of=("self",)).filter(pk__in=list(conversation_ids)).order_by("pk")
    )


def _delete_files_on_commit(names: list[str]) -> None:
    storage = Attachment._meta.get_field("file").storage  # type: ignore[union-attr]

    def delete() -> None:
        for name in names:
            storage.delete(name)

    # After the commit: a rolled-back erasure keeps its files.
    transaction.on_commit(delete)


def _webhook_payload_erase(payload: dict[str, Any]) -> None:
    """The stored copy of a webhook (still to be sent, or kept as a record of what was)
    loses the same texts as the chat (feedback/webhooks.py, feedback/conversation_events.py)."""
    if payload.get("mention"):
        payload["mention"]["quote"] = ERASED
    if payload.get("conversation"):
        payload["conversation"]["rating_comment"] = ""
    if payload.get("message"):
        payload["message"]["body"] = ERASED


def _conversations_anonymise(conversations: Sequence[Conversation], *, now: datetime) -> Counter[str]:
    """Replace every text of these chats by "[erased]" and delete their files; the caller
    holds their locks. Counts only what changed, so a second run counts nothing."""
    ids = [conversation.pk for conversation in conversations]
    counts: Counter[str] = Counter()
    counts["conversations"] = Conversation.objects.filter(pk__in=ids, anonymised_at__isnull=True).update(
        anonymised_at=now, preview="", rating_comment=""
    )
    # Agents' replies and notes go too: agents routinely repeat names and addresses.
    counts["messages"] = (
        Message.objects.filter(conversation_id__in=ids)
        .exclude(sender=Message.Sender.SYSTEM)
        .exclude(body=ERASED)
        .update(body=ERASED)
    )
    notices = Message.objects.filter(conversation_id__in=ids, sender=Message.Sender.SYSTEM, body__contains="@")
    changed = []
    for message in notices.only("body"):
        redacted = EMAIL_ADDRESS.sub(ERASED, message.body)
        if redacted != message.body:
            message.body = redacted
            changed.append(message)
    Message.objects.bulk_update(changed, ["body"], batch_size=RETENTION_BATCH)
    counts["messages"] += len(changed)

    attachments = Attachment.objects.filter(conversation_id__in=ids)
    files = [name for name in attachments.values_list("file", flat=True) if name]
    counts["attachments"] = attachments.delete()[1].get(Attachment._meta.label, 0)
    _delete_files_on_commit(files)

    emails = OutboundEmail.objects.filter(conversation_id__in=ids)
    counts["emails_cancelled"] = emails.filter(state__in=UNSENT).update(
        state=OutboundEmail.State.CANCELLED, last_error="Not sent: personal data erased."
    )
    # The last error of a sent email may quote the address the server refused.
    emails.exclude(to_address="", subject="").update(to_address="", subject="")
    emails.exclude(state=OutboundEmail.State.CANCELLED).exclude(last_error="").update(last_error="")

    # The customer's words live on outside the transcript too: in the feedback backlog,
    # the webhooks that carried them, the knowledge base's missed questions and the
    # supervisors' training notes (which quote the chat).
    counts["feedback_quotes"] = (
        Mention.objects.filter(conversation_id__in=ids).exclude(quote=ERASED).update(quote=ERASED)
    )
    deliveries = list(
        WebhookDelivery.objects.filter(
            Q(payload__mention__conversation_id__in=ids) | Q(payload__conversation__id__in=ids)
        )
    )
    for delivery in deliveries:
        _webhook_payload_erase(delivery.payload)
    WebhookDelivery.objects.bulk_update(deliveries, ["payload"], batch_size=RETENTION_BATCH)
    ArticleUsage.objects.filter(conversation_id__in=ids).exclude(question="").update(question=ERASED)
    TrainingFlag.objects.filter(conversation_id__in=ids).exclude(note=ERASED).update(note=ERASED)
    return counts


def _visitors_forget(visitors: Sequence[Visitor], *, now: datetime) -> int:
    """Clear who these visitors are; the caller holds their locks. A new random token hash
    means the browser holding the old token is a stranger from now on. Returns how many
    were not erased before."""
    newly = 0
    for visitor in visitors:
        newly += visitor.erased_at is None
        visitor.name = visitor.email = visitor.external_id = visitor.language = ""
        visitor.recent_pages = []
        visitor.token_hash = token_hash(secrets.token_urlsafe(32))
        visitor.erased_at = visitor.erased_at or now
    # A socket still open would go on as the forgotten visitor: closed, its client says
    # hello again with the old token, and is a stranger.
    close_on_commit(visitor_group(visitor.pk) for visitor in visitors)
    # bulk_update, not save(): last_seen_at must not pretend the visitor came back.
    Visitor.objects.bulk_update(
        visitors,
        ["name", "email", "external_id", "language", "recent_pages", "token_hash", "erased_at"],
        batch_size=RETENTION_BATCH,
    )
    return newly


def personal_data_erase(*, visitors: Sequence[Visitor], actor: User | None, subject: str = "") -> PersonalDataAction:
    """Erase everything that identifies `visitors` or that they wrote (R4), in one transaction.

    A chat still open is ended first, as a supervisor would end it: the person asked to be
    forgotten, and a queued chat nobody took can stay open indefinitely, so refusing would
    leave the request to whoever happens to own the chat. Running it again changes nothing
    but adds a log entry.
    """
    if not visitors:
        raise ChatError(ErrorCode.NOT_FOUND, gettext("No visitor matches; nothing to erase."))
    now = timezone.now()
    with transaction.atomic():
        locked_visitors = _lock_visitors(visitor.pk for visitor in visitors)
        conversation_ids = Conversation.objects.filter(visitor__in=locked_visitors).values_list("pk", flat=True)
        conversations = _lock_conversations(conversation_ids)
        ended = 0
        for conversation in conversations:
            if conversation.status != Conversation.Status.ENDED:
                # Stored once, as text, in the language the visitor's widget shows (chat/languages.py).
                with translation.override(conversation_language(conversation)):
                    notice = gettext("This chat was closed.")
                close_conversation(conversation, notice=notice)
                ended += 1
        counts = _conversations_anonymise(conversations, now=now)
        counts["visitors"] = _visitors_forget(locked_visitors, now=now)
        counts["ended"] = ended
        return PersonalDataAction.objects.create(
            kind=PersonalDataAction.Kind.ERASE,
            subject=subject[:255],
            actor=actor,
            details={**counts, "visitor_ids": [str(visitor.public_id) for visitor in locked_visitors]},
        )


def _expired_batch(site: Site, *, cutoff: datetime, after_pk: int) -> list[int]:
    return list(
        Conversation.objects.filter(
            site=site,
            status=Conversation.Status.ENDED,
            ended_at__lt=cutoff,
            anonymised_at__isnull=True,
            pk__gt=after_pk,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:RETENTION_BATCH]
    )


def _anonymise_batch(ids: list[int], *, cutoff: datetime, now: datetime) -> Counter[str]:
    visitor_ids = set(Conversation.objects.filter(pk__in=ids).values_list("visitor_id", flat=True))
    visitors = _lock_visitors(visitor_ids)
    # Checked again under the lock; an ended chat never reopens, but it may have been erased meanwhile.
    conversations = [
        c
        for c in _lock_conversations(ids)
        if c.status == Conversation.Status.ENDED and c.ended_at and c.ended_at < cutoff and c.anonymised_at is None
    ]
    counts = _conversations_anonymise(conversations, now=now)
    # A visitor is forgotten only once none of their chats keeps its texts: a returning
    # customer with a recent chat still has a name in it.
    keeping = set(
        Conversation.objects.filter(visitor_id__in=visitor_ids, anonymised_at__isnull=True).values_list(
            "visitor_id", flat=True
        )
    )
    counts["visitors"] = _visitors_forget([v for v in visitors if v.pk not in keeping and v.erased_at is None], now=now)
    return counts


def conversations_anonymise_expired(*, now: datetime | None = None) -> PersonalDataAction | None:
    """Anonymise, on every site with a retention period, the chats that ended longer ago
    than it; open chats never. Works in committed batches of RETENTION_BATCH, so memory
    stays bounded and a run cut short keeps what it did; the log entry (kind retention) is
    updated with each batch. Returns it, or None when nothing had expired."""
    now = now or timezone.now()
    action: PersonalDataAction | None = None
    totals: Counter[str] = Counter()
    by_site: dict[str, int] = {}
    for site in Site.objects.filter(retention_days__isnull=False).order_by("pk"):
        assert site.retention_days is not None
        cutoff = now - timedelta(days=site.retention_days)
        after_pk = 0
        while ids := _expired_batch(site, cutoff=cutoff, after_pk=after_pk):
            after_pk = ids[-1]
            with transaction.atomic():
                counts = _anonymise_batch(ids, cutoff=cutoff, now=now)
                totals.update(counts)
                by_site[str(site.pk)] = by_site.get(str(site.pk), 0) + counts["conversations"]
                details = {**totals, "sites": by_site}
                if action is None:
                    action = PersonalDataAction.objects.create(kind=PersonalDataAction.Kind.RETENTION, details=details)
                else:
                    action.details = details
                    action.save(update_fields=["details"])
    return action
