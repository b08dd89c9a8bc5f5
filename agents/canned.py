"""Canned responses (R13, R14): who sees which, finding one, filling in names, saving a good reply."""

import difflib
import re

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import OrderBy
from django.utils.text import slugify

from chat.errors import ChatError, ErrorCode

from .models import Agent, CannedResponse, Team

SEARCH_MAX_LIMIT = 50
# Comparing characters costs up to O(n*m); beyond this many characters in all, words are compared.
_EDIT_RATIO_MAX_CHARS = 2000

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# Stands in for a placeholder with no value until the text around it is tidied.
_MISSING = "\x00"
_HELLO_MISSING = re.compile(rf"\b(hi|hello|hey)[ \t]+{_MISSING}", re.IGNORECASE)
_DEAR_MISSING = re.compile(rf"\b(dear)[ \t]+{_MISSING}", re.IGNORECASE)
_LEADING_SEPARATOR = re.compile(r"^[ \t]*[,;:]?[ \t]*")
_TRAILING_SEPARATOR = re.compile(r"[ \t]*[,;:]?[ \t]*$")


def _visible_to(agent: Agent) -> Q:
    return Q(owner=agent) | Q(team__in=Team.objects.filter(agents=agent).values("pk"))


def _personal_first(agent: Agent) -> OrderBy:
    return Case(When(owner=agent, then=Value(1)), default=Value(0), output_field=IntegerField()).desc()


def canned_for_agent(*, agent: Agent) -> QuerySet[CannedResponse]:
    """The agent's personal responses and those shared with the agent's teams, by shortcut;
    for the same shortcut the personal one comes first (`owner_id` is set on personal ones)."""
    return (
        CannedResponse.objects.filter(_visible_to(agent))
        .select_related("team")
        .order_by("shortcut", _personal_first(agent), "pk")
    )


