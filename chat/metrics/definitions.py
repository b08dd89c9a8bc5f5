"""What each supervisor metric means, stated once as database expressions (R9, R13, R19, R23).

The review list, its filters, the charts and the floor all read these, so a "long
silence" or a "missed chat" is the same thing on every page.
"""

from django.db.models import DurationField, Exists, ExpressionWrapper, F, Q
from django.utils.translation import gettext_noop

from agents.models import Team

from ..models import Topic

# R9: a customer left this long without an agent's reply is an awkward pause.
SILENCE_LIMIT_SECONDS = 45
# R9: the first reply should come within 1-2 minutes.
FIRST_RESPONSE_TARGET_SECONDS = 120
# R19: ratings run 1 (bad) to 5 (great); 4 and 5 count as satisfied.
GOOD_RATING = 4

# First-response buckets as (label, upper bound in seconds or None for open-ended);
# those ending within the target are drawn as "on target". The labels are translated where
# they are shown (chat.supervision.reports).
FIRST_RESPONSE_BUCKETS: list[tuple[str, int | None]] = [
    (gettext_noop("under 1 min"), 60),
    (gettext_noop("1-2 min"), 120),
    (gettext_noop("2-5 min"), 300),
    (gettext_noop("5-15 min"), 900),
    (gettext_noop("over 15 min"), None),
]

# The first agent reply came this long after the chat opened (null: not answered yet).
FIRST_RESPONSE_DELAY = ExpressionWrapper(F("first_response_at") - F("created_at"), output_field=DurationField())

# Nobody answered live: left as a message while no agent was there (R3), or queued past
# the missed-chat limit (R24).
MISSED = Q(missed_at__isnull=False) | Q(is_offline_message=True)
RESPONDED = Q(first_response_at__isnull=False)
# An agent wrote at least once; silences and canned share only mean something then.
ANSWERED = Q(agent_message_count__gt=0)
# R9: at least once the customer waited longer than the limit for a reply.
LONG_SILENCE = Q(longest_wait_seconds__gt=SILENCE_LIMIT_SECONDS)
RATED = Q(rating__isnull=False)
GOOD = Q(rating__gte=GOOD_RATING)
FOLLOW_UP_OPEN = Q(needs_follow_up=True)


def canned_over_half() -> Q:
    """R13: more than half of the agent's messages were canned (2 * canned > agent, in integers)."""
    return Q(agent_message_count__lt=F("canned_message_count") * 2)


def of_team(team_id: int) -> Q:
    """A chat's team: the one it was transferred to, else the teams serving its topic, else,
    for a default team, the chats no team serves (the routing rule of agents.selectors).
    All subqueries: filtering by team costs no query of its own."""
    served = Topic.objects.filter(teams=team_id).values("pk")
    unserved = Topic.objects.filter(teams__isnull=True).values("pk")
    is_default = Exists(Team.objects.filter(pk=team_id, is_default=True))
    return (
        Q(team_id=team_id)
        | Q(team__isnull=True, topic_id__in=served)
        | (Q(team__isnull=True) & (Q(topic__isnull=True) | Q(topic_id__in=unserved)) & Q(is_default))
    )


def share(part: int, whole: int) -> float | None:
    """part/whole, or None when there is nothing to divide (shown as "-", never as 0 %)."""
    return part / whole if whole else None
