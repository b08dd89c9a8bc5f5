"""Honest availability (R3) and the waiting that is told (R6): reads, no writes."""

import statistics
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from agents.models import Agent
from agents.selectors import agents_available, presence_cutoff

from .models import Conversation, Site

WAIT_SAMPLE = 20
WAIT_SAMPLE_DAYS = 7


@dataclass(frozen=True)
class Availability:
    state: str  # "online" | "busy" (agents there, all at their limit) | "offline" (nobody) | "closed"
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "message": self.message, "can_chat_live": self.state in {"online", "busy"}}


def site_local_now(site: Site, at: datetime | None = None) -> datetime:
    try:
        zone = zoneinfo.ZoneInfo(site.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return (at or timezone.now()).astimezone(zone)


def site_is_open(site: Site, at: datetime | None = None) -> bool:
    """Within the site's opening hours and not on one of its holidays (site time)."""
    local = site_local_now(site, at)
    if site.holidays.filter(date=local.date()).exists():
        return False
    hours = list(site.opening_hours.all())
    if not hours:
        return True
    now = local.time()
    return any(h.weekday == local.weekday() and h.opens <= now < h.closes for h in hours)


def _agents_of_site(site: Site) -> Q:
    return Q(teams__topics__site=site) | Q(teams__is_default=True)


def site_availability(site: Site, at: datetime | None = None) -> Availability:
    """What the widget may promise: never "online" when nobody is (R3)."""
    if not site_is_open(site, at):
        return Availability("closed", _("We're closed right now. Leave a message and we'll answer by email."))
    present = Agent.objects.filter(
        _agents_of_site(site), status=Agent.Status.ONLINE, last_seen_at__gte=presence_cutoff()
    )
    if not present.exists():
        return Availability("offline", _("No one is available right now. Leave a message and we'll answer by email."))
    if not agents_available().filter(_agents_of_site(site)).exists():
        return Availability("busy", _("All our agents are busy. You can still write; you'll be next in line."))
    return Availability("online", _("We're online and usually answer within a minute or two."))


def _routing_key(conversation: Conversation) -> tuple[str, int | None]:
    return ("team", conversation.team_id) if conversation.team_id else ("topic", conversation.topic_id)


def typical_wait(site: Site) -> timedelta | None:
    """The median time recent chats of the site waited for an agent, or None without data."""
    since = timezone.now() - timedelta(days=WAIT_SAMPLE_DAYS)
    recent = (
        Conversation.objects.filter(site=site, claimed_at__isnull=False, created_at__gte=since)
        .order_by("-claimed_at")
        .values_list("created_at", "claimed_at")[:WAIT_SAMPLE]
    )
    waits = [(claimed - created).total_seconds() for created, claimed in recent if claimed is not None]
    return timedelta(seconds=statistics.median(waits)) if waits else None


def queue_positions(site: Site) -> dict[int, int]:
    """Each queued chat of the site with its place in line among chats routed the same way."""
    queued = Conversation.objects.filter(site=site, status=Conversation.Status.QUEUED, last_seq__gt=0).order_by(
        "created_at"
    )
    places: dict[tuple[str, int | None], int] = {}
    positions = {}
    for conversation in queued.only("pk", "team_id", "topic_id"):
        key = _routing_key(conversation)
        places[key] = places.get(key, 0) + 1
        positions[conversation.pk] = places[key]
    return positions


def estimated_wait_seconds(position: int, typical: timedelta | None) -> int | None:
    # Each chat ahead is about one typical wait; without history we promise nothing.
    return int(typical.total_seconds() * position) if typical else None