def canned_search(*, agent: Agent, query: str, limit: int = 8) -> list[CannedResponse]:
    """What the composer offers after a slash: "" gives the most used; text ranks shortcut matches
    (exact, then prefix) before title matches before body matches, personal first within a rank."""
    limit = max(1, min(limit, SEARCH_MAX_LIMIT))
    text = query.strip().removeprefix("/").strip()[:100]
    responses = canned_for_agent(agent=agent)
    if not text:
        return list(responses.order_by("-use_count", _personal_first(agent), "shortcut", "pk")[:limit])
    rank = Case(
        When(shortcut__iexact=text, then=Value(0)),
        When(shortcut__istartswith=text, then=Value(1)),
        When(title__icontains=text, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
    matching = responses.filter(Q(shortcut__istartswith=text) | Q(title__icontains=text) | Q(body__icontains=text))
    return list(matching.order_by(rank, _personal_first(agent), "-use_count", "shortcut", "pk")[:limit])


def canned_render(*, canned: CannedResponse, visitor_name: str, agent: Agent) -> str:
    """The body with names filled in; a name that is not known is left out so the text still reads well.

    "Hi {visitor.name}," becomes "Hi there,", "Dear {visitor.name}," becomes "Hello,", and
    elsewhere the placeholder goes with the comma before it: "Thanks, {visitor.first_name}!"
    becomes "Thanks!". Unknown placeholders are treated as names that are not known.
    """
    visitor = " ".join(visitor_name.replace(_MISSING, "").split())
    agent_name = " ".join(agent.display_name.split())
    values = {
        "visitor.name": visitor,
        "visitor.first_name": visitor.split(" ")[0],
        "agent.name": agent_name,
        "agent.first_name": agent_name.split(" ")[0] if agent_name else agent.user.first_name.strip(),
    }

    def fill(match: re.Match[str]) -> str:
        return values.get(match.group(1).strip().lower()) or _MISSING

    text = _PLACEHOLDER.sub(fill, canned.body)
    if _MISSING not in text:
        return text
    text = _HELLO_MISSING.sub(r"\1 there", text)
    text = _DEAR_MISSING.sub(lambda match: "Hello" if match.group(1)[0].isupper() else "hello", text)
    return _drop_missing(text)


def _drop_missing(text: str) -> str:
    while (at := text.find(_MISSING)) != -1:
        before, after = text[:at], text[at + 1 :]
        head = before.rstrip(" \t")
        if not head or head[-1] in ".!?\n":
            # "{visitor.name}, your order has shipped." starts a sentence: "Your order has shipped."
            after = _LEADING_SEPARATOR.sub("", after, count=1)
            text = before + after[:1].upper() + after[1:]
        else:
            text = _TRAILING_SEPARATOR.sub("", before, count=1) + after
    return text


def canned_create(*, agent: Agent, title: str, shortcut: str, body: str, team_id: int | None) -> CannedResponse:
    """Save a reply as a canned response: personal without a team, else shared with that team.

    An agent shares only with a team of theirs, a supervisor with any. The shortcut is
    slugified and must be free within its scope (the agent's own, or the team's).
    """
    title = " ".join(title.split())
    body = body.strip()
    slug = slugify(shortcut.strip().removeprefix("/"))
    title_max = CannedResponse._meta.get_field("title").max_length or 0
    shortcut_max = CannedResponse._meta.get_field("shortcut").max_length or 0
    if not title:
        raise ChatError(ErrorCode.INVALID_FIELD, "Give the canned response a title.", field="title")
    if len(title) > title_max:
        raise ChatError(ErrorCode.INVALID_FIELD, f"A title can be at most {title_max} characters.", field="title")
    if not body:
        raise ChatError(ErrorCode.INVALID_FIELD, "A canned response needs some text.", field="body")
    if len(body) > settings.CHAT_MESSAGE_MAX_LENGTH:
        limit = settings.CHAT_MESSAGE_MAX_LENGTH
        raise ChatError(ErrorCode.INVALID_FIELD, f"A canned response can be at most {limit} characters.", field="body")
    if not slug:
        raise ChatError(
            ErrorCode.INVALID_FIELD, 'Pick a shortcut of letters, digits or dashes, e.g. "refund".', field="shortcut"
        )
    if len(slug) > shortcut_max:
        raise ChatError(
            ErrorCode.INVALID_FIELD, f"A shortcut can be at most {shortcut_max} characters.", field="shortcut"
        )
    with transaction.atomic():
        # Locking the scope's row (the agent, or the team) makes the check and insert below
        # one step: two saves of the same shortcut at once cannot both pass the check.
        if team_id is None:
            Agent.objects.select_for_update().filter(pk=agent.pk).first()
            team = None
            taken = CannedResponse.objects.filter(owner=agent, shortcut=slug).exists()
            clash = f'You already have a canned response "/{slug}". Pick another shortcut.'
        else:
            if not agent.is_supervisor and not Team.objects.filter(pk=team_id, agents=agent).exists():
                raise ChatError(
                    ErrorCode.INVALID_FIELD, "You can share canned responses only with your own teams.", field="team_id"
                )
            team = Team.objects.select_for_update().filter(pk=team_id).first()
            if team is None:
                raise ChatError(ErrorCode.INVALID_FIELD, "No such team.", field="team_id")
            taken = CannedResponse.objects.filter(team=team, shortcut=slug).exists()
            clash = f'{team.name} already has a canned response "/{slug}". Pick another shortcut.'
        if taken:
            raise ChatError(ErrorCode.INVALID_FIELD, clash, field="shortcut")
        return CannedResponse.objects.create(
            shortcut=slug,
            title=title,
            body=body,
            team=team,
            owner=agent if team is None else None,
            created_by=agent,
        )


def canned_edit_ratio(*, rendered: str, sent: str) -> float:
    """How much of the rendered text the agent changed: 0.0 sent as is, 1.0 nothing of it left.

    `autojunk` is off: on texts over 200 characters it ignores common characters such as
    spaces and "e", and a five-letter insertion into a long reply would count as a third changed.
    """
    if len(rendered) + len(sent) > _EDIT_RATIO_MAX_CHARS:
        old: str | list[str] = rendered.split()
        new: str | list[str] = sent.split()
    else:
        old, new = rendered, sent
    return round(1 - difflib.SequenceMatcher(None, old, new, autojunk=False).ratio(), 3)


def canned_use(*, canned_id: int, agent: Agent) -> CannedResponse | None:
    """The canned response if the agent may use it, counted as used once more; else None."""
    # One UPDATE both checks visibility and counts, atomically, without a lock held across queries.
    counted = CannedResponse.objects.filter(_visible_to(agent), pk=canned_id).update(use_count=F("use_count") + 1)
    if not counted:
        return None
    return CannedResponse.objects.select_related("team").filter(pk=canned_id).first()
