"""The charts page's charts, built from one `chat.metrics.Report` (R9, R13, R19, R23).

Their words are translated when they are built, in the language of the request (the page or the CSV)."""

from django.utils import formats
from django.utils.translation import gettext as _

from ..metrics import FIRST_RESPONSE_TARGET_SECONDS, SILENCE_LIMIT_SECONDS, Report
from ..metrics.definitions import GOOD_RATING
from .charts import Chart, Reference, Series

CANNED_ROBOTIC_SHARE = 0.5  # R13: above this, replies start to sound robotic


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{round(100 * value)} %"


def period_label(report: Report, index: int) -> str:
    start = report.by_period[index].start
    day = formats.date_format(start, "d M")
    return day if report.period == "day" else _("wk %(day)s") % {"day": day}


def report_charts(report: Report) -> list[Chart]:
    periods = [period_label(report, index) for index in range(len(report.by_period))]
    figures = [row.figures for row in report.by_period]
    totals = report.totals
    hours = report.by_hour
    first = report.first_responses
    target_minutes = FIRST_RESPONSE_TARGET_SECONDS // 60
    daily = report.period == "day"
    per = _("day") if daily else _("week")
    return [
        Chart(
            slug="hours",
            title=_("Chats and missed chats by hour of day"),
            description=_(
                "When customers start chats (local time), and how many nobody answered live: "
                "left as a message while no agent was online, or queued past the missed-chat limit. "
                "Missed chats cluster where the rota is short."
            ),
            categories=[f"{row.hour:02d}" for row in hours],
            series=[
                Series(_("Answered live"), [row.chats - row.missed for row in hours], "bar--primary"),
                Series(_("Missed"), [row.missed for row in hours], "bar--danger"),
            ],
            stacked=True,
            label_every=3,
            headline=_("%(chats)s chats, %(missed)s missed (%(share)s)")
            % {"chats": totals.chats, "missed": totals.missed, "share": _percent(totals.missed_share)},
        ),
        Chart(
            slug="first-response",
            title=_("First response time (target: within %(minutes)s minutes)") % {"minutes": target_minutes},
            description=_(
                "How long a chat waited for the agent's first reply, from when it opened. "
                "Green bars are within the %(minutes)s-minute target."
            )
            % {"minutes": target_minutes},
            categories=[_(bucket.label) for bucket in first.buckets],
            series=[
                Series(
                    _("Chats"),
                    [bucket.count for bucket in first.buckets],
                    "bar--ok",
                    colors=["bar--ok" if bucket.on_target else "bar--late" for bucket in first.buckets],
                ),
            ],
            headline=_("%(share)s of %(answered)s answered chats within %(minutes)s min; %(unanswered)s not answered")
            % {
                "share": _percent(first.on_target_share),
                "answered": first.answered,
                "minutes": target_minutes,
                "unanswered": first.not_answered,
            },
            extra_columns=[(_("On target"), [_("yes") if bucket.on_target else _("no") for bucket in first.buckets])],
        ),
        Chart(
            slug="silences",
            title=_("Chats with a silence over %(seconds)s s, per %(per)s")
            % {"seconds": SILENCE_LIMIT_SECONDS, "per": per},
            description=_(
                "Of the chats an agent answered, the share where the customer once waited more than "
                "%(seconds)s seconds for a reply (R9: no awkward pause)."
            )
            % {"seconds": SILENCE_LIMIT_SECONDS},
            categories=periods,
            series=[Series(_("Share with a long silence"), [f.silence_share for f in figures], "bar--amber")],
            percent=True,
            headline=_("%(share)s of %(answered)s answered chats")
            % {"share": _percent(totals.silence_share), "answered": totals.answered},
            extra_columns=[
                (_("Chats with a long silence"), [str(f.long_silences) for f in figures]),
                (_("Answered chats"), [str(f.answered) for f in figures]),
            ],
        ),
        Chart(
            slug="csat",
            title=_("Customer satisfaction, per %(per)s") % {"per": per},
            description=_("The share of ratings of %(good)s or 5 out of 5, among the chats that were rated.")
            % {"good": GOOD_RATING},
            categories=periods,
            series=[Series(_("Good ratings"), [f.csat for f in figures], "bar--ok")],
            percent=True,
            headline=_("%(share)s good, of %(rated)s rated chats")
            % {"share": _percent(totals.csat), "rated": totals.rated},
            extra_columns=[
                (_("Good ratings"), [str(f.good) for f in figures]),
                (_("Rated chats"), [str(f.rated) for f in figures]),
            ],
        ),
        Chart(
            slug="canned",
            title=_("Canned share, per %(per)s") % {"per": per},
            description=_(
                "The share of agent messages that started from a canned response. "
                "Above half, replies start to sound robotic (R13)."
            ),
            categories=periods,
            series=[Series(_("Canned share"), [f.canned_share for f in figures], "bar--primary")],
            percent=True,
            reference=Reference(CANNED_ROBOTIC_SHARE, _("50 %: sounds robotic")),
            headline=_("%(share)s of %(messages)s agent messages")
            % {"share": _percent(totals.canned_share), "messages": totals.agent_messages},
            extra_columns=[
                (_("Canned messages"), [str(f.canned_messages) for f in figures]),
                (_("Agent messages"), [str(f.agent_messages) for f in figures]),
            ],
        ),
        Chart(
            slug="follow-ups",
            title=_("Follow-ups still open, by the day the chat started")
            if daily
            else _("Follow-ups still open, by the week the chat started"),
            description=_(
                "Chats where an agent promised an answer by email that is still owed (R16). "
                "Old bars are customers still waiting."
            ),
            categories=periods,
            series=[Series(_("Open follow-ups"), [f.follow_ups_open for f in figures], "bar--amber")],
            headline=_("%(count)s open now in this team or agent, whenever the chat was")
            % {"count": report.follow_ups_open_now},
        ),
    ]


def agent_columns() -> list[str]:
    """The per-agent table's headings, in the request's language."""
    return [
        _("Agent"), _("Chats"), _("Missed"), _("First reply on target"), _("Long silences"), _("Good ratings"),
        _("Rated"), _("Canned share"), _("Follow-ups open"),
    ]  # fmt: skip


def agent_rows(report: Report) -> list[list[str]]:
    """R13, R23: each agent's figures side by side, busiest first; one row per agent."""
    return [
        [
            row.name,
            str(row.figures.chats),
            str(row.figures.missed),
            _percent(row.figures.on_target_share),
            _percent(row.figures.silence_share),
            _percent(row.figures.csat),
            str(row.figures.rated),
            _percent(row.figures.canned_share),
            str(row.figures.follow_ups_open),
        ]
        for row in report.by_agent
    ]
