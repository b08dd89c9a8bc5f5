from dataclasses import dataclass

import pytest

from agents.models import Agent
from chat import realtime
from chat.models import Site, Topic

from ..agents.factories import make_agent, make_team
from .factories import make_site, make_topic


@dataclass
class Desk:
    site: Site
    topic: Topic
    agent: Agent
    other_agent: Agent


@pytest.fixture
def desk(transactional_db) -> Desk:
    """A site with one topic served by the default team of two agents."""
    site = make_site()
    topic = make_topic(site=site)
    team = make_team(topics=[topic], is_default=True)
    return Desk(site=site, topic=topic, agent=make_agent(teams=[team]), other_agent=make_agent(teams=[team]))


@pytest.fixture
def sent_events(monkeypatch) -> list[tuple[list[str], dict]]:
    """Every (groups, frame) a service sends after commit, instead of the channel layer."""
    events: list[tuple[list[str], dict]] = []

    async def record(sent: list[tuple[list[str], dict]]) -> None:
        events.extend((groups, event["payload"]) for groups, event in sent)

    monkeypatch.setattr(realtime, "_send_in_order", record)
    return events
