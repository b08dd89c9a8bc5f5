from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from agents.models import Agent, Team
from agents.selectors import agent_is_present
from feedback.conversation_events import Event, conversation_event_queue

from ..emails import email_queue_review_request, email_queue_transcript
from ..errors import ChatError, ErrorCode
from ..languages import conversation_language
from ..models import Conversation, Message, Visitor
from ..selectors import agent_can_see
from .assignment import dispatch_on_commit
from .audiences import announce_conversation
from .locking import lock_agent, lock_conversation, open_chat_count
from .timeline import message_insert
from .waiting import queue_positions_announce

FOLLOW_UP_ASK = gettext_lazy(
    "I don't have the answer yet, and I'd rather find out than guess. If you leave your "
    "email, I'll send you the answer; it will also be here when you come back."
)


def _assign(conversation: Conversation, agent: Agent) -> None:
    """Make `agent` the owner; the caller holds the locks on both rows."""
    now = timezone.now()
    conversation.status = Conversation.Status.ACTIVE
    conversation.assigned_agent = agent.user
    conversation.claimed_at = now
    conversation.save(update_fields=["status", "assigned_agent", "claimed_at"])
    Agent.objects.filter(pk=agent.pk).update(last_assigned_at=now)


def _refuse_over_limit(agent: Agent) -> None:
    count = open_chat_count(agent)
    if count >= agent.max_chats:
        raise ChatError(
            ErrorCode.AT_CAPACITY,
            f"{agent.display_name} already has {count} chats open (limit {agent.max_chats}); end one first.",
        )


def conversation_claim(*, conversation_id: int, agent: Agent) -> Conversation:
    """Make `agent` the owner of a queued chat. Of simultaneous claims exactly one wins,
    and an agent never goes over its limit of open chats (R7, R8)."""
    with transaction.atomic():
        agent = lock_agent(agent)
        conversation = lock_conversation(conversation_id)
        if not agent_can_see(agent=agent, conversation=conversation):
            raise ChatError(ErrorCode.NOT_FOUND)
        if conversation.status == Conversation.Status.ENDED:
            raise ChatError(ErrorCode.CONVERSATION_ENDED)
        if conversation.status == Conversation.Status.ACTIVE:
            if conversation.assigned_agent_id == agent.user_id:
                return conversation
            raise ChatError(ErrorCode.ALREADY_CLAIMED)
        _refuse_over_limit(agent)
        _assign(conversation, agent)
        conversation_event_queue(event=Event.CONVERSATION_CLAIMED, conversation=conversation)
        with translation.override(conversation_language(conversation)):
            joined = _("%(agent)s joined the chat.") % {"agent": agent.display_name}
        message_insert(conversation, sender=Message.Sender.SYSTEM, body=joined)
        announce_conversation(conversation)
        queue_positions_announce(site_id=conversation.site_id)
    return conversation


def conversation_end(*, conversation_id: int, ended_by: Visitor | Agent) -> Conversation:
    """End a chat: by its visitor, its owner or a supervisor. Ending it again changes nothing."""
    with transaction.atomic():
        conversation = lock_conversation(conversation_id)
        if isinstance(ended_by, Visitor):
            if conversation.visitor_id != ended_by.pk:
                raise ChatError(ErrorCode.NOT_FOUND)
        else:
            _require_owner_or_supervisor(conversation, ended_by)
        if conversation.status != Conversation.Status.ENDED:
            with translation.override(conversation_language(conversation)):
                if isinstance(ended_by, Visitor):
                    notice = _("The visitor ended the chat.")
                else:
                    notice = _("%(agent)s ended the chat.") % {"agent": ended_by.display_name}
            close_conversation(conversation, notice=notice)
    return conversation


def close_conversation(conversation: Conversation, *, notice: str) -> None:
    """Store the end, tell everyone, send the transcript if asked; the caller holds the lock."""
    if conversation.status == Conversation.Status.QUEUED:
        queue_positions_announce(site_id=conversation.site_id)
    conversation.status = Conversation.Status.ENDED
    conversation.ended_at = timezone.now()
    conversation.waiting_since = None
    conversation.save(update_fields=["status", "ended_at", "waiting_since", "abandoned_at"])
    conversation_event_queue(event=Event.CONVERSATION_ENDED, conversation=conversation)
    message_insert(conversation, sender=Message.Sender.SYSTEM, body=notice)
    if conversation.transcript_requested and conversation.visitor.email:
        email_queue_transcript(conversation=conversation)
    if conversation.rating is not None:  # rated before the end (R19)
        email_queue_review_request(conversation=conversation)
    announce_conversation(conversation)
    dispatch_on_commit()


