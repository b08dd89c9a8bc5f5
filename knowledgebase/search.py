"""The one full-text search of the project, used by the help centre and the feedback backlog.

On PostgreSQL every searched table has a `search_vector` tsvector column that the database
generates from weighted text columns (a STORED generated column, so it is always up to date
without a trigger or a service), with a GIN index; tables searched with weight-B columns also
have `search_head_vector` (their weight-A columns alone, e.g. the title); see the
`search_vector` migrations. They are not Django fields, so other databases never see them.
The query is `websearch_to_tsquery` (quotes, `or`, `-word`), ranked by `ts_rank` (title
weight A beats body weight B), with `ts_headline` snippets. Elsewhere (the SQLite embedded
default) a plain fallback matches the words with `icontains` and ranks by the weights of the
columns they were found in.

Either way a search is two queries: the keys and ranks of a bounded set of candidates (a
page count and any page come from it), then the rows and snippets of the page shown. Why it
is built so, with figures: docs/performance.md, "Knowledge-base search".
"""

import html
import re
from collections.abc import Iterator, Sequence
from enum import StrEnum
from functools import reduce
from operator import and_, or_
from typing import Any, Generic, TypeVar, overload

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models import Case, Model, Q, QuerySet, TextField, Value, When
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
# The snippet is cut from this many characters, starting SNIPPET_LEAD before the first match.
SNIPPET_WINDOW, SNIPPET_LEAD = 1000, 150
# PostgreSQL ranks at most this many title matches and as many other matches (_postgres_ranked).
CANDIDATES = 200
# fmt: off
STOPWORDS = frozenset([
    "a", "about", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "did", "do",
    "does", "for", "from", "get", "got", "have", "how", "i", "if", "in", "into", "is", "it", "its",
    "me", "my", "no", "not", "of", "on", "or", "our", "please", "so", "that", "the", "their",
    "then", "there", "this", "to", "was", "we", "what", "when", "where", "which", "who", "why",
    "will", "with", "would", "you", "your", "hi", "hello", "thanks", "thank",
])
# fmt: on


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
    offset: int = 0,
) -> list[M]:
    """The objects of `queryset` matching `text`, best first: `limit` of them from `offset`.

    `fields` are (column, weight "A" or "B") pairs, the same ones the PostgreSQL vector
    column is generated from. Each result gets a float `rank` and, with a `snippet_field`,
    a `snippet` of safe HTML with the matched words in <mark>.
    """
    search = SearchResults(queryset, text=text, fields=fields, match=match, snippet_field=snippet_field)
    return search[offset : offset + max(limit, 0)]


