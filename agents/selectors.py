from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q

from .models import Agent, Team


def agent_for_user(user: AbstractBaseUser | AnonymousUser) -> Agent | None:
    """The agent profile of an active, logged-in user, or None."""
    if not user.is_authenticated or not user.is_active:
        return None
    return Agent.objects.filter(user_id=user.pk).prefetch_related("teams").first()


def team_ids_for_topic(topic_id: int | None) -> list[int]:
    """The teams a chat on this topic is routed to: those serving it, else the default teams."""
    if topic_id is not None:
        serving = list(Team.objects.filter(topics=topic_id).values_list("id", flat=True))
        if serving:
            return serving
    return list(Team.objects.filter(is_default=True).values_list("id", flat=True))


def agent_team_ids(agent: Agent) -> list[int]:
    return [team.pk for team in agent.teams.all()]


def routing_filter_for_agent(agent: Agent, *, topic_field: str = "topic") -> Q:
    """A filter on conversations selecting those routed to one of the agent's teams.

    Kept beside `team_ids_for_topic` because both state the same routing rule.
    """
    teams = agent.teams.all()
    served = Q(**{f"{topic_field}__teams__in": teams})
    if any(team.is_default for team in teams):
        unserved = Q(**{f"{topic_field}__isnull": True}) | Q(**{f"{topic_field}__teams__isnull": True})
        served |= unserved
    return served
