import functools
import itertools

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from agents.models import Agent, Team

_numbers = itertools.count(1)


@functools.cache
def _hashed(password: str) -> str:
    # Hashing is slow on purpose; one hash per password keeps factories fast.
    return make_password(password)


def make_team(*, name: str | None = None, topics=(), is_default: bool = False) -> Team:
    team = Team.objects.create(name=name or f"Team {next(_numbers)}", is_default=is_default)
    team.topics.set(topics)
    return team


def make_agent(*, teams=(), name: str | None = None, supervisor: bool = False, password: str = "pw") -> Agent:
    number = next(_numbers)
    user = get_user_model().objects.create(
        username=f"agent{number}@example.com", email=f"agent{number}@example.com", password=_hashed(password)
    )
    agent = Agent.objects.create(user=user, display_name=name or f"Agent {number}", is_supervisor=supervisor)
    agent.teams.set(teams)
    return agent