class SearchResults(Generic[M]):
    """One search, as Django's `Paginator` (and DRF's page pagination) want it.

    The keys and ranks of every candidate are read once, in one query (a few hundred pairs
    at most, see `CANDIDATES`): `count()` is their number, and a slice fetches only that
    page's rows and snippets, in a second query.
    """

    def __init__(
        self,
        queryset: QuerySet[M],
        *,
        text: str,
        fields: Sequence[tuple[str, str]],
        match: Match = Match.ALL,
        snippet_field: str | None = None,
    ) -> None:
        self.queryset = queryset
        self.text = text
        self.words = query_words(text)
        self.fields = fields
        self.match = match
        self.snippet_field = snippet_field
        self._ranked: list[tuple[Any, float]] | None = None

    def ranked(self) -> list[tuple[Any, float]]:
        """(pk, rank) of the matches, best first."""
        if self._ranked is None:
            if not self.words:
                self._ranked = []
            elif connection.vendor == "postgresql":
                query = _tsquery(self.text, self.words, self.match)
                self._ranked = _postgres_ranked(self.queryset, query=query, words=self.words, fields=self.fields)
            else:
                found = _fallback(self.queryset, words=self.words, fields=self.fields, match=self.match)
                self._ranked = list(found.values_list("pk", "rank")[: 2 * CANDIDATES])
        return self._ranked

    def count(self) -> int:
        return len(self.ranked())

    @property
    def capped(self) -> bool:
        """Whether there may be more matches than `count()`: the candidates hit their bound."""
        bound = CANDIDATES if connection.vendor == "postgresql" else 2 * CANDIDATES
        return self.count() >= bound

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[M]:
        return iter(self[:])

    @overload
    def __getitem__(self, index: int) -> M: ...

    @overload
    def __getitem__(self, index: slice) -> list[M]: ...

    def __getitem__(self, index: int | slice) -> M | list[M]:
        if isinstance(index, int):
            found = self[index : index + 1 or None]
            if not found:
                raise IndexError(index)
            return found[0]
        ranked = self.ranked()[index]
        if not ranked:
            return []
        # Unordered: the rows are put in rank order below.
        rows: QuerySet[Any] = self.queryset.filter(pk__in=[pk for pk, _ in ranked]).order_by()
        postgres = connection.vendor == "postgresql"
        if self.snippet_field and postgres:
            rows = rows.annotate(snippet_raw=_headline(self.queryset, self.snippet_field, self.words))
        by_pk = {obj.pk: obj for obj in rows}
        results = []
        for pk, rank in ranked:
            obj = by_pk.get(pk)
            if obj is None:  # deleted since it was ranked
                continue
            obj.rank = rank  # type: ignore[attr-defined]
            if self.snippet_field:
                obj.snippet = _highlight(self._snippet_text(obj, postgres=postgres))  # type: ignore[attr-defined]
            results.append(obj)
        return results

    def _snippet_text(self, obj: M, *, postgres: bool) -> str:
        if postgres:
            return obj.snippet_raw  # type: ignore[attr-defined]
        return _fallback_snippet(getattr(obj, self.snippet_field or ""), self.words)


def _tsquery(text: str, words: list[str], match: Match) -> str:
    """The text given to `websearch_to_tsquery`."""
    # PostgreSQL refuses NUL in any text parameter (a 500); in a search it means nothing.
    return text[:MAX_QUERY_LENGTH].replace("\x00", " ") if match == Match.ALL else " or ".join(words)


def _postgres_ranked(
    queryset: QuerySet[M], *, query: str, words: list[str], fields: Sequence[tuple[str, str]]
) -> list[tuple[Any, float]]:
    """(pk, rank) of the candidates, best first, in one round trip of hand-written SQL (the
    ORM spends more time compiling a union of subqueries than PostgreSQL spends running it).

    Candidates: at most CANDIDATES matches in the title (the weight-A columns, the
    `search_head_vector` column that tables searched with weight-B fields have) and
    CANDIDATES more anywhere, in the index's order. Ranking reads each match's whole vector,
    so a word found in thousands of rows cannot be ranked everywhere within the time budget;
    title matches, which rank highest, are always among the candidates.

    The rank is `ts_rank` of the query's words joined by `or`: every candidate already
    satisfies the real query, and ts_rank of an `&` or phrase query scores every pair of word
    positions, which costs 2-3 times as much.

    The statement runs with sequential scans disabled. PostgreSQL does not count the cost of
    reading a TOASTed tsvector, so for a common word it estimates a scan of the whole table
    as cheaper than the GIN index; that scan then decompresses every row's vector to test it
    (10,000 articles: ~85 ms against ~12 ms through the index). The three statements go in
    one round trip, which PostgreSQL runs as one transaction, so `SET LOCAL` lasts for the
    query alone; inside an outer transaction the last statement puts the default back.
    """
    if len(queryset.query.alias_map) > 1:
        raise ValueError("text_search filters its queryset's own table only, without joins.")
    try:
        where, where_params = queryset.query.get_compiler(connection=connection).compile(queryset.query.where)
    except FullResultSet:
        where, where_params = "TRUE", []
    except EmptyResultSet:
        return []
    quote, meta = connection.ops.quote_name, queryset.model._meta
    table, pk_column = quote(meta.db_table), meta.pk.column
    assert pk_column is not None  # a concrete primary key always has a column
    pk = f"{table}.{quote(pk_column)}"
    tsquery = "websearch_to_tsquery(%s::regconfig, %s)"
    matched = f"SELECT {pk} FROM {table} WHERE ({where}) AND {table}.search_vector @@ {tsquery}"
    candidates = f"({matched} LIMIT %s)"
    params: list[Any] = [*where_params, CONFIG, query, CANDIDATES]
    if any(weight != "A" for _, weight in fields):
        in_title = f"({matched} AND {table}.search_head_vector @@ {tsquery} LIMIT %s)"
        candidates = f"{in_title} UNION {candidates}"
        params = [*where_params, CONFIG, query, CONFIG, query, CANDIDATES, *params]
    sql = (
        f"SELECT {pk}, ts_rank({table}.search_vector, {tsquery}) AS rank FROM {table} "
        f"WHERE {pk} IN ({candidates}) ORDER BY rank DESC, {pk} DESC"
    )
    with _client_bound_cursor() as cursor:
        cursor.execute(
            f"SET LOCAL enable_seqscan = off; {sql}; SET LOCAL enable_seqscan TO DEFAULT",
            [CONFIG, " or ".join(words), *params],
        )
        cursor.nextset()
        return [(key, rank) for key, rank in cursor.fetchall()]


