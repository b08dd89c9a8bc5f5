"""What each audience is shown of a conversation and its messages (docs/protocol.md)."""

from datetime import datetime
from typing import Any

from django.db.models import prefetch_related_objects

from .attachments.signing import attachment_url
from .models import Attachment, Conversation, Label, Message


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _topic(conversation: Conversation) -> dict[str, str] | None:
    topic = conversation.topic
    return {"slug": topic.slug, "name": topic.name} if topic else None


def label_text_colour(colour: str) -> str:
    """Black or white, whichever reads better on `colour` ("#rrggbb"): WCAG relative luminance."""

    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    # Black text's contrast is (L + 0.05) / 0.05, white's 1.05 / (L + 0.05): equal at L ≈ 0.179.
    return "#000000" if luminance > 0.179 else "#ffffff"


def label_payload(label: Label) -> dict[str, Any]:
    return {"id": label.pk, "name": label.name, "colour": label.colour, "text_colour": label_text_colour(label.colour)}


def _labels(conversation: Conversation) -> list[dict[str, Any]]:
    # Lists fetch the labels with prefetch_related("labels"); a single conversation gets
    # them here once, and the several payloads one change builds share that query.
    prefetch_related_objects([conversation], "labels")
    return [label_payload(label) for label in conversation.labels.all()]


def agent_name(conversation: Conversation) -> str | None:
    user = conversation.assigned_agent
    if user is None:
        return None
    profile = getattr(user, "agent", None)
    return profile.display_name if profile else user.get_username()


def attachment_payload(message: Message) -> dict[str, Any] | None:
    """The file a message carries, with a link signed now: every payload, sync included,
    gets one that has not expired. An erased file keeps its name and loses its link."""
    try:
        attachment = message.attachment
    except Attachment.DoesNotExist:
        return None
    return {
        "name": attachment.name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "is_image": attachment.is_image,
        "url": attachment_url(attachment) if attachment.file else None,
    }


def message_payload(message: Message, *, prev_seq: int | None = None, for_agent: bool = False) -> dict[str, Any]:
    """A message; `prev_seq` (live events to visitors) is the seq of the one before it
    that the visitor may see, so hidden private notes are not mistaken for a gap.
    Agents also get the database id, which the console's tools (drafting an article
    from chosen answers) refer to."""
    author_name = ""
    if message.sender in (Message.Sender.AGENT, Message.Sender.NOTE) and message.author is not None:
        profile = getattr(message.author, "agent", None)
        author_name = profile.display_name if profile else message.author.get_username()
    payload = {
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "sender": message.sender,
        "author_name": author_name,
        "body": message.body,
        "client_id": message.client_id,
        "created_at": iso(message.created_at),
        "attachment": attachment_payload(message),
    }
    if prev_seq is not None:
        payload["prev_seq"] = prev_seq
    if for_agent:
        payload["id"] = message.pk
    return payload


def conversation_for_visitor(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "topic": _topic(conversation),
        "agent_name": agent_name(conversation),
        "last_seq": conversation.last_public_seq,
        "rating": conversation.rating,
        "transcript_requested": conversation.transcript_requested,
        "agent_read_seq": conversation.agent_read_seq,
        "created_at": iso(conversation.created_at),
    }


def conversation_progress(conversation: Conversation) -> dict[str, Any]:
    """What a new message changes in a conversation as agents see it: the part of
    `conversation_for_agent` sent with every message. Clients merge it into the
    conversation they hold (its people, topic, team and labels stay as they were)."""
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "last_seq": conversation.last_seq,
        "preview": conversation.preview,
        "first_response_at": iso(conversation.first_response_at),
        "waiting_since": iso(conversation.waiting_since),
    }


def conversation_for_agent(conversation: Conversation, *, with_labels: bool = True) -> dict[str, Any]:
    """What agents are shown of a conversation. A message never changes the labels, so the
    message path leaves them out (`with_labels=False`, one query less on every message) and
    the console keeps the ones it has."""
    visitor = conversation.visitor
    agent = None
    if conversation.assigned_agent_id is not None:
        agent = {"id": conversation.assigned_agent_id, "name": agent_name(conversation)}
    payload = {
        "id": conversation.pk,
        "status": conversation.status,
        "topic": _topic(conversation),
        "visitor": {
            "id": str(visitor.public_id),
            "name": visitor.name,
            "email": visitor.email,
            "is_customer": visitor.is_customer,
        },
        "agent": agent,
        "team": {"id": conversation.team.pk, "name": conversation.team.name} if conversation.team else None,
        "needs_follow_up": conversation.needs_follow_up,
        "is_offline_message": conversation.is_offline_message,
        "rating": conversation.rating,
        "visitor_read_seq": conversation.visitor_read_seq,
        "last_seq": conversation.last_seq,
        "preview": conversation.preview,
        "created_at": iso(conversation.created_at),
        "claimed_at": iso(conversation.claimed_at),
        "first_response_at": iso(conversation.first_response_at),
        "ended_at": iso(conversation.ended_at),
        "waiting_since": iso(conversation.waiting_since),
    }
    if with_labels:
        payload["labels"] = _labels(conversation)
    return payload
