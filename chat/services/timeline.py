"""Appending to a conversation's timeline: the one place sequence numbers are handed out."""

from django.utils import timezone

from agents.models import Agent
from feedback.conversation_events import Event, conversation_event_queue

from .. import payloads
from ..models import Attachment, Conversation, Message
from ..realtime import send_on_commit, visitor_group
from .audiences import agent_audience, queue_groups, tell_supervisors
from .statements import insert_row_updating

PREVIEW_LENGTH = 140


def message_insert(
    conversation: Conversation,
    *,
    sender: Message.Sender,
    body: str,
    author: Agent | None = None,
    client_id: str | None = None,
    attachment: Attachment | None = None,
    unchanged: tuple[str, ...] = (),
    **extra: object,
) -> Message:
    """Store a message with the next sequence number and tell who may see it.

    The caller holds the conversation's row lock, or read the row without it and names in
    `unchanged` the columns it decided on: the message is then stored only if none of
    them (nor `last_seq`) changed since, else RowChanged. Private notes take a sequence
    number too, but the visitor never gets them: `last_public_seq` and `prev_seq` let the
    visitor's client tell a hidden note from a lost message.
    """
    # last_seq always: the message's sequence number is the one read, plus one.
    read = {name: getattr(conversation, name) for name in ("last_seq", *unchanged)} if unchanged else None
    now = timezone.now()
    conversation.last_seq += 1
    message = Message(
        conversation=conversation,
        seq=conversation.last_seq,
        sender=sender,
        author=author.user if author else None,
        body=body,
        client_id=client_id,
        created_at=now,
        **extra,
    )
    changed = ["last_seq"]
    if sender == Message.Sender.VISITOR:
        conversation.preview = body[:PREVIEW_LENGTH]
        changed.append("preview")
        if conversation.waiting_since is None:
            conversation.waiting_since = now
            changed.append("waiting_since")
    elif sender == Message.Sender.AGENT:
        if conversation.waiting_since is not None:
            waited = int((now - conversation.waiting_since).total_seconds())
            conversation.longest_wait_seconds = max(conversation.longest_wait_seconds, waited)
        conversation.waiting_since = None
        conversation.agent_message_count += 1
        conversation.canned_message_count += 1 if message.canned_response_id else 0
        conversation.warnings_overridden_count += 1 if message.warnings_overridden else 0
        changed += [
            "waiting_since",
            "longest_wait_seconds",
            "agent_message_count",
            "canned_message_count",
            "warnings_overridden_count",
        ]
        if conversation.first_response_at is None:
            conversation.first_response_at = now
            changed.append("first_response_at")
    prev_public_seq = conversation.last_public_seq
    if sender != Message.Sender.NOTE:
        conversation.last_public_seq = message.seq
        changed.append("last_public_seq")
    insert_row_updating(message, conversation, changed, read)
    if attachment is not None:
        attachment.message = message
        attachment.save()
    # The payloads below read it: known here, so no query on the hot path of every message.
    Message.attachment.related.set_cached_value(message, attachment)
    conversation_event_queue(event=Event.MESSAGE_CREATED, conversation=conversation, message=message)

    if sender != Message.Sender.NOTE:
        send_on_commit(
            [visitor_group(conversation.visitor_id)],
            {"type": "message.new", "message": payloads.message_payload(message, prev_seq=prev_public_seq)},
        )
    if conversation.status == Conversation.Status.QUEUED and sender == Message.Sender.VISITOR:
        # The queue shows the latest words and the timer; agents previewing sync on last_seq.
        send_on_commit(
            queue_groups(conversation),
            {
                "type": "conversation.updated",
                "conversation": payloads.conversation_for_agent(conversation, with_labels=False),
            },
        )
    else:
        send_on_commit(
            agent_audience(conversation),
            {
                "type": "message.new",
                "message": payloads.message_payload(message, for_agent=True),
                "conversation": payloads.conversation_progress(conversation),
            },
        )
        tell_supervisors(conversation)
    return message
