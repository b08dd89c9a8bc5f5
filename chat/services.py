"""Writes of the chat domain: every change to conversations and messages goes through here.

Each state change locks the conversation row, checks the current state and returns
early when there is nothing to do, so running it twice is harmless. Clients are told
only after the commit, through `realtime.send_on_commit`.
"""

import hashlib
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agents.models import Agent
from agents.selectors import team_ids_for_topic

from . import payloads
from .errors import ChatError, ErrorCode
from .models import Conversation, Message, Site, Topic, Visitor
from .realtime import SUPERVISORS_GROUP, agent_group, send_on_commit, team_group, visitor_group
from .selectors import agent_can_see, conversation_open_for_visitor, conversations_with_people

PREVIEW_LENGTH = 140


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def visitor_identify(*, site: Site, token: str | None) -> tuple[Visitor, str]:
    """The visitor holding `token` on this site, or a new one with a new token."""
    if token:
        visitor = Visitor.objects.filter(site=site, token_hash=_token_hash(token)).first()
        if visitor is not None:
            return visitor, token
    token = secrets.token_urlsafe(32)
    return Visitor.objects.create(site=site, token_hash=_token_hash(token)), token


def conversation_start(*, visitor: Visitor, topic_slug: str | None) -> Conversation:
    """Open a conversation, or return the visitor's open one (a second tab, a double click)."""
    topic = None
    if topic_slug:
        topic = Topic.objects.filter(site_id=visitor.site_id, slug=topic_slug).first()
        if topic is None:
            raise ChatError(ErrorCode.UNKNOWN_TOPIC)
    with transaction.atomic():
        # The visitor row lock serialises concurrent starts of the same visitor.
        Visitor.objects.select_for_update().filter(pk=visitor.pk).first()
        existing = conversation_open_for_visitor(visitor=visitor)
        if existing is not None:
            return existing
        conversation = Conversation.objects.create(site_id=visitor.site_id, visitor=visitor, topic=topic)
    # The queue learns of it with the first message, so agents never see empty chats.
    return conversations_with_people().get(pk=conversation.pk)


def _lock_conversation(conversation_id: int) -> Conversation:
    conversation = conversations_with_people().select_for_update(of=("self",)).filter(pk=conversation_id).first()
    if conversation is None:
        raise ChatError(ErrorCode.NOT_FOUND)
    return conversation


def _queue_groups(conversation: Conversation) -> list[str]:
    return [team_group(team_id) for team_id in team_ids_for_topic(conversation.topic_id)] + [SUPERVISORS_GROUP]


def _announce_conversation(conversation: Conversation) -> None:
    """Tell the visitor, the owner and the queue it sits in (or left) of a state change."""
    groups = _queue_groups(conversation)
    if conversation.assigned_agent_id is not None:
        groups.append(agent_group(conversation.assigned_agent_id))
    send_on_commit(
        groups, {"type": "conversation.updated", "conversation": payloads.conversation_for_agent(conversation)}
    )
    send_on_commit(
        [visitor_group(conversation.visitor_id)],
        {"type": "conversation.updated", "conversation": payloads.conversation_for_visitor(conversation)},
    )


def _message_insert(
    conversation: Conversation,
    *,
    sender: Message.Sender,
    body: str,
    author: Agent | None = None,
    client_id: str | None = None,
) -> Message:
    """Store a message with the next sequence number; the caller holds the row lock."""
    now = timezone.now()
    conversation.last_seq += 1
    message = Message.objects.create(
        conversation=conversation,
        seq=conversation.last_seq,
        sender=sender,
        author=author.user if author else None,
        body=body,
        client_id=client_id,
        created_at=now,
    )
    changed = ["last_seq"]
    if sender == Message.Sender.VISITOR:
        conversation.preview = body[:PREVIEW_LENGTH]
        changed.append("preview")
        if conversation.waiting_since is None:
            conversation.waiting_since = now
            changed.append("waiting_since")
    elif sender == Message.Sender.AGENT:
        conversation.waiting_since = None
        changed.append("waiting_since")
        if conversation.first_response_at is None:
            conversation.first_response_at = now
            changed.append("first_response_at")
    conversation.save(update_fields=changed)

    send_on_commit(
        [visitor_group(conversation.visitor_id)], {"type": "message.new", "message": payloads.message_payload(message)}
    )
    if conversation.assigned_agent_id is not None:
        send_on_commit(
            [agent_group(conversation.assigned_agent_id)],
            {
                "type": "message.new",
                "message": payloads.message_payload(message),
                "conversation": payloads.conversation_for_agent(conversation),
            },
        )
    elif conversation.status == Conversation.Status.QUEUED:
        send_on_commit(
            _queue_groups(conversation),
            {"type": "conversation.updated", "conversation": payloads.conversation_for_agent(conversation)},
        )
    return message


