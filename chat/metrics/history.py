"""Supervisor metrics over a date range, per day or week, per team or agent (R9, R13, R19, R23).

Every figure is an aggregate computed by the database over the conversations in scope
(`Count(filter=...)`, `Sum`, grouped by a truncated date or an extracted hour in the
viewer's time zone), from the metrics `message_insert` keeps on each conversation. No
function here loops over conversations in Python; the loops below run over days,
hours or buckets.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Literal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, ExtractHour, TruncDay, TruncWeek

from agents.models import Agent

from ..models import Conversation
from .definitions import (
    ANSWERED,
    FIRST_RESPONSE_BUCKETS,
    FIRST_RESPONSE_DELAY,
    FIRST_RESPONSE_TARGET_SECONDS,
    FOLLOW_UP_OPEN,
    GOOD,
    LONG_SILENCE,
    MISSED,
    RATED,
    RESPONDED,
    of_team,
    share,
)

Period = Literal["day", "week"]


@dataclass(frozen=True)
class Scope:
    """Which conversations count: started on `start`..`end` (local days in `tz`, both
    included), optionally of one team, one agent (its user id), one site or one label."""

    start: date
    end: date
    tz: tzinfo
    team_id: int | None = None
    agent_id: int | None = None
    site_id: int | None = None
    label_id: int | None = None

    def bounds(self) -> tuple[datetime, datetime]:
        return (
            datetime.combine(self.start, time.min, self.tz),
            datetime.combine(self.end + timedelta(days=1), time.min, self.tz),
        )

    def everything(self) -> QuerySet[Conversation]:
        """The team, agent and site in scope, on any date; unordered, ready to group."""
        conversations = Conversation.objects.order_by()
        if self.team_id is not None:
            conversations = conversations.filter(of_team(self.team_id))
        if self.agent_id is not None:
            conversations = conversations.filter(assigned_agent_id=self.agent_id)
        if self.site_id is not None:
            conversations = conversations.filter(site_id=self.site_id)
        if self.label_id is not None:
            # A subquery, not a join: a chat counts once, and the aggregates need no DISTINCT.
            labelled = Conversation.labels.through.objects.filter(label_id=self.label_id).values("conversation_id")
            conversations = conversations.filter(pk__in=labelled)
        return conversations

    def conversations(self) -> QuerySet[Conversation]:
        low, high = self.bounds()
        in_range = self.everything().filter(created_at__gte=low, created_at__lt=high)
        return in_range.alias(first_response_delay=FIRST_RESPONSE_DELAY)


@dataclass(frozen=True)
class Figures:
    """The counts behind every rate; the rates are None when nothing was there to count."""

    chats: int = 0
    missed: int = 0
    responded: int = 0  # got a first agent reply
    responded_on_target: int = 0  # ... within the R9 target
    answered: int = 0
    long_silences: int = 0
    rated: int = 0
    good: int = 0
    agent_messages: int = 0
    canned_messages: int = 0
    follow_ups_open: int = 0

    @property
    def missed_share(self) -> float | None:
        return share(self.missed, self.chats)

    @property
    def on_target_share(self) -> float | None:
        """R9: of the chats that got a first reply, those that got it within the target."""
        return share(self.responded_on_target, self.responded)

    @property
    def silence_share(self) -> float | None:
        """R9: of the chats an agent answered, those with a silence over the limit."""
        return share(self.long_silences, self.answered)

    @property
    def csat(self) -> float | None:
        """R19: the share of good ratings among the rated chats."""
        return share(self.good, self.rated)

    @property
    def canned_share(self) -> float | None:
        """R13: the share of agent messages that started from a canned response."""
        return share(self.canned_messages, self.agent_messages)

    def __add__(self, other: "Figures") -> "Figures":
        return Figures(**{name: getattr(self, name) + getattr(other, name) for name in _FIGURE_FIELDS})


_FIGURE_FIELDS = [name for name in Figures.__dataclass_fields__]


def _aggregates() -> dict[str, Any]:
    return {
        "chats": Count("pk"),
        "missed": Count("pk", filter=MISSED),
        "responded": Count("pk", filter=RESPONDED),
        "responded_on_target": Count(
            "pk", filter=RESPONDED & Q(first_response_delay__lte=timedelta(seconds=FIRST_RESPONSE_TARGET_SECONDS))
        ),
        "answered": Count("pk", filter=ANSWERED),
        "long_silences": Count("pk", filter=ANSWERED & LONG_SILENCE),
        "rated": Count("pk", filter=RATED),
        "good": Count("pk", filter=RATED & GOOD),
        "agent_messages": Coalesce(Sum("agent_message_count"), 0),
        "canned_messages": Coalesce(Sum("canned_message_count"), 0),
        "follow_ups_open": Count("pk", filter=FOLLOW_UP_OPEN),
    }


def _figures(row: Any) -> Figures:
    return Figures(**{name: row[name] or 0 for name in _FIGURE_FIELDS})


@dataclass(frozen=True)
class PeriodRow:
    start: date  # the day, or the Monday of the week
    figures: Figures


def period_starts(scope: Scope, period: Period) -> list[date]:
    """Every day (or Monday) of the range, so a quiet day shows as a zero, not a gap."""
    first = scope.start if period == "day" else scope.start - timedelta(days=scope.start.weekday())
    step = timedelta(days=1 if period == "day" else 7)
    starts = []
    while first <= scope.end:
        starts.append(first)
        first += step
    return starts


def figures_by_period(scope: Scope, *, period: Period) -> list[PeriodRow]:
    """All figures per day or per week (Monday to Sunday), in one grouped query."""
    trunc = (TruncDay if period == "day" else TruncWeek)("created_at", tzinfo=scope.tz)
    rows = scope.conversations().annotate(bucket=trunc).values("bucket").annotate(**_aggregates())
    found = {row["bucket"].astimezone(scope.tz).date(): _figures(row) for row in rows}
    return [PeriodRow(start=start, figures=found.get(start, Figures())) for start in period_starts(scope, period)]


@dataclass(frozen=True)
class HourRow:
    hour: int  # 0-23, local time
    chats: int
    missed: int


def chats_by_hour(scope: Scope) -> list[HourRow]:
    """Chats and missed chats by the local hour of day they started: where staff is short."""
    rows = (
        scope.conversations()
        .annotate(hour=ExtractHour("created_at", tzinfo=scope.tz))
        .values("hour")
        .annotate(chats=Count("pk"), missed=Count("pk", filter=MISSED))
    )
    found: dict[int, tuple[int, int]] = {row["hour"]: (row["chats"], row["missed"]) for row in rows}
    return [HourRow(hour, *found.get(hour, (0, 0))) for hour in range(24)]


@dataclass(frozen=True)
class Bucket:
    label: str
    count: int
    on_target: bool  # ends within the R9 target of 1-2 minutes


@dataclass(frozen=True)
class FirstResponses:
    buckets: list[Bucket]
    not_answered: int

    @property
    def answered(self) -> int:
        return sum(bucket.count for bucket in self.buckets)

    @property
    def on_target(self) -> int:
        return sum(bucket.count for bucket in self.buckets if bucket.on_target)

    @property
    def on_target_share(self) -> float | None:
        return share(self.on_target, self.answered)


def first_response_distribution(scope: Scope) -> FirstResponses:
    """How long chats waited for the first agent reply, in buckets around the target."""
    counts: dict[str, Any] = {"not_answered": Count("pk", filter=~RESPONDED)}
    lower: int | None = None
    for index, (_label, upper) in enumerate(FIRST_RESPONSE_BUCKETS):
        condition = RESPONDED
        if lower is not None:
            condition &= Q(first_response_delay__gt=timedelta(seconds=lower))
        if upper is not None:
            condition &= Q(first_response_delay__lte=timedelta(seconds=upper))
        counts[f"bucket_{index}"] = Count("pk", filter=condition)
        lower = upper
    row = scope.conversations().aggregate(**counts)
    buckets = [
        Bucket(
            label=label,
            count=row[f"bucket_{index}"],
            on_target=upper is not None and upper <= FIRST_RESPONSE_TARGET_SECONDS,
        )
        for index, (label, upper) in enumerate(FIRST_RESPONSE_BUCKETS)
    ]
    return FirstResponses(buckets=buckets, not_answered=row["not_answered"])


@dataclass(frozen=True)
class AgentRow:
    user_id: int | None  # None: chats nobody claimed
    name: str
    figures: Figures


def figures_by_agent(scope: Scope) -> list[AgentRow]:
    """All figures per agent (R13: the canned share of each agent is visible), busiest first."""
    rows = list(scope.conversations().values("assigned_agent").annotate(**_aggregates()))
    user_ids = [row["assigned_agent"] for row in rows if row["assigned_agent"] is not None]
    names = dict(Agent.objects.filter(user_id__in=user_ids).values_list("user_id", "display_name"))
    result = [
        AgentRow(
            user_id=row["assigned_agent"],
            name=names.get(row["assigned_agent"], f"User {row['assigned_agent']}")
            if row["assigned_agent"] is not None
            else "Nobody (never claimed)",
            figures=_figures(row),
        )
        for row in rows
    ]
    return sorted(result, key=lambda item: (item.user_id is None, -item.figures.chats, item.name))


def follow_ups_open(scope: Scope) -> int:
    """R16: answers still owed in the team/agent/site of the scope, whenever the chat was."""
    return scope.everything().filter(FOLLOW_UP_OPEN).count()


@dataclass(frozen=True)
class Report:
    """Everything the charts page shows, from six queries whatever the volume."""

    scope: Scope
    period: Period
    totals: Figures
    by_period: list[PeriodRow]
    by_hour: list[HourRow]
    first_responses: FirstResponses
    by_agent: list[AgentRow]
    follow_ups_open_now: int


def report(scope: Scope, *, period: Period) -> Report:
    by_period = figures_by_period(scope, period=period)
    totals = Figures()
    for row in by_period:
        totals += row.figures
    return Report(
        scope=scope,
        period=period,
        totals=totals,
        by_period=by_period,
        by_hour=chats_by_hour(scope),
        first_responses=first_response_distribution(scope),
        by_agent=figures_by_agent(scope),
        follow_ups_open_now=follow_ups_open(scope),
    )
