"""Who is told of a change: decided here from the data, never by a client."""

from agents.selectors import routed_team_ids

from .. import payloads
from ..models import Conversation
from ..realtime import SUPERVISORS_GROUP, agent_group, send_on_commit, team_group, visitor_group


def queue_groups(conversation: Conversation) -> list[str]:
    """The agents who see the conversation while it is queued: its teams and supervisors."""
    team_ids = routed_team_ids(team_id=conversation.team_id, topic_id=conversation.topic_id)
    return [team_group(team_id) for team_id in team_ids] + [SUPERVISORS_GROUP]


def agent_audience(conversation: Conversation) -> list[str]:
    """The agents following the conversation now: its owner, else its queue."""
    if conversation.assigned_agent_id is not None:
        return [agent_group(conversation.assigned_agent_id)]
    return queue_groups(conversation)


def tell_supervisors(conversation: Conversation) -> None:
    """The floor (chat.metrics.floor_snapshot) shows every open chat's R9 timer, so the
    supervisors hear of a new message in a chat whose events go to its owner alone: what
    the message changed (`conversation_progress`), which their consoles merge."""
    if conversation.assigned_agent_id is None:
        return  # queued: queue_groups already include the supervisors
    send_on_commit(
        [SUPERVISORS_GROUP],
        {"type": "conversation.updated", "conversation": payloads.conversation_progress(conversation)},
    )


def announce_conversation(conversation: Conversation, *, also_agent_ids: tuple[int, ...] = ()) -> None:
    """Tell the visitor, the owner, the queue it sits in (or left) and `also_agent_ids`
    (an owner it was just taken from) of a state change."""
    groups = queue_groups(conversation) + [agent_group(user_id) for user_id in also_agent_ids]
    if conversation.assigned_agent_id is not None:
        groups.append(agent_group(conversation.assigned_agent_id))
    send_on_commit(
        groups, {"type": "conversation.updated", "conversation": payloads.conversation_for_agent(conversation)}
    )
    send_on_commit(
        [visitor_group(conversation.visitor_id)],
        {"type": "conversation.updated", "conversation": payloads.conversation_for_visitor(conversation)},
    )