def _require_owner_or_supervisor(conversation: Conversation, agent: Agent) -> None:
    if not agent_can_see(agent=agent, conversation=conversation):
        raise ChatError(ErrorCode.NOT_FOUND)
    if conversation.assigned_agent_id != agent.user_id and not agent.is_supervisor:
        raise ChatError(ErrorCode.NOT_OWNER)


def conversation_transfer(
    *,
    conversation_id: int,
    agent: Agent,
    reason: str,
    to_agent_id: int | None = None,
    to_team_id: int | None = None,
) -> Conversation:
    """Hand an active chat to another agent (theirs at once) or team (back to its queue).

    The whole history goes with it; the reason is kept as a private note for the next
    agent, and the visitor is told in a system message (R5).
    """
    reason = reason.strip()
    if not reason or len(reason) > 500:
        raise ChatError(
            ErrorCode.INVALID_FIELD, "Say in a few words why you transfer the chat (at most 500 characters)."
        )
    if (to_agent_id is None) == (to_team_id is None):
        raise ChatError(ErrorCode.INVALID_FIELD, "Transfer to one agent or one team.")
    with transaction.atomic():
        target = None
        if to_agent_id is not None:
            found = Agent.objects.filter(user_id=to_agent_id, user__is_active=True).first()
            if found is None or found.pk == agent.pk:
                raise ChatError(ErrorCode.NOT_FOUND, "No such agent to transfer to.")
            target = lock_agent(found)
        team = Team.objects.filter(pk=to_team_id).first() if to_team_id is not None else None
        if to_team_id is not None and team is None:
            raise ChatError(ErrorCode.NOT_FOUND, "No such team to transfer to.")
        conversation = lock_conversation(conversation_id)
        _require_owner_or_supervisor(conversation, agent)
        if conversation.status != Conversation.Status.ACTIVE:
            raise ChatError(ErrorCode.NOT_OWNER, "Only a chat someone owns can be transferred.")
        previous_owner = conversation.assigned_agent_id

        if target is not None:
            if target.status != Agent.Status.ONLINE or not agent_is_present(target):
                raise ChatError(ErrorCode.AGENT_UNAVAILABLE, f"{target.display_name} is not online.")
            _refuse_over_limit(target)
            _assign(conversation, target)
            destination = target.display_name
            with translation.override(conversation_language(conversation)):
                told = _("%(agent)s passed your chat to %(target)s, who can see everything so far.") % {
                    "agent": agent.display_name,
                    "target": target.display_name,
                }
        else:
            assert team is not None
            conversation.status = Conversation.Status.QUEUED
            conversation.assigned_agent = None
            conversation.claimed_at = None
            conversation.team = team
            conversation.save(update_fields=["status", "assigned_agent", "claimed_at", "team"])
            destination = _("the %(team)s team") % {"team": team.name}
            queue_positions_announce(site_id=conversation.site_id)
            with translation.override(conversation_language(conversation)):
                told = _("%(agent)s passed your chat to our %(team)s team; someone will be with you shortly.") % {
                    "agent": agent.display_name,
                    "team": team.name,
                }
        message_insert(
            conversation,
            sender=Message.Sender.NOTE,
            author=agent,
            body=_("Transferred to %(destination)s: %(reason)s") % {"destination": destination, "reason": reason},
        )
        message_insert(conversation, sender=Message.Sender.SYSTEM, body=told)
        announce_conversation(conversation, also_agent_ids=(previous_owner,) if previous_owner else ())
        dispatch_on_commit()
    return conversation


def conversation_follow_up(*, conversation_id: int, agent: Agent, needs: bool) -> Conversation:
    """R16: mark a chat whose answer is owed later, asking the customer for an email once;
    `needs=False` clears the mark when the answer has been given."""
    with transaction.atomic():
        conversation = lock_conversation(conversation_id)
        _require_owner_or_supervisor(conversation, agent)
        if conversation.needs_follow_up == needs:
            return conversation
        conversation.needs_follow_up = needs
        conversation.save(update_fields=["needs_follow_up"])
        if needs and conversation.status != Conversation.Status.ENDED:
            with translation.override(conversation_language(conversation)):
                ask = str(FOLLOW_UP_ASK)
            message_insert(conversation, sender=Message.Sender.AGENT, author=agent, body=ask)
        announce_conversation(conversation)
    return conversation
