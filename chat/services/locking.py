"""Row locks, always taken agent rows first, then conversation rows, so two services
locking both can never deadlock each other."""

from agents.models import Agent

from ..errors import ChatError, ErrorCode
from ..models import Conversation
from ..selectors import conversations_with_people
from .statements import locked_row


def lock_agent(agent: Agent) -> Agent:
    return Agent.objects.select_for_update().get(pk=agent.pk)


def lock_conversation(conversation_id: int) -> Conversation:
    # `of` keeps the lock off the outer-joined rows, which PostgreSQL refuses to lock.
    try:
        return conversations_with_people().select_for_update(of=("self",)).get(pk=conversation_id)
    except Conversation.DoesNotExist:
        raise ChatError(ErrorCode.NOT_FOUND) from None


def lock_conversation_row(conversation_id: int) -> Conversation:
    """The conversation alone, for the message path: building and running the joins of
    `lock_conversation` was a third of a message's CPU (docs/performance.md, round 3).
    Its payloads need none of the rows joined there; a rare use loads its row on access."""
    conversation = locked_row(Conversation, conversation_id)
    if conversation is None:
        raise ChatError(ErrorCode.NOT_FOUND)
    return conversation


def open_chat_count(agent: Agent) -> int:
    return Conversation.objects.filter(assigned_agent_id=agent.user_id, status=Conversation.Status.ACTIVE).count()
