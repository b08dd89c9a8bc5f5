"""The one full-text search of the project, used by the help centre and the feedback backlog.

On PostgreSQL every searched table has a `search_vector` tsvector column that the database
generates from weighted text columns (a STORED generated column, so it is always up to date
without a trigger or a service), with a GIN index; see the `search_vector` migrations. It is
not a Django field, so other databases never see it. The query is `websearch_to_tsquery`
(quotes, `or`, `-word`), ranked by `ts_rank` (title weight A beats body weight B), with
`ts_headline` snippets. Elsewhere (the SQLite embedded default) a plain fallback matches the
words with `icontains` and ranks by the weights of the columns they were found in.
"""

import html
import re
from collections.abc import Sequence
from enum import StrEnum
from functools import reduce
from operator import and_, or_
from typing import TypeVar

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVectorField
from django.db import connection
from django.db.models import Case, Model, Q, QuerySet, Value, When
from django.db.models.expressions import Expression, RawSQL
from django.utils.safestring import SafeString, mark_safe

M = TypeVar("M", bound=Model)

CONFIG = "english"
# ts_rank's default weights for A and B; the fallback ranks with the same ones.
WEIGHTS = {"A": 1.0, "B": 0.4}
# Private-use characters mark the highlighted words until the snippet is escaped, so nothing
# in an article can forge a <mark> or any other tag.
START, STOP = "\ue000", "\ue001"
MAX_QUERY_LENGTH = 200
MAX_WORDS = 12
SNIPPET_WORDS = 30
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "get",
        "got",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "please",
        "so",
        "that",
        "the",
        "their",
        "then",
        "there",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "hi",
        "hello",
        "thanks",
        "thank",
    ]
)


class Match(StrEnum):
    # The help centre: every word (websearch syntax: "quoted phrase", or, -word).
    ALL = "all"
    # Suggestions for a chat question: any of its words, the best matches first.
    ANY = "any"


def query_words(text: str) -> list[str]:
    """The words of a question worth searching for, in order, without duplicates."""
    seen: dict[str, None] = {}
    for word in re.findall(r"\w+", text[:MAX_QUERY_LENGTH].lower()):
        if len(word) > 1 and word not in STOPWORDS:
            seen.setdefault(word, None)
    return list(seen)[:MAX_WORDS]


def text_search(
    queryset: QuerySet[M],
    *,
    text: str,
    fields: Sequence[tuple[str, str]],
    match: Match = Match.ALL,
    snippet_field: str | None = None,
    limit: int = 20,
) -> list[M]:
    """The objects of `queryset` matching `text`, best first, at most `limit`.

    `fields` are (column, weight "A" or "B") pairs, the same ones the PostgreSQL vector
    column is generated from. Each result gets a float `rank` and, with a `snippet_field`,
    a `snippet` of safe HTML with the matched words in <mark>.
    """
    words = query_words(text)
    if not words:
        return []
    if connection.vendor == "postgresql":
        results = _postgres(queryset, text=text, words=words, match=match, snippet_field=snippet_field, limit=limit)
    else:
        results = _fallback(queryset, words=words, fields=fields, match=match, limit=limit)
        for obj in results:
            if snippet_field:
                obj.snippet_raw = _fallback_snippet(getattr(obj, snippet_field), words)  # type: ignore[attr-defined]
    for obj in results:
        if snippet_field:
            obj.snippet = _highlight(obj.snippet_raw)  # type: ignore[attr-defined]
    return results


def _postgres(
    queryset: QuerySet[M], *, text: str, words: list[str], match: Match, snippet_field: str | None, limit: int
) -> list[M]:
    terms = text[:MAX_QUERY_LENGTH] if match == Match.ALL else " or ".join(words)
    query = SearchQuery(terms, search_type="websearch", config=CONFIG)
    table = connection.ops.quote_name(queryset.model._meta.db_table)
    vector = RawSQL(f"{table}.search_vector", [], output_field=SearchVectorField())
    found = queryset.alias(matched_vector=vector).filter(matched_vector=query).annotate(rank=SearchRank(vector, query))
    if snippet_field:
        found = found.annotate(
            snippet_raw=SearchHeadline(
                snippet_field,
                query,
                config=CONFIG,
                start_sel=START,
                stop_sel=STOP,
                max_words=SNIPPET_WORDS,
                min_words=SNIPPET_WORDS // 2,
                max_fragments=2,
                fragment_delimiter=" … ",
            )
        )
    return list(found.order_by("-rank", "-pk")[:limit])


def _fallback(
    queryset: QuerySet[M], *, words: list[str], fields: Sequence[tuple[str, str]], match: Match, limit: int
) -> list[M]:
    def in_any_field(word: str) -> Q:
        return reduce(or_, (Q(**{f"{field}__icontains": word}) for field, _ in fields))

    combine = and_ if match == Match.ALL else or_
    score: Expression = Value(0.0)
    for word in words:
        for field, weight in fields:
            score = score + Case(When(Q(**{f"{field}__icontains": word}), then=Value(WEIGHTS[weight])), default=0.0)
    found = queryset.filter(reduce(combine, (in_any_field(word) for word in words)))
    return list(found.annotate(rank=score).order_by("-rank", "-pk")[:limit])


def _fallback_snippet(text: str, words: list[str]) -> str:
    pattern = re.compile("|".join(re.escape(word) for word in words), re.IGNORECASE)
    tokens = text.split()
    first = next((i for i, token in enumerate(tokens) if pattern.search(token)), 0)
    start = max(0, first - SNIPPET_WORDS // 3)
    window = " ".join(tokens[start : start + SNIPPET_WORDS])
    return pattern.sub(lambda m: f"{START}{m.group(0)}{STOP}", window)


def _highlight(raw: str) -> SafeString:
    # Markdown punctuation only clutters a one-line snippet.
    plain = re.sub(r"[#*_`>|\[\]]+", "", raw or "")
    escaped = html.escape(plain, quote=False)
    return mark_safe(escaped.replace(START, "<mark>").replace(STOP, "</mark>"))
