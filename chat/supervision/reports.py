"""The charts page's charts, built from one `chat.metrics.Report` (R9, R13, R19, R23)."""

from ..metrics import FIRST_RESPONSE_TARGET_SECONDS, SILENCE_LIMIT_SECONDS, Report
from ..metrics.definitions import GOOD_RATING
from .charts import Chart, Reference, Series

CANNED_ROBOTIC_SHARE = 0.5  # R13: above this, replies start to sound robotic


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{round(100 * value)} %"


def period_label(report: Report, index: int) -> str:
    start = report.by_period[index].start
    return f"{start:%d %b}" if report.period == "day" else f"wk {start:%d %b}"


def report_charts(report: Report) -> list[Chart]:
    periods = [period_label(report, index) for index in range(len(report.by_period))]
    figures = [row.figures for row in report.by_period]
    totals = report.totals
    hours = report.by_hour
    first = report.first_responses
    target_minutes = FIRST_RESPONSE_TARGET_SECONDS // 60
    per = "day" if report.period == "day" else "week"
    return [
        Chart(
            slug="hours",
            title="Chats and missed chats by hour of day",
            description="When customers start chats (local time), and how many nobody answered live: "
            "left as a message while no agent was online, or queued past the missed-chat limit. "
            "Missed chats cluster where the rota is short.",
            categories=[f"{row.hour:02d}" for row in hours],
            series=[
                Series("Answered live", [row.chats - row.missed for row in hours], "bar--primary"),
                Series("Missed", [row.missed for row in hours], "bar--danger"),
            ],
            stacked=True,
            label_every=3,
            headline=f"{totals.chats} chats, {totals.missed} missed ({_percent(totals.missed_share)})",
        ),
        Chart(
            slug="first-response",
            title=f"First response time (target: within {target_minutes} minutes)",
            description="How long a chat waited for the agent's first reply, from when it opened. "
            f"Green bars are within the {target_minutes}-minute target.",
            categories=[bucket.label for bucket in first.buckets],
            series=[
                Series(
                    "Chats",
                    [bucket.count for bucket in first.buckets],
                    "bar--ok",
                    colors=["bar--ok" if bucket.on_target else "bar--late" for bucket in first.buckets],
                ),
            ],
            headline=f"{_percent(first.on_target_share)} of {first.answered} answered chats within "
            f"{target_minutes} min; {first.not_answered} not answered",
            extra_columns=[("On target", ["yes" if bucket.on_target else "no" for bucket in first.buckets])],
        ),
        Chart(
            slug="silences",
            title=f"Chats with a silence over {SILENCE_LIMIT_SECONDS} s, per {per}",
            description=f"Of the chats an agent answered, the share where the customer once waited more than "
            f"{SILENCE_LIMIT_SECONDS} seconds for a reply (R9: no awkward pause).",
            categories=periods,
            series=[Series("Share with a long silence", [f.silence_share for f in figures], "bar--amber")],
            percent=True,
            headline=f"{_percent(totals.silence_share)} of {totals.answered} answered chats",
            extra_columns=[
                ("Chats with a long silence", [str(f.long_silences) for f in figures]),
                ("Answered chats", [str(f.answered) for f in figures]),
            ],
        ),
        Chart(
            slug="csat",
            title=f"Customer satisfaction, per {per}",
            description=f"The share of ratings of {GOOD_RATING} or 5 out of 5, among the chats that were rated.",
            categories=periods,
            series=[Series("Good ratings", [f.csat for f in figures], "bar--ok")],
            percent=True,
            headline=f"{_percent(totals.csat)} good, of {totals.rated} rated chats",
            extra_columns=[
                ("Good ratings", [str(f.good) for f in figures]),
                ("Rated chats", [str(f.rated) for f in figures]),
            ],
        ),
        Chart(
            slug="canned",
            title=f"Canned share, per {per}",
            description="The share of agent messages that started from a canned response. "
            "Above half, replies start to sound robotic (R13).",
            categories=periods,
            series=[Series("Canned share", [f.canned_share for f in figures], "bar--primary")],
            percent=True,
            reference=Reference(CANNED_ROBOTIC_SHARE, "50 %: sounds robotic"),
            headline=f"{_percent(totals.canned_share)} of {totals.agent_messages} agent messages",
            extra_columns=[
                ("Canned messages", [str(f.canned_messages) for f in figures]),
                ("Agent messages", [str(f.agent_messages) for f in figures]),
            ],
        ),
        Chart(
            slug="follow-ups",
            title=f"Follow-ups still open, by the {per} the chat started",
            description="Chats where an agent promised an answer by email that is still owed (R16). "
            "Old bars are customers still waiting.",
            categories=periods,
            series=[Series("Open follow-ups", [f.follow_ups_open for f in figures], "bar--amber")],
            headline=f"{report.follow_ups_open_now} open now in this team or agent, whenever the chat was",
        ),
    ]


AGENT_COLUMNS = [
    "Agent", "Chats", "Missed", "First reply on target", "Long silences", "Good ratings", "Rated", "Canned share",
    "Follow-ups open",
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
