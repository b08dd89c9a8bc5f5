"""Writes about agents themselves: status and presence."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from chat.realtime import SUPERVISORS_GROUP, agent_group, send_on_commit
from chat.services.assignment import dispatch_on_commit

from .models import Agent
from .payloads import agent_payload
from .selectors import presence_cutoff

# A console pings every 25 s (chat.consumers.agent.HEARTBEAT_SECONDS); writing every ping
# was a database write per agent every 25 s, queued on the socket process's one database
# thread with the chat messages. Presence needs far less: written at most this often, a
# pinging console's last_seen_at is never older than this plus one ping, well inside
# PRESENCE_GRACE (150 s).
HEARTBEAT_WRITE_INTERVAL = timedelta(seconds=60)


def agent_heartbeat_due(*, agent: Agent) -> bool:
    """Whether a ping of this socket must be written: `agent` is the socket's own instance,
    whose `last_seen_at` is what this socket wrote last."""
    return agent.last_seen_at is None or timezone.now() - agent.last_seen_at >= HEARTBEAT_WRITE_INTERVAL


def agent_heartbeat(*, agent: Agent) -> None:
    """Record that one of the agent's console sockets is alive (connect, and pings when due)."""
    now = timezone.now()
    Agent.objects.filter(pk=agent.pk).update(last_seen_at=now)
    agent.last_seen_at = now


def agent_set_status(*, agent: Agent, status: Agent.Status) -> Agent:
    """The agent's own choice: online takes new chats, away does not (R8)."""
    with transaction.atomic():
        locked = Agent.objects.select_for_update().get(pk=agent.pk)
        if locked.status != status:
            locked.status = status
            locked.save(update_fields=["status"])
            agent.status = status
            # Supervisors too: the floor shows who is online (chat.metrics.floor_snapshot).
            groups = [agent_group(agent.user_id), SUPERVISORS_GROUP]
            send_on_commit(groups, {"type": "agent.updated", "agent": agent_payload(agent)})
            if status == Agent.Status.ONLINE:
                dispatch_on_commit()
    return agent


def agent_connected(*, agent: Agent) -> Agent:
    """A console socket opened: the agent is present, and online unless it chose away."""
    agent_heartbeat(agent=agent)
    if agent.status == Agent.Status.OFFLINE:
        return agent_set_status(agent=agent, status=Agent.Status.ONLINE)
    return agent


def agents_mark_absent_offline() -> int:
    """Set agents whose sockets all went quiet past the grace period offline; returns how many."""
    absent = Agent.objects.exclude(status=Agent.Status.OFFLINE).filter(last_seen_at__lt=presence_cutoff())
    return absent.update(status=Agent.Status.OFFLINE)
