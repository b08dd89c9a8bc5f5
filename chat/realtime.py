"""The one way services tell connected clients about a change: after the commit.

A client must never see something that was rolled back, so every event is queued with
`transaction.on_commit`. Only services call this module; they decide the recipients.
"""

from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

SUPERVISORS_GROUP = "supervisors"


def visitor_group(visitor_id: int) -> str:
    return f"visitor.{visitor_id}"


def agent_group(user_id: int) -> str:
    return f"agent.{user_id}"


def team_group(team_id: int) -> str:
    return f"team.{team_id}"


async def _group_send_all(groups: list[str], event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    for group in groups:
        await layer.group_send(group, event)


def send_on_commit(groups: Iterable[str], payload: dict[str, Any]) -> None:
    """Deliver `payload` as a protocol frame to every socket in `groups` once committed."""
    targets = list(dict.fromkeys(groups))
    if not targets:
        return
    event = {"type": "chat.event", "payload": payload}
    transaction.on_commit(lambda: async_to_sync(_group_send_all)(targets, event))
