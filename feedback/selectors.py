from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from knowledgebase.search import Match, text_search

from .models import FeedbackItem

ITEM_FIELDS = (("summary", "A"),)
WINDOWS = (30, 90)


def feedback_similar(*, text: str, limit: int = 5) -> list[FeedbackItem]:
    """Open items that look like `text`, best first: offered for merging before a new item is made."""
    open_items = FeedbackItem.objects.filter(status__in=FeedbackItem.OPEN_STATUSES)
    return text_search(open_items, text=text, fields=ITEM_FIELDS, match=Match.ANY, limit=limit)


def backlog_ranked(
    *, window_days: int = 30, kind: str = "", status: str = "", source: str = ""
) -> QuerySet[FeedbackItem]:
    """The backlog, most mentioned in the window first (R20), with `mentions_30`, `mentions_90`
    and `mentions_total` on each item."""
    now = timezone.now()
    items = FeedbackItem.objects.annotate(
        mentions_30=Count("mentions", filter=Q(mentions__created_at__gte=now - timedelta(days=30))),
        mentions_90=Count("mentions", filter=Q(mentions__created_at__gte=now - timedelta(days=90))),
        mentions_total=Count("mentions"),
    )
    if kind:
        items = items.filter(kind=kind)
    if status:
        items = items.filter(status=status)
    if source:
        items = items.filter(source=source)
    rank = "-mentions_90" if window_days == 90 else "-mentions_30"
    return items.order_by(rank, "-mentions_total", "-created_at")
