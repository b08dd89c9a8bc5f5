import functools
import importlib
import itertools

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from agents.models import Agent, CannedResponse, ComposerTerm, Team
from chat.models import Site

_numbers = itertools.count(1)


@functools.cache
def _hashed(password: str) -> str:
    # Hashing is slow on purpose; one hash per password keeps factories fast.
    return make_password(password)


def make_team(*, name: str | None = None, topics=(), is_default: bool = False) -> Team:
    team = Team.objects.create(name=name or f"Team {next(_numbers)}", is_default=is_default)
    team.topics.set(topics)
    return team


def make_agent(
    *,
    teams=(),
    name: str | None = None,
    supervisor: bool = False,
    password: str = "pw",
    max_chats: int = 3,
    online: bool = True,
) -> Agent:
    """An agent at work: online and just seen, unless `online=False`."""
    number = next(_numbers)
    user = get_user_model().objects.create(
        username=f"agent{number}@example.com", email=f"agent{number}@example.com", password=_hashed(password)
    )
    agent = Agent.objects.create(
        user=user,
        display_name=name or f"Agent {number}",
        is_supervisor=supervisor,
        max_chats=max_chats,
        status=Agent.Status.ONLINE if online else Agent.Status.OFFLINE,
        last_seen_at=timezone.now() if online else None,
    )
    agent.teams.set(teams)
    return agent


def make_canned(
    *,
    shortcut: str | None = None,
    title: str = "Canned",
    body: str = "Thanks for waiting.",
    team: Team | None = None,
    owner: Agent | None = None,
    use_count: int = 0,
) -> CannedResponse:
    """A team's shared response, or an agent's personal one (exactly one of team, owner)."""
    return CannedResponse.objects.create(
        shortcut=shortcut or f"canned-{next(_numbers)}",
        title=title,
        body=body,
        team=team,
        owner=owner,
        created_by=owner,
        use_count=use_count,
    )


def make_term(*, kind: str, term: str, suggestion: str = "", site: Site | None = None) -> ComposerTerm:
    return ComposerTerm.objects.create(kind=kind, term=term, suggestion=suggestion, site=site)


def load_default_terms() -> None:
    """The global default terms of the data migration, again: tests on a flushed database
    (transactional_db) no longer have them."""
    from django.apps import apps

    migration = importlib.import_module("agents.migrations.0003_default_composer_terms")
    migration.add_defaults(apps, None)
