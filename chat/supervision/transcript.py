"""A conversation as chat bubbles for supervisors: the admin's review page and the live view."""

from typing import Any

from django.utils.translation import gettext

from agents.models import Agent

from ..metrics import SILENCE_LIMIT_SECONDS
from ..models import Conversation, Message


def person_name(user: Any) -> str:
    """An agent's display name, else the username; "" for nobody."""
    if user is None:
        return ""
    try:
        return user.agent.display_name
    except Agent.DoesNotExist:
        return user.get_username()


def transcript_rows(conversation: Conversation) -> list[dict[str, Any]]:
    """Every message with its speaker, in one query; an agent reply after a silence over
    the R9 limit is marked with how long the customer waited."""
    messages = Message.objects.filter(conversation=conversation).select_related(
        "author__agent", "canned_response", "attachment"
    )
    rows = []
    waiting_since = None
    visitor_name = str(conversation.visitor)
    for message in messages.order_by("seq"):
        wait = None
        if message.sender == Message.Sender.VISITOR:
            speaker = visitor_name
            if waiting_since is None:
                waiting_since = message.created_at
        elif message.sender == Message.Sender.SYSTEM:
            speaker = gettext("System")
        else:
            speaker = person_name(message.author) or gettext("Agent")
            if message.sender == Message.Sender.AGENT and waiting_since is not None:
                wait = int((message.created_at - waiting_since).total_seconds())
                waiting_since = None
        rows.append(
            {
                "message": message,
                "speaker": speaker,
                "wait_seconds": wait,
                "long_wait": wait is not None and wait > SILENCE_LIMIT_SECONDS,
                "canned": message.canned_response,
                "canned_used": message.canned_response_id is not None,
                "warnings": list(message.warnings_overridden or []),
                # By name only: a signed link would expire while the review page stays open.
                "attachment": getattr(message, "attachment", None),
            }
        )
    return rows
