"""Supervisor metrics, defined once (R9, R13, R19, R23): the transcript review in admin,
the live floor, the charts and their CSV all read them from here."""

from .definitions import (
    FIRST_RESPONSE_BUCKETS,
    FIRST_RESPONSE_TARGET_SECONDS,
    GOOD_RATING,
    SILENCE_LIMIT_SECONDS,
    canned_over_half,
    of_team,
)
from .floor import FloorSnapshot, floor_snapshot
from .history import (
    Figures,
    Period,
    Report,
    Scope,
    chats_by_hour,
    figures_by_agent,
    figures_by_period,
    first_response_distribution,
    follow_ups_open,
    report,
)

__all__ = [
    "FIRST_RESPONSE_BUCKETS",
    "FIRST_RESPONSE_TARGET_SECONDS",
    "GOOD_RATING",
    "SILENCE_LIMIT_SECONDS",
    "Figures",
    "FloorSnapshot",
    "Period",
    "Report",
    "Scope",
    "canned_over_half",
    "chats_by_hour",
    "figures_by_agent",
    "figures_by_period",
    "first_response_distribution",
    "floor_snapshot",
    "follow_ups_open",
    "of_team",
    "report",
]
