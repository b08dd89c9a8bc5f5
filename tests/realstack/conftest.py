"""Fixtures of the real-stack tests (Daphne nodes, a site with agents), and the output of
the Daphne nodes under a failed test."""

import contextlib
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import pytest
import redis
from django.db import connection

from tests.agents.factories import make_agent, make_team
from tests.chat.factories import ORIGIN, make_site, make_topic
from tests.conftest import need
from tests.servers import Node, daphne_nodes, database_url, delete_redis_keys, node_environment

from .clients import PASSWORD, TOPIC, World, log_in


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    nodes = getattr(item, "realstack_nodes", None)
    if nodes and report.failed:
        for node in nodes:
            report.sections.append((f"Daphne node {node.name} (port {node.port}) output", node.log()))
    return report


@contextmanager
def started_nodes(
    request: pytest.FixtureRequest,
    names: list[str],
    *,
    redis_url: str,
    db_url: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> Iterator[list[Node]]:
    """Daphne processes on the test database (or `db_url`) with a channel prefix of their own;
    their output is shown under a failed test."""
    prefix = f"realstack-{uuid.uuid4().hex[:12]}"
    env = node_environment(
        database_url=db_url or database_url(connection.settings_dict),
        redis_url=redis_url,
        channel_prefix=prefix,
        extra=extra,
    )
    try:
        with daphne_nodes(names, env) as started:
            request.node.realstack_nodes = started
            yield started
    finally:
        # A test's own Redis may be gone already, and its keys with it.
        with contextlib.suppress(redis.RedisError):
            delete_redis_keys(redis_url, prefix)


@pytest.fixture
def nodes(request: pytest.FixtureRequest, postgres: None, redis_url: str) -> Iterator[tuple[Node, Node]]:
    """Two Daphne processes on the test database and a channel layer prefix of their own."""
    with started_nodes(request, ["A", "B"], redis_url=redis_url) as (node_a, node_b):
        yield node_a, node_b


@pytest.fixture
def world(postgres: None, redis_url: str) -> World:
    """A site with a topic, the default team serving it, and two logged-in agents of that team."""
    site = make_site(origins=ORIGIN)
    topic = make_topic(site=site, slug=TOPIC)
    team = make_team(topics=[topic], is_default=True)
    # The claim race wins many chats in a row; no limit of open chats should get in its way.
    agents = [
        make_agent(teams=[team], name=name, password=PASSWORD, max_chats=100) for name in ("Alex Agent", "Sam Agent")
    ]
    return World(site=site, agents=[log_in(agent) for agent in agents])


@pytest.fixture
def redis_server_binary(redis_url: str) -> None:
    """Tests that stop and start a Redis of their own need the `redis-server` program."""
    need(shutil.which("redis-server") is not None, "needs the redis-server program (apt-get install redis-server)")
