"""Auto-assignment (R8): queued chats of auto-assign teams go to the least busy available agent."""

from django.db import transaction

from agents.models import Team
from agents.selectors import agents_available, routed_team_ids

from ..errors import ChatError
from ..models import Conversation

DISPATCH_BATCH = 50


def queue_dispatch() -> int:
    """Assign what can be assigned now, oldest chat first; returns how many chats got an agent.

    Each assignment is a normal claim, so the locks and the agent's limit hold even when
    several processes dispatch at once: a claim that loses simply moves on.
    """
    from .conversations import conversation_claim  # conversations imports this module

    auto_team_ids = set(Team.objects.filter(auto_assign=True).values_list("id", flat=True))
    if not auto_team_ids:
        return 0
    queued = Conversation.objects.filter(status=Conversation.Status.QUEUED, last_seq__gt=0).order_by("created_at")
    assigned = 0
    for conversation in queued[:DISPATCH_BATCH]:
        teams = auto_team_ids.intersection(
            routed_team_ids(team_id=conversation.team_id, topic_id=conversation.topic_id)
        )
        if not teams:
            continue
        for agent in agents_available().filter(teams__in=teams).distinct()[:3]:
            try:
                conversation_claim(conversation_id=conversation.pk, agent=agent)
            except ChatError:
                continue  # at its limit or outrun by another claim: try the next agent
            assigned += 1
            break
    return assigned


def dispatch_on_commit() -> None:
    """Run a dispatch once the caller's change is committed (a chat queued, a slot freed)."""
    transaction.on_commit(queue_dispatch)
