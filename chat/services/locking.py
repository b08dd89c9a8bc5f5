"""Row locks, always taken agent rows first, then conversation rows, so two services
locking both can never deadlock each other."""

from agents.models import Agent

from ..errors import ChatError, ErrorCode
from ..models import Conversation
from ..selectors import conversations_with_people


def lock_agent(agent: Agent) -> Agent:
    return Agent.objects.select_for_update().get(pk=agent.pk)


def lock_conversation(conversation_id: int) -> Conversation:
    # `of` keeps the lock off the outer-joined rows, which PostgreSQL refuses to lock.
    conversation = conversations_with_people().select_for_update(of=("self",)).filter(pk=conversation_id).first()
    if conversation is None:
        raise ChatError(ErrorCode.NOT_FOUND)
    return conversation


def open_chat_count(agent: Agent) -> int:
    return Conversation.objects.filter(assigned_agent_id=agent.user_id, status=Conversation.Status.ACTIVE).count()