def _clean_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise ChatError(ErrorCode.EMPTY_BODY)
    limit = settings.CHAT_MESSAGE_MAX_LENGTH
    if len(body) > limit:
        raise ChatError(ErrorCode.BODY_TOO_LONG, f"A message can be at most {limit} characters.")
    return body


def message_post(*, conversation_id: int, author: Visitor | Agent, body: str, client_id: str) -> tuple[Message, bool]:
    """Store a visitor's or agent's message once per `client_id`; returns it and whether it is new.

    A visitor may write only in its own conversation, an agent only in one it owns.
    """
    body = _clean_body(body)
    with transaction.atomic():
        conversation = _lock_conversation(conversation_id)
        if isinstance(author, Visitor):
            if conversation.visitor_id != author.pk:
                raise ChatError(ErrorCode.NOT_FOUND)
            sender = Message.Sender.VISITOR
        else:
            if conversation.assigned_agent_id != author.user_id:
                if not agent_can_see(agent=author, conversation=conversation):
                    raise ChatError(ErrorCode.NOT_FOUND)
                raise ChatError(ErrorCode.NOT_OWNER)
            sender = Message.Sender.AGENT
        # A resend is answered with the stored message even after the chat ended.
        existing = Message.objects.filter(conversation=conversation, sender=sender, client_id=client_id).first()
        if existing is not None:
            return existing, False
        if conversation.status == Conversation.Status.ENDED:
            raise ChatError(ErrorCode.CONVERSATION_ENDED)
        message = _message_insert(
            conversation,
            sender=sender,
            body=body,
            author=author if isinstance(author, Agent) else None,
            client_id=client_id,
        )
    return message, True


def conversation_claim(*, conversation_id: int, agent: Agent) -> Conversation:
    """Make `agent` the owner of a queued chat. Of simultaneous claims exactly one wins."""
    with transaction.atomic():
        conversation = _lock_conversation(conversation_id)
        if not agent_can_see(agent=agent, conversation=conversation):
            raise ChatError(ErrorCode.NOT_FOUND)
        if conversation.status == Conversation.Status.ENDED:
            raise ChatError(ErrorCode.CONVERSATION_ENDED)
        if conversation.status == Conversation.Status.ACTIVE:
            if conversation.assigned_agent_id == agent.user_id:
                return conversation
            raise ChatError(ErrorCode.ALREADY_CLAIMED)
        conversation.status = Conversation.Status.ACTIVE
        conversation.assigned_agent = agent.user
        conversation.claimed_at = timezone.now()
        conversation.save(update_fields=["status", "assigned_agent", "claimed_at"])
        _message_insert(conversation, sender=Message.Sender.SYSTEM, body=f"{agent.display_name} joined the chat.")
        _announce_conversation(conversation)
    return conversation


def conversation_end(*, conversation_id: int, ended_by: Visitor | Agent) -> Conversation:
    """End a chat: by its visitor, its owner or a supervisor. Ending it again changes nothing."""
    with transaction.atomic():
        conversation = _lock_conversation(conversation_id)
        if isinstance(ended_by, Visitor):
            if conversation.visitor_id != ended_by.pk:
                raise ChatError(ErrorCode.NOT_FOUND)
            who = "The visitor"
        else:
            if not agent_can_see(agent=ended_by, conversation=conversation):
                raise ChatError(ErrorCode.NOT_FOUND)
            if conversation.assigned_agent_id != ended_by.user_id and not ended_by.is_supervisor:
                raise ChatError(ErrorCode.NOT_OWNER)
            who = ended_by.display_name
        if conversation.status == Conversation.Status.ENDED:
            return conversation
        conversation.status = Conversation.Status.ENDED
        conversation.ended_at = timezone.now()
        conversation.waiting_since = None
        conversation.save(update_fields=["status", "ended_at", "waiting_since"])
        _message_insert(conversation, sender=Message.Sender.SYSTEM, body=f"{who} ended the chat.")
        _announce_conversation(conversation)
    return conversation
