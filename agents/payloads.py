"""What the console is shown of an agent (docs/protocol.md)."""

from typing import Any

from .models import Agent, CannedResponse


def agent_payload(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.user_id,
        "name": agent.display_name,
        "is_supervisor": agent.is_supervisor,
        "status": agent.status,
        "max_chats": agent.max_chats,
        "teams": [{"id": team.pk, "name": team.name} for team in agent.teams.all()],
    }


def canned_payload(canned: CannedResponse, *, body: str) -> dict[str, Any]:
    """A canned response as the composer lists it, with `body` rendered for the conversation."""
    return {
        "id": canned.pk,
        "shortcut": canned.shortcut,
        "title": canned.title,
        "body": body,
        "scope": "personal" if canned.owner_id else "team",
    }