def _client_bound_cursor() -> CursorWrapper:
    """A cursor that binds parameters in the client, as psycopg's default does: the
    connection's own cursors bind them in the server (config/settings.py), which refuses
    several statements in one round trip."""
    from psycopg import ClientCursor

    connection.ensure_connection()
    cursor = ClientCursor(connection.connection)
    # As connection.cursor() wraps its own: logged when queries are (DEBUG, tests).
    wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    return wrap(cursor)  # type: ignore[arg-type]  # django-stubs wants a wrapper; Django wraps the DB-API cursor


def _headline(queryset: QuerySet[Any], field: str, words: list[str]) -> RawSQL:
    """`ts_headline` of a window of the text around the first place a query word appears.

    ts_headline parses all the text it is given, and with a phrase query it scores every
    cover: on a long article that is milliseconds per row. So it gets SNIPPET_WINDOW
    characters starting a little before the first literal occurrence of a query word (the
    start of the text when none occurs as typed, e.g. only a stemmed form), and a query of
    the words joined by `or`, which highlights the same words without phrase scoring.
    """
    quote, meta = connection.ops.quote_name, queryset.model._meta
    column = f"{quote(meta.db_table)}.{quote(meta.get_field(field).column)}"
    first = ", ".join(f"nullif(strpos(lower({column}), %s), 0)" for _ in words)
    options = (
        f"StartSel={START}, StopSel={STOP}, MaxWords={SNIPPET_WORDS}, MinWords={SNIPPET_WORDS // 2}, "
        'MaxFragments=2, FragmentDelimiter=" … "'
    )
    sql = (
        f"ts_headline(%s::regconfig, substr({column}, greatest(1, coalesce(least({first}), 1) - %s), %s), "
        "websearch_to_tsquery(%s::regconfig, %s), %s)"
    )
    params = [CONFIG, *words, SNIPPET_LEAD, SNIPPET_WINDOW, CONFIG, " or ".join(words), options]
    return RawSQL(sql, params, output_field=TextField())


def _fallback(
    queryset: QuerySet[M], *, words: list[str], fields: Sequence[tuple[str, str]], match: Match
) -> QuerySet[Any]:
    def in_any_field(word: str) -> Q:
        return reduce(or_, (Q(**{f"{field}__icontains": word}) for field, _ in fields))

    combine = and_ if match == Match.ALL else or_
    score: Expression = Value(0.0)
    for word in words:
        for field, weight in fields:
            score = score + Case(When(Q(**{f"{field}__icontains": word}), then=Value(WEIGHTS[weight])), default=0.0)
    found = queryset.filter(reduce(combine, (in_any_field(word) for word in words)))
    return found.annotate(rank=score).order_by("-rank", "-pk")


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
