from datetime import datetime, timedelta
from typing import NamedTuple

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from .models import Agent, Team


class TransferTarget(NamedTuple):
    user_id: int
    display_name: str
    status: str
    available: bool


# An agent none of whose console sockets has been heard from for this long is offline.
# Long enough for a console in a background tab, whose timers Chrome may run only once a
# minute; short enough that a chat is not routed to someone gone for good.
PRESENCE_GRACE = timedelta(seconds=150)


def agent_for_user(user: AbstractBaseUser | AnonymousUser) -> Agent | None:
    """The agent profile of an active, logged-in user, or None."""
    if not user.is_authenticated or not user.is_active:
        return None
    return Agent.objects.filter(user_id=user.pk).select_related("user").prefetch_related("teams").first()


def routed_team_ids(*, team_id: int | None, topic_id: int | None) -> list[int]:
    """The teams a chat is routed to: the team it was transferred to, else those serving
    its topic, else the default teams."""
    if team_id is not None:
        return [team_id]
    if topic_id is not None:
        serving = list(Team.objects.filter(topics=topic_id).values_list("id", flat=True))
        if serving:
            return serving
    return list(Team.objects.filter(is_default=True).values_list("id", flat=True))


def agent_team_ids(agent: Agent) -> list[int]:
    return [team.pk for team in agent.teams.all()]


def routing_filter_for_agent(agent: Agent) -> Q:
    """A filter on conversations selecting those routed to one of the agent's teams.

    The same rule as `routed_team_ids`, stated for a query instead of one conversation.
    """
    teams = agent.teams.all()
    by_topic = Q(topic__teams__in=teams)
    if any(team.is_default for team in teams):
        by_topic |= Q(topic__isnull=True) | Q(topic__teams__isnull=True)
    return Q(team__in=teams) | (Q(team__isnull=True) & by_topic)


def presence_cutoff() -> datetime:
    return timezone.now() - PRESENCE_GRACE


def agents_available() -> QuerySet[Agent]:
    """Agents who may get a new chat now: online by choice and present, below their limit.

    Annotated with `open_chats`; ordered least busy first, then longest idle (R8).
    """
    return (
        Agent.objects.filter(status=Agent.Status.ONLINE, last_seen_at__gte=presence_cutoff(), user__is_active=True)
        .annotate(
            open_chats=Count("user__conversations", filter=Q(user__conversations__status="active"), distinct=True)
        )
        .filter(open_chats__lt=F("max_chats"))
        .order_by("open_chats", F("last_assigned_at").asc(nulls_first=True), "pk")
    )


def agent_is_present(agent: Agent) -> bool:
    return agent.last_seen_at is not None and agent.last_seen_at >= presence_cutoff()


def transfer_targets(*, exclude: Agent) -> tuple[list[tuple[int, str]], list[TransferTarget]]:
    """Teams (id, name) and agents a chat can be handed to, and whether each agent is available now.

    Columns, not model instances: the list holds every agent of the desk, and building a
    whole Agent per row was most of its cost (docs/performance.md, round 6)."""
    teams = list(Team.objects.order_by("name").values_list("id", "name"))
    available = set(agents_available().exclude(pk=exclude.pk).values_list("pk", flat=True))
    rows = (
        Agent.objects.exclude(pk=exclude.pk)
        .filter(user__is_active=True)
        .order_by("display_name")
        .values_list("pk", "user_id", "display_name", "status")
    )
    agents = [TransferTarget(user_id, name, status, pk in available) for pk, user_id, name, status in rows]
    return teams, agents
