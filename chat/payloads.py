"""What each audience is shown of a conversation and its messages (docs/protocol.md)."""

from datetime import datetime
from typing import Any

from .models import Conversation, Message


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _topic(conversation: Conversation) -> dict[str, str] | None:
    topic = conversation.topic
    return {"slug": topic.slug, "name": topic.name} if topic else None


def agent_name(conversation: Conversation) -> str | None:
    user = conversation.assigned_agent
    if user is None:
        return None
    profile = getattr(user, "agent", None)
    return profile.display_name if profile else user.get_username()


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


def conversation_for_agent(conversation: Conversation) -> dict[str, Any]:
    visitor = conversation.visitor
    agent = None
    if conversation.assigned_agent_id is not None:
        agent = {"id": conversation.assigned_agent_id, "name": agent_name(conversation)}
    return {
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
