"""The live floor (R8, R9): every open chat, the queue per team, each agent's status and load.

Read in a constant number of queries, whatever the number of chats or agents: the open
chats, the teams, which topics they serve, the agents and their teams. Only open chats
are read (a live desk has tens of them, not the history), so grouping them per team and
per agent happens here, with the routing rule of `agents.selectors.routed_team_ids`.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from agents.models import Agent, Team
from agents.selectors import presence_cutoff

from .. import payloads
from ..models import Conversation
from .definitions import SILENCE_LIMIT_SECONDS


def _seconds(since: datetime | None, now: datetime) -> int | None:
    return None if since is None else max(0, int((now - since).total_seconds()))


@dataclass
class FloorChat:
    id: int
    visitor: str
    is_customer: bool
    topic: str
    teams: list[str]
    agent_id: int | None
    agent: str
    status: str
    created_at: datetime
    claimed_at: datetime | None
    # R9: the customer's oldest unanswered message; None when the agent has replied.
    waiting_since: datetime | None
    open_seconds: int
    waiting_seconds: int | None
    needs_follow_up: bool
    messages: int

    @property
    def over_limit(self) -> bool:
        return self.waiting_seconds is not None and self.waiting_seconds > SILENCE_LIMIT_SECONDS


@dataclass
class FloorTeam:
    id: int
    name: str
    queued: int = 0
    active: int = 0
    oldest_queued_since: datetime | None = None
    oldest_queued_seconds: int | None = None
    agents_online: int = 0
    free_seats: int = 0


@dataclass
class FloorAgent:
    user_id: int
    name: str
    status: str  # online, away or offline: offline too when its console went quiet
    is_supervisor: bool
    teams: list[str]
    load: int
    max_chats: int
    longest_waiting_seconds: int | None = None


@dataclass
class FloorSnapshot:
    at: datetime
    chats: list[FloorChat]
    teams: list[FloorTeam]
    agents: list[FloorAgent]
    limit_seconds: int = SILENCE_LIMIT_SECONDS
    summary: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The snapshot for the floor page's script and API clients (docs/protocol.md)."""
        iso = payloads.iso
        return {
            "server_time": iso(self.at),
            "limit_seconds": self.limit_seconds,
            "summary": self.summary,
            "chats": [
                {
                    "id": chat.id, "visitor": chat.visitor, "is_customer": chat.is_customer, "topic": chat.topic,
                    "teams": chat.teams, "agent": chat.agent, "agent_id": chat.agent_id, "status": chat.status,
                    "created_at": iso(chat.created_at), "claimed_at": iso(chat.claimed_at),
                    "waiting_since": iso(chat.waiting_since), "needs_follow_up": chat.needs_follow_up,
                    "messages": chat.messages,
                }
                for chat in self.chats
            ],
            "teams": [
                {
                    "id": team.id, "name": team.name, "queued": team.queued, "active": team.active,
                    "oldest_queued_since": iso(team.oldest_queued_since), "agents_online": team.agents_online,
                    "free_seats": team.free_seats,
                }
                for team in self.teams
            ],
            "agents": [
                {
                    "id": agent.user_id, "name": agent.name, "status": agent.status,
                    "is_supervisor": agent.is_supervisor, "teams": agent.teams, "load": agent.load,
                    "max_chats": agent.max_chats,
                }
                for agent in self.agents
            ],
        }  # fmt: skip


