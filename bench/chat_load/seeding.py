"""The bench's conversations, agents and visitors, seeded straight into the database, and what ended up stored."""

from __future__ import annotations

import math
import secrets
import string
import time
from dataclasses import dataclass
from typing import Any

from .system import BENCH_ORIGIN


@dataclass
class Seeded:
    conversation_ids: list[int]
    tokens: list[str]  # visitor tokens, same order as conversation_ids
    agent_of: list[int]  # index of the agent owning each conversation
    session_keys: list[str]  # one per agent
    site_key: str
    seconds: float


def seed(conversations: int, chats_per_agent: int) -> Seeded:
    """Replace the bench data with `conversations` active chats, each claimed by an agent."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.db import connection, transaction
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from agents.models import Agent, Team
    from bench.baseline_app import TABLE, TABLE_SQL
    from chat.models import Conversation, Site, Topic, Visitor
    from chat.services import token_hash

    started = time.monotonic()
    user_model = get_user_model()
    now = timezone.now()
    with connection.cursor() as cursor:
        # Only the bench database (checked in main); CASCADE also empties tables pointing at these.
        cursor.execute(
            "TRUNCATE chat_message, chat_conversation, chat_visitor, django_session RESTART IDENTITY CASCADE"
        )
        cursor.execute(TABLE_SQL)
        cursor.execute(f"TRUNCATE {TABLE} RESTART IDENTITY")
    with transaction.atomic():
        Site.objects.all().delete()
        Team.objects.all().delete()
        user_model.objects.filter(username__startswith="bench-").delete()
        site = Site.objects.create(name="Bench shop", allowed_origins=BENCH_ORIGIN)
        topic = Topic.objects.create(site=site, slug="orders", name="Orders")
        team = Team.objects.create(name="Bench team", is_default=True)
        team.topics.add(topic)

        agent_count = math.ceil(conversations / chats_per_agent)
        password = make_password(None)  # unusable: the agents log in through the sessions below
        users = user_model.objects.bulk_create(
            [
                user_model(username=f"bench-agent-{i}", password=password, first_name="Bench", last_name=f"Agent {i}")
                for i in range(agent_count)
            ]
        )
        agents = Agent.objects.bulk_create(
            [
                Agent(
                    user=user,
                    display_name=f"Bench Agent {i}",
                    max_chats=1000,
                    status=Agent.Status.ONLINE,
                    last_seen_at=now,
                )
                for i, user in enumerate(users)
            ]
        )
        Agent.teams.through.objects.bulk_create(
            [Agent.teams.through(agent_id=agent.pk, team_id=team.pk) for agent in agents]
        )
        tokens = [secrets.token_urlsafe(32) for _ in range(conversations)]
        visitors = Visitor.objects.bulk_create([Visitor(site=site, token_hash=token_hash(t)) for t in tokens])
        agent_of = [i // chats_per_agent for i in range(conversations)]
        created = Conversation.objects.bulk_create(
            [
                Conversation(
                    site=site,
                    visitor=visitor,
                    topic=topic,
                    status=Conversation.Status.ACTIVE,
                    assigned_agent=users[agent_of[i]],
                    claimed_at=now,
                )
                for i, visitor in enumerate(visitors)
            ]
        )
        store = SessionStore()
        session_keys = [get_random_string(32, string.ascii_lowercase + string.digits) for _ in users]
        Session.objects.bulk_create(
            [
                Session(
                    session_key=key,
                    session_data=store.encode(
                        {
                            SESSION_KEY: str(user.pk),
                            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                            HASH_SESSION_KEY: user.get_session_auth_hash(),
                        }
                    ),
                    expire_date=now + timezone.timedelta(days=1),
                )
                for key, user in zip(session_keys, users, strict=True)
            ]
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return Seeded(
        conversation_ids=[c.pk for c in created],
        tokens=tokens,
        agent_of=agent_of,
        session_keys=session_keys,
        site_key=site.key,
        seconds=time.monotonic() - started,
    )


def stored_rows(variant: str, tag: str) -> list[tuple[str, str, Any]]:
    """(client_id, sender, created_at) of every row this run stored."""
    from django.db import connection

    from bench.baseline_app import TABLE

    table = "chat_message" if variant == "chat" else TABLE
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT client_id, sender, created_at FROM {table} WHERE client_id LIKE %s", [tag + "%"])
        return list(cursor.fetchall())


# --- Server processes ---------------------------------------------------------------------------
