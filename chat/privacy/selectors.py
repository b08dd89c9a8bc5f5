"""Reads of personal data (R4): who a subject is, what is stored about them, and the export.

The export is a read, but handing personal data out is itself logged (a
`PersonalDataAction` of kind export), so the log shows every copy that left the system.
"""

import contextlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext

from feedback.models import Mention

from ..errors import ChatError, ErrorCode
from ..models import (
    Attachment,
    ConsentRecord,
    Conversation,
    Message,
    OutboundEmail,
    PersonalDataAction,
    Visitor,
)

EXPORT_FORMAT = "helpdesk-personal-data/1"


def _subject_query(subject: str) -> Q:
    # An email may also survive only where it was used: a consent given, an email sent,
    # after the visitor changed the address on their record.
    query = (
        Q(email__iexact=subject)
        | Q(external_id=subject)
        | Exists(ConsentRecord.objects.filter(visitor=OuterRef("pk"), email__iexact=subject))
        | Exists(OutboundEmail.objects.filter(conversation__visitor=OuterRef("pk"), to_address__iexact=subject))
    )
    with contextlib.suppress(ValueError):  # not a visitor id, then
        query |= Q(public_id=uuid.UUID(subject))
    return query


def personal_data_find(*, subject: str) -> list[Visitor]:
    """Every visitor, on any site, that `subject` names: an email address (any case, also
    one used only for a consent or an email sent), a visitor's public id, or the site's own
    customer id."""
    subject = subject.strip()
    if not subject:
        raise ChatError(ErrorCode.INVALID_FIELD, gettext("Give an email address, a visitor id or a customer id."))
    if len(subject) > 255:
        raise ChatError(ErrorCode.INVALID_FIELD, gettext("That is too long for an email address or an id."))
    return list(Visitor.objects.filter(_subject_query(subject)).select_related("site").order_by("pk"))


def personal_data_summary(*, visitors: Sequence[Visitor]) -> dict[str, int]:
    """How much is stored about these visitors: what the admin shows before an export or erasure."""
    ids = [visitor.pk for visitor in visitors]
    conversations = Conversation.objects.filter(visitor_id__in=ids)
    return {
        "visitors": len(ids),
        "conversations": conversations.count(),
        "open_conversations": conversations.exclude(status=Conversation.Status.ENDED).count(),
        "messages": Message.objects.filter(conversation__visitor_id__in=ids).count(),
        "attachments": Attachment.objects.filter(conversation__visitor_id__in=ids).count(),
        "emails": OutboundEmail.objects.filter(conversation__visitor_id__in=ids).count(),
        "consents": ConsentRecord.objects.filter(visitor_id__in=ids).count(),
    }


def _at(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _conversation_export(conversation: Conversation) -> dict[str, Any]:
    messages = list(conversation.messages.all())
    seq_of = {message.pk: message.seq for message in messages}
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "topic": conversation.topic.name if conversation.topic else None,
        "created_at": _at(conversation.created_at),
        "claimed_at": _at(conversation.claimed_at),
        "first_response_at": _at(conversation.first_response_at),
        "ended_at": _at(conversation.ended_at),
        "is_offline_message": conversation.is_offline_message,
        "needs_follow_up": conversation.needs_follow_up,
        "transcript_requested": conversation.transcript_requested,
        "rating": conversation.rating,
        "rating_comment": conversation.rating_comment,
        "rated_at": _at(conversation.rated_at),
        "anonymised_at": _at(conversation.anonymised_at),
        "messages": [
            {"seq": m.seq, "sender": m.sender, "body": m.body, "created_at": _at(m.created_at)} for m in messages
        ],
        "attachments": [
            {
                "id": str(a.public_id),
                "message_seq": seq_of.get(a.message_id) if a.message_id else None,
                "name": a.name,
                "content_type": a.content_type,
                "size": a.size,
                "created_at": _at(a.created_at),
            }
            for a in conversation.attachments.all()
        ],
        "emails": [
            {
                "kind": e.kind,
                "to_address": e.to_address,
                "subject": e.subject,
                "state": e.state,
                "created_at": _at(e.created_at),
                "sent_at": _at(e.sent_at),
            }
            for e in conversation.emails.all()
        ],
        "feedback_mentions": [
            {"kind": m.item.kind, "summary": m.item.summary, "quote": m.quote, "created_at": _at(m.created_at)}
            for m in conversation.feedback_mentions.all()
        ],
    }


def _visitor_export(visitor: Visitor) -> dict[str, Any]:
    return {
        "id": str(visitor.public_id),
        "site": visitor.site.name,
        "name": visitor.name,
        "email": visitor.email,
        "external_id": visitor.external_id,
        "is_customer": visitor.is_customer,
        "language": visitor.language,
        "created_at": _at(visitor.created_at),
        "last_seen_at": _at(visitor.last_seen_at),
        "erased_at": _at(visitor.erased_at),
        "recent_pages": visitor.recent_pages,
        "consents": [
            {
                "kind": c.kind,
                "given": c.given,
                "email": c.email,
                "wording": c.wording,
                "source": c.source,
                "recorded_at": _at(c.recorded_at),
            }
            for c in visitor.consents.all()
        ],
        "conversations": [_conversation_export(c) for c in visitor.conversations.all()],
    }


def _visitors_for_export(ids: list[int]) -> list[Visitor]:
    """The visitors with everything the export holds, in seven queries however many chats."""
    conversations = (
        Conversation.objects.select_related("topic")
        .order_by("created_at", "pk")
        .prefetch_related(
            Prefetch("messages", queryset=Message.objects.order_by("seq")),
            Prefetch("attachments", queryset=Attachment.objects.order_by("created_at", "pk")),
            Prefetch("emails", queryset=OutboundEmail.objects.order_by("created_at", "pk")),
            Prefetch("feedback_mentions", queryset=Mention.objects.select_related("item").order_by("created_at")),
        )
    )
    return list(
        Visitor.objects.filter(pk__in=ids)
        .select_related("site")
        .order_by("pk")
        .prefetch_related(
            Prefetch("consents", queryset=ConsentRecord.objects.order_by("recorded_at", "pk")),
            Prefetch("conversations", queryset=conversations),
        )
    )


def personal_data_export(*, visitors: Sequence[Visitor], actor: User | None, subject: str = "") -> dict[str, Any]:
    """Everything stored about `visitors`, as a JSON-ready dict (the format is described in
    docs/privacy.md), and a log entry saying who took it and how much it held."""
    if not visitors:
        raise ChatError(ErrorCode.NOT_FOUND, gettext("No visitor matches; nothing to export."))
    exported = [_visitor_export(visitor) for visitor in _visitors_for_export([v.pk for v in visitors])]
    conversations = [c for v in exported for c in v["conversations"]]
    counts = {
        "visitors": len(exported),
        "conversations": len(conversations),
        "messages": sum(len(c["messages"]) for c in conversations),
        "attachments": sum(len(c["attachments"]) for c in conversations),
        "emails": sum(len(c["emails"]) for c in conversations),
        "consents": sum(len(v["consents"]) for v in exported),
    }
    PersonalDataAction.objects.create(
        kind=PersonalDataAction.Kind.EXPORT,
        subject=subject[:255],
        actor=actor,
        details={**counts, "visitor_ids": [v["id"] for v in exported]},
    )
    return {
        "format": EXPORT_FORMAT,
        "generated_at": _at(timezone.now()),
        "subject": subject,
        "counts": counts,
        # Trigger firings are kept under the widget's random browser id, which nothing
        # links to a visitor, so no firing can be said to be this person's.
        "visitors": exported,
    }
