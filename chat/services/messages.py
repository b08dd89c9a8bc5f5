from django.conf import settings
from django.db import IntegrityError, connection, transaction

from agents.canned import canned_edit_ratio, canned_render, canned_use
from agents.composer import composer_check
from agents.models import Agent
from feedback.conversation_events import Event
from feedback.webhooks import webhook_event_subscribed

from ..emails import email_queue_follow_up
from ..errors import ChatError, ErrorCode
from ..models import Attachment, Conversation, Message, Visitor
from ..realtime import agent_group, send_on_commit, visitor_group
from ..selectors import agent_can_see, conversation_for_agent, conversation_for_visitor
from .assignment import dispatch_on_commit
from .audiences import agent_audience
from .locking import lock_conversation_row
from .statements import RowChanged, read_row
from .timeline import message_insert
from .waiting import queue_greeting, queue_positions_announce


def _clean_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise ChatError(ErrorCode.EMPTY_BODY)
    limit = settings.CHAT_MESSAGE_MAX_LENGTH
    if len(body) > limit:
        raise ChatError(ErrorCode.BODY_TOO_LONG, f"A message can be at most {limit} characters.")
    return body


def _check_playbook(conversation: Conversation, body: str, overridden: list[str]) -> list[str]:
    """The composer rules (R10-R12) for an agent's reply: returns the codes sent anyway,
    or refuses when the agent has not seen a warning yet."""
    warnings = composer_check(body=body, site_id=conversation.site_id)
    unseen = [warning for warning in warnings if warning.code not in overridden]
    if unseen:
        raise ChatError(ErrorCode.COMPOSER_WARNING, warnings=[warning.as_dict() for warning in warnings])
    return sorted(warning.code for warning in warnings)


def _insert(
    conversation: Conversation,
    author: Visitor | Agent,
    sender: Message.Sender,
    body: str,
    client_id: str,
    overridden: list[str] | None,
    canned_id: int | None,
    attachment: Attachment | None,
    unchanged: tuple[str, ...] = (),
) -> Message:
    extra: dict[str, object] = {}
    # A file's message body is its name: no reply text for the composer rules to judge.
    if sender == Message.Sender.AGENT and attachment is None:
        assert isinstance(author, Agent)
        extra["warnings_overridden"] = _check_playbook(conversation, body, overridden or [])
        canned = canned_use(canned_id=canned_id, agent=author) if canned_id else None
        if canned is not None:
            rendered = canned_render(canned=canned, visitor_name=conversation.visitor.name, agent=author)
            extra["canned_response"] = canned
            extra["canned_edit_ratio"] = canned_edit_ratio(rendered=rendered, sent=body)
    return message_insert(
        conversation,
        sender=sender,
        body=body,
        author=author if isinstance(author, Agent) else None,
        client_id=client_id,
        attachment=attachment,
        unchanged=unchanged,
        **extra,
    )


# What `_post_unlocked` decides on; the other columns a message writes move only with last_seq.
UNLOCKED_DECIDED_ON = ("status", "assigned_agent_id", "waiting_since", "needs_follow_up")


