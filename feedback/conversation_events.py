"""Conversation events as outbound webhooks: their payloads, owed through the same
deliveries as feedback (`feedback.webhooks`). docs/api.md documents every field.

The chat services call `conversation_event_queue` in the transaction of the event, with
the rows they already hold: a payload is built from them without a query, and with no
endpoint subscribed to the event nothing is built at all.
"""

from typing import Any

from django.utils import timezone

from chat.models import Conversation, Message

from .models import WebhookDelivery
from .webhooks import webhook_deliveries_create, webhook_event_subscribed

Event = WebhookDelivery.Event

# Visitors' and agents' words only: private notes and system notices never leave.
SENT_SENDERS = (Message.Sender.VISITOR, Message.Sender.AGENT)


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _person(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    agent = getattr(user, "agent", None)
    return {"id": user.pk, "name": agent.display_name if agent is not None else user.get_username()}


def conversation_event_payload(conversation: Conversation) -> dict[str, Any]:
    """The conversation as a receiver sees it: no visitor token, name or email."""
    return {
        "id": conversation.pk,
        "site_id": conversation.site_id,
        "visitor_id": str(conversation.visitor.public_id),
        "visitor_is_customer": conversation.visitor.is_customer,
        "topic": conversation.topic.slug if conversation.topic is not None else None,
        "status": conversation.status,
        "agent": _person(conversation.assigned_agent),
        "is_offline_message": conversation.is_offline_message,
        "rating": conversation.rating,
        "rating_comment": conversation.rating_comment,
        "created_at": _when(conversation.created_at),
        "claimed_at": _when(conversation.claimed_at),
        "first_response_at": _when(conversation.first_response_at),
        "ended_at": _when(conversation.ended_at),
        "rated_at": _when(conversation.rated_at),
    }


def message_event_payload(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "seq": message.seq,
        "sender": message.sender,
        "author": _person(message.author) if message.sender == Message.Sender.AGENT else None,
        "body": message.body,
        "created_at": _when(message.created_at),
    }


def conversation_event_queue(
    *, event: str, conversation: Conversation, message: Message | None = None
) -> list[WebhookDelivery]:
    """Owe a conversation `event` (and the message it is about) to its subscribed
    endpoints; notes and system messages are never sent."""
    if message is not None and message.sender not in SENT_SENDERS:
        return []
    if not webhook_event_subscribed(event=event):
        return []
    payload = {
        "event": event,
        "occurred_at": timezone.now().isoformat(),
        "conversation": conversation_event_payload(conversation),
        "message": message_event_payload(message) if message is not None else None,
    }
    return webhook_deliveries_create(event=event, payload=payload)
