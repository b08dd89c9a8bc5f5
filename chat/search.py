"""Search over every conversation a viewer may see: message text, visitor, label, agent, date.

On PostgreSQL the message text is matched with full-text search on the GIN index of
migration 0013 (`to_tsvector('simple', COALESCE(body, ''))`); elsewhere with a plain
substring match. Private notes are searched too: only agents and supervisors search, and
they read notes in the console already.
"""

import html
import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchVector
from django.db import connection
from django.db.models import Min, Q, QuerySet
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from agents.selectors import agent_for_user, routing_filter_for_agent

from .errors import ChatError, ErrorCode
from .models import Conversation, Message, Visitor
from .selectors import conversations_with_people
from .supervision.access import user_is_supervisor

CONFIG = "simple"  # the configuration of the index: chats mix languages and product names
MAX_TEXT_LENGTH = 200
# Private-use characters mark the matched words until the snippet is escaped, so nothing a
# visitor wrote can forge a <mark> or any other tag.
START, STOP = "\ue000", "\ue001"
SNIPPET_CHARS = 160


def visible_to(viewer: AbstractBaseUser | AnonymousUser) -> Q | None:
    """The console's rule (`chat.selectors.agent_can_see`) stated for a query: supervisors see
    every chat (an empty Q); an agent the chats it owns and those routed to its teams; anyone
    else none (None)."""
    if user_is_supervisor(viewer):
        return Q()
    agent = agent_for_user(viewer)
    if agent is None:
        return None
    # A subquery, not a join: the routing rule goes through topic teams, which would repeat rows.
    routed = Conversation.objects.filter(routing_filter_for_agent(agent)).values("pk")
    return Q(assigned_agent_id=agent.user_id) | Q(pk__in=routed)


def conversations_visible_to(viewer: AbstractBaseUser | AnonymousUser) -> QuerySet[Conversation]:
    """Every conversation `viewer` may see, by the rule of `visible_to`."""
    visible = visible_to(viewer)
    return Conversation.objects.none() if visible is None else Conversation.objects.filter(visible)


def conversation_search(
    *,
    viewer: AbstractBaseUser | AnonymousUser,
    text: str = "",
    label_ids: Sequence[int] = (),
    agent_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    status: str = "",
) -> QuerySet[Conversation]:
    """The viewer's conversations matching every filter given, newest first.

    `text` matches a message (notes included), the visitor's name or email; `label_ids`
    any of those labels; the dates are the day the chat began, both ends included, in the
    server's time zone.
    """
    text = text.strip().replace("\x00", " ")
    if len(text) > MAX_TEXT_LENGTH:
        raise ChatError(
            ErrorCode.INVALID_FIELD, _("Search for at most %(count)d characters.") % {"count": MAX_TEXT_LENGTH}
        )
    if status and status not in Conversation.Status.values:
        raise ChatError(ErrorCode.INVALID_FIELD, _("No such status: %(status)s.") % {"status": status})
    if date_from and date_to and date_from > date_to:
        raise ChatError(ErrorCode.INVALID_FIELD, _("The start date is after the end date."))

    visible = visible_to(viewer)
    if visible is None:
        return Conversation.objects.none()
    found = conversations_with_people().filter(visible)
    if text:
        # Subqueries only, no OR across the visitor join: with a join the planner may walk
        # the newest chats testing every visitor row against each (seconds at 10,000 chats).
        visitors = Visitor.objects.filter(Q(name__icontains=text) | Q(email__icontains=text)).values("pk")
        found = found.filter(Q(pk__in=_messages_matching(text).values("conversation_id")) | Q(visitor_id__in=visitors))
    if label_ids:
        labelled = Conversation.labels.through.objects.filter(label_id__in=label_ids).values("conversation_id")
        found = found.filter(pk__in=labelled)
    if agent_id is not None:
        found = found.filter(assigned_agent_id=agent_id)
    if status:
        found = found.filter(status=status)
    if date_from:
        found = found.filter(created_at__gte=_day_start(date_from))
    if date_to:
        found = found.filter(created_at__lt=_day_start(date_to) + timedelta(days=1))
    return found.prefetch_related("labels").order_by("-created_at", "-pk")


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _query(text: str) -> SearchQuery:
    return SearchQuery(text, search_type="websearch", config=CONFIG)


def _messages_matching(text: str) -> QuerySet[Message]:
    if connection.vendor == "postgresql":
        # The same expression as the index, so the planner can use it.
        return Message.objects.annotate(search=SearchVector("body", config=CONFIG)).filter(search=_query(text))
    return Message.objects.filter(body__icontains=text)


def search_snippets(*, conversations: Sequence[Conversation], text: str) -> dict[int, SafeString]:
    """For the conversations of one page, the first message matching `text`, trimmed, with
    the match in <mark>: safe HTML. Two queries at most, whatever the page's size; a chat
    found by its visitor alone has no snippet."""
    text = text.strip().replace("\x00", " ")
    ids = [conversation.pk for conversation in conversations]
    if not text or not ids:
        return {}
    first = dict(
        _messages_matching(text)
        .filter(conversation_id__in=ids)
        .order_by()
        .values("conversation_id")
        .annotate(first_seq=Min("seq"))
        .values_list("conversation_id", "first_seq")
    )
    if not first:
        return {}
    wanted = Q()
    for conversation_id, seq in first.items():
        wanted |= Q(conversation_id=conversation_id, seq=seq)
    messages = Message.objects.filter(wanted)
    if connection.vendor == "postgresql":
        # ts_headline is costly: run only for the one message shown per chat on this page.
        headlined = messages.annotate(
            headline=SearchHeadline(
                "body", _query(text), config=CONFIG, start_sel=START, stop_sel=STOP, max_words=30, min_words=10
            )
        ).values_list("conversation_id", "headline")
        return {conversation_id: _highlight(raw) for conversation_id, raw in headlined}
    return {
        conversation_id: _highlight(_fallback_snippet(body, text))
        for conversation_id, body in messages.values_list("conversation_id", "body")
    }


def _fallback_snippet(body: str, text: str) -> str:
    at = body.lower().find(text.lower())
    if at < 0:
        return body[:SNIPPET_CHARS]
    start = max(0, at - SNIPPET_CHARS // 3)
    end = min(len(body), start + SNIPPET_CHARS)
    piece = body[start:at] + START + body[at : at + len(text)] + STOP + body[at + len(text) : end]
    return ("…" if start else "") + piece + ("…" if end < len(body) else "")


def _highlight(raw: str) -> SafeString:
    escaped = html.escape(re.sub(r"\s+", " ", raw or ""), quote=False)
    return mark_safe(escaped.replace(START, "<mark>").replace(STOP, "</mark>"))