def _post_unlocked(
    conversation_id: int,
    author: Visitor | Agent,
    sender: Message.Sender,
    body: str,
    client_id: str,
    overridden: list[str] | None,
) -> Message | None:
    """The common message, a visitor's or its owner's reply in an active chat, in two
    round trips of the database thread, not four (BEGIN, the lock, the write, COMMIT):
    the row is read without a lock and the write checks it did not change meanwhile.
    None when this does not apply or the row changed: the locked path decides then.

    Only where the write is one statement (PostgreSQL), outside a caller's transaction
    (which a resend's unique violation would abort; the locked path's savepoint contains
    it), and when nothing else is written with the message (a follow-up email, a canned
    reply's use, webhook deliveries: one subscribed meanwhile is owed in its own statement)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block or sender == Message.Sender.NOTE:
        return None
    if webhook_event_subscribed(event=Event.MESSAGE_CREATED):
        return None
    conversation = read_row(Conversation, conversation_id)
    if conversation is None or conversation.status != Conversation.Status.ACTIVE:
        return None
    if sender == Message.Sender.AGENT and conversation.needs_follow_up:
        return None
    try:
        _authorise(conversation, author, sender)
    except ChatError:
        return None  # the locked path refuses it, with the reason as of the lock
    try:
        return _insert(
            conversation, author, sender, body, client_id, overridden, None, None, unchanged=UNLOCKED_DECIDED_ON
        )
    except RowChanged:
        return None


def _stored(conversation_id: int, sender: Message.Sender, client_id: str) -> Message | None:
    """The message a resend of `client_id` refers to, if it was stored."""
    return Message.objects.filter(conversation_id=conversation_id, sender=sender, client_id=client_id).first()


def _sender(author: Visitor | Agent, note: bool) -> Message.Sender:
    if isinstance(author, Visitor):
        return Message.Sender.VISITOR
    return Message.Sender.NOTE if note else Message.Sender.AGENT


def _authorise(conversation: Conversation, author: Visitor | Agent, sender: Message.Sender) -> None:
    if isinstance(author, Visitor):
        if conversation.visitor_id != author.pk:
            raise ChatError(ErrorCode.NOT_FOUND)
    elif sender == Message.Sender.NOTE:
        if not agent_can_see(agent=author, conversation=conversation):
            raise ChatError(ErrorCode.NOT_FOUND)
    elif conversation.assigned_agent_id != author.user_id:
        if not agent_can_see(agent=author, conversation=conversation):
            raise ChatError(ErrorCode.NOT_FOUND)
        raise ChatError(ErrorCode.NOT_OWNER)


def message_post(
    *,
    conversation_id: int,
    author: Visitor | Agent,
    body: str,
    client_id: str,
    note: bool = False,
    overridden: list[str] | None = None,
    canned_id: int | None = None,
    attachment: Attachment | None = None,
) -> tuple[Message, bool]:
    """Store a visitor's message, an agent's reply or an agent's private note, once per
    `client_id`; returns it and whether it is new.

    A visitor writes only in its own conversation; an agent replies only in one it owns,
    and leaves notes in any it can see. Replies pass the composer rules (R10-R12).
    An `attachment` (its file already stored, see chat.attachments) is saved with the
    message, in the same transaction; a resend leaves it unsaved.
    """
    body = _clean_body(body)
    sender = _sender(author, note)
    try:
        if canned_id is None and attachment is None:
            message = _post_unlocked(conversation_id, author, sender, body, client_id, overridden)
            if message is not None:
                return message, True
        with transaction.atomic():
            conversation = lock_conversation_row(conversation_id)
            _authorise(conversation, author, sender)
            if conversation.status == Conversation.Status.ENDED:
                # A resend is answered with the stored message even after the chat ended.
                existing = _stored(conversation_id, sender, client_id)
                if existing is None:
                    raise ChatError(ErrorCode.CONVERSATION_ENDED)
                return existing, False
            message = _insert(conversation, author, sender, body, client_id, overridden, canned_id, attachment)
            if sender == Message.Sender.AGENT and conversation.needs_follow_up and conversation.visitor.email:
                email_queue_follow_up(message=message)
            if sender == Message.Sender.VISITOR and conversation.status == Conversation.Status.QUEUED:
                if not Message.objects.filter(conversation=conversation, sender=sender, seq__lt=message.seq).exists():
                    queue_greeting(conversation)
                    queue_positions_announce(site_id=conversation.site_id)
                dispatch_on_commit()
    except IntegrityError:
        # A resend of a stored `client_id` breaks the unique constraint: cheaper than a
        # look-up before every new message, and no savepoint is needed, because the whole
        # transaction (the resend's canned-use count and counters) is rolled back.
        existing = _stored(conversation_id, sender, client_id)
        if existing is None:
            raise
        return existing, False
    except ChatError as error:
        # The original may have been sent before a term was added: the resend gets it.
        existing = _stored(conversation_id, sender, client_id) if error.code == ErrorCode.COMPOSER_WARNING else None
        if existing is None:
            raise
        return existing, False
    return message, True


def conversation_typing(*, conversation_id: int, by: Visitor | Agent) -> None:
    """Tell the other side someone is typing: the visitor to its owner, the owner to the visitor."""
    if isinstance(by, Visitor):
        conversation = conversation_for_visitor(visitor=by, conversation_id=conversation_id)
        if conversation.assigned_agent_id is not None:
            frame = {"type": "typing", "conversation_id": conversation.pk, "sender": "visitor"}
            send_on_commit([agent_group(conversation.assigned_agent_id)], frame)
        return
    conversation = conversation_for_agent(agent=by, conversation_id=conversation_id)
    if conversation.assigned_agent_id == by.user_id and conversation.status == Conversation.Status.ACTIVE:
        frame = {"type": "typing", "conversation_id": conversation.pk, "sender": "agent", "name": by.display_name}
        send_on_commit([visitor_group(conversation.visitor_id)], frame)


def conversation_mark_read(*, conversation_id: int, reader: Visitor | Agent, seq: int) -> Conversation:
    """Record that the visitor, or the owning agent, has seen everything up to `seq`, and
    tell the other side. Read marks only move forward, so a late or repeated one is harmless."""
    if isinstance(reader, Visitor):
        conversation = conversation_for_visitor(visitor=reader, conversation_id=conversation_id)
        field, other = "visitor_read_seq", agent_audience(conversation)
    else:
        conversation = conversation_for_agent(agent=reader, conversation_id=conversation_id)
        if conversation.assigned_agent_id != reader.user_id:
            return conversation  # only the owner's reading is the one the customer cares about
        field, other = "agent_read_seq", [visitor_group(conversation.visitor_id)]
    seq = min(seq, conversation.last_seq)
    updated = Conversation.objects.filter(pk=conversation.pk, **{f"{field}__lt": seq}).update(**{field: seq})
    if updated:
        setattr(conversation, field, seq)
        reader_kind = "visitor" if isinstance(reader, Visitor) else "agent"
        send_on_commit(other, {"type": "read", "conversation_id": conversation.pk, "reader": reader_kind, "seq": seq})
    return conversation