def floor_snapshot(*, now: datetime | None = None) -> FloorSnapshot:
    now = now or timezone.now()
    teams = {team.pk: team for team in Team.objects.order_by("name")}
    serving: dict[int, list[int]] = defaultdict(list)
    for topic_id, team_id in Team.topics.through.objects.values_list("topic_id", "team_id"):
        serving[topic_id].append(team_id)
    defaults = [pk for pk, team in teams.items() if team.is_default]

    def routed(conversation: Conversation) -> list[int]:
        if conversation.team_id is not None:
            return [conversation.team_id]
        if conversation.topic_id is not None and serving.get(conversation.topic_id):
            return serving[conversation.topic_id]
        return defaults

    open_chats = (
        Conversation.objects.exclude(status=Conversation.Status.ENDED)
        .filter(last_seq__gt=0)  # a widget opened without a word yet is nobody's work
        .select_related("visitor", "topic", "assigned_agent__agent")
        .order_by("created_at")
    )
    rows = {team_id: FloorTeam(id=team_id, name=team.name) for team_id, team in teams.items()}
    chats = []
    for conversation in open_chats:
        team_ids = routed(conversation)
        chat = FloorChat(
            id=conversation.pk, visitor=str(conversation.visitor), is_customer=conversation.visitor.is_customer,
            topic=conversation.topic.name if conversation.topic else "", teams=[teams[pk].name for pk in team_ids],
            agent_id=conversation.assigned_agent_id, agent=payloads.agent_name(conversation) or "",
            status=conversation.status, created_at=conversation.created_at, claimed_at=conversation.claimed_at,
            waiting_since=conversation.waiting_since, open_seconds=_seconds(conversation.created_at, now) or 0,
            waiting_seconds=_seconds(conversation.waiting_since, now), needs_follow_up=conversation.needs_follow_up,
            messages=conversation.last_seq,
        )  # fmt: skip
        chats.append(chat)
        for team_id in team_ids:
            row = rows[team_id]
            if chat.status == Conversation.Status.QUEUED:
                row.queued += 1
                oldest = row.oldest_queued_since
                if chat.waiting_since and (oldest is None or chat.waiting_since < oldest):
                    row.oldest_queued_since = chat.waiting_since
                    row.oldest_queued_seconds = chat.waiting_seconds
            else:
                row.active += 1

    agents = _floor_agents(chats, teams, rows)
    waiting = [chat for chat in chats if chat.waiting_seconds is not None]
    summary = {
        "open": len(chats),
        "queued": sum(1 for chat in chats if chat.status == Conversation.Status.QUEUED),
        "waiting": len(waiting),
        "over_limit": sum(1 for chat in waiting if chat.over_limit),
        "agents_online": sum(1 for agent in agents if agent.status == Agent.Status.ONLINE),
        "free_seats": sum(
            max(0, agent.max_chats - agent.load) for agent in agents if agent.status == Agent.Status.ONLINE
        ),
    }
    return FloorSnapshot(at=now, chats=chats, teams=list(rows.values()), agents=agents, summary=summary)


def _floor_agents(chats: list[FloorChat], teams: dict[int, Team], rows: dict[int, FloorTeam]) -> list[FloorAgent]:
    memberships: dict[int, list[int]] = defaultdict(list)
    for agent_id, team_id in Agent.teams.through.objects.values_list("agent_id", "team_id"):
        memberships[agent_id].append(team_id)
    load: dict[int, int] = defaultdict(int)
    longest: dict[int, int] = {}
    for chat in chats:
        if chat.agent_id is None or chat.status != Conversation.Status.ACTIVE:
            continue
        load[chat.agent_id] += 1
        if chat.waiting_seconds is not None:
            longest[chat.agent_id] = max(longest.get(chat.agent_id, 0), chat.waiting_seconds)
    cutoff = presence_cutoff()
    agents = []
    for agent in Agent.objects.filter(user__is_active=True).order_by("display_name"):
        present = agent.last_seen_at is not None and agent.last_seen_at >= cutoff
        status = agent.status if present else Agent.Status.OFFLINE
        if status == Agent.Status.OFFLINE and not load[agent.user_id]:
            continue  # the floor is who is at work, or still holds chats
        team_ids = memberships.get(agent.pk, [])
        row = FloorAgent(
            user_id=agent.user_id, name=agent.display_name, status=status, is_supervisor=agent.is_supervisor,
            teams=[teams[pk].name for pk in team_ids], load=load[agent.user_id], max_chats=agent.max_chats,
            longest_waiting_seconds=longest.get(agent.user_id),
        )  # fmt: skip
        agents.append(row)
        if status == Agent.Status.ONLINE:
            for team_id in team_ids:
                rows[team_id].agents_online += 1
                rows[team_id].free_seats += max(0, agent.max_chats - row.load)
    order: dict[str, int] = {Agent.Status.ONLINE: 0, Agent.Status.AWAY: 1, Agent.Status.OFFLINE: 2}
    return sorted(agents, key=lambda agent: (order.get(agent.status, 3), agent.name))
