"""R6: a visitor waiting for an agent is told at once, and kept up to date."""

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..availability import estimated_wait_seconds, queue_positions, site_availability, typical_wait
from ..languages import conversation_language
from ..models import Conversation, Message, Site
from ..realtime import send_on_commit, visitor_group
from .timeline import message_insert


def _minutes(seconds: int | None) -> str:
    if seconds is None:
        return ""
    minutes = max(1, round(seconds / 60))
    return ngettext(" (about %(minutes)d minute)", " (about %(minutes)d minutes)", minutes) % {"minutes": minutes}


def queue_greeting(conversation: Conversation) -> None:
    """After the first message of a chat nobody can take now, say it arrived and what comes
    next; the caller holds the conversation's lock."""
    site = conversation.site
    availability = site_availability(site)
    if availability.state == "online":
        return
    with translation.override(conversation_language(conversation)):
        body = _queue_greeting_text(conversation, site=site, busy=availability.state == "busy")
    message_insert(conversation, sender=Message.Sender.SYSTEM, body=body)


def _queue_greeting_text(conversation: Conversation, *, site: Site, busy: bool) -> str:
    if busy:
        position = queue_positions(site).get(conversation.pk, 1)
        wait = _minutes(estimated_wait_seconds(position, typical_wait(site)))
        return _(
            "Thanks, your message has arrived. All our agents are busy; you are number %(position)d "
            "in the queue%(wait)s. Stay on this page or come back later: the answer will be here."
        ) % {"position": position, "wait": wait}
    if conversation.visitor.email:
        return _(
            "Thanks, your message has arrived. Nobody can answer live right now; we'll answer by "
            "email at %(email)s. The answer will also be here when you come back."
        ) % {"email": conversation.visitor.email}
    return _(
        "Thanks, your message has arrived. Nobody can answer live right now; leave your email "
        "and we'll answer by email. The answer will also be here when you come back."
    )


def queue_position_frame(conversation_id: int, position: int, typical: timedelta | None) -> dict[str, Any]:
    return {
        "type": "queue.position",
        "conversation_id": conversation_id,
        "position": position,
        "estimated_wait_seconds": estimated_wait_seconds(position, typical),
    }


def queue_position_now(conversation: Conversation) -> dict[str, Any] | None:
    """The `queue.position` frame for a waiting conversation (sent with `welcome`), or None."""
    if conversation.status != Conversation.Status.QUEUED:
        return None
    position = queue_positions(conversation.site).get(conversation.pk)
    return queue_position_frame(conversation.pk, position, typical_wait(conversation.site)) if position else None


def queue_positions_announce(*, site_id: int) -> None:
    """Once committed, tell every waiting visitor of the site their place and expected wait."""
    transaction.on_commit(lambda: _send_positions(site_id))


def _send_positions(site_id: int) -> None:
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        return
    positions = queue_positions(site)
    if not positions:
        return
    typical = typical_wait(site)
    visitors = dict(Conversation.objects.filter(pk__in=positions).values_list("pk", "visitor_id"))
    for conversation_id, position in positions.items():
        send_on_commit(
            [visitor_group(visitors[conversation_id])], queue_position_frame(conversation_id, position, typical)
        )
