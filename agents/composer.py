"""The composer's playbook rules (R10-R12): what to flag in a reply before it is sent.

Pure functions over the reply text, plus one query for the terms a site uses (its own and
the global ones, edited in admin), kept a few seconds per process. Nothing here blocks a
message: the console shows the warnings and the agent may send anyway.
"""

import itertools
import re
import time
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .models import ComposerTerm

BLOCK_MAX_WORDS = 30

_MESSAGES = {
    "cold_reply": _("A one-word reply can feel cold. Add a sentence: what happens next, or a thank-you."),
    "slang": _("Chat shorthand the customer may not know: %(terms)s. Write it out in full."),
    "blocked": _("Not appropriate for customers: %(terms)s. Rephrase it before sending."),
}
# A word as the composer matches terms: "U.S.", "k-pop" and "it's" are one word, not "u" or "k".
_WORD = re.compile(r"\w+(?:[.'\u2019-]\w+)*")
# Links and addresses are copied, not written: "/u/" in a URL is not slang.
_LINK = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+\.\S+", re.IGNORECASE)
# A sentence ends with . ! or ?, possibly followed by a closing quote or bracket.
_SENTENCE_END = re.compile(r"[.!?]+[\"'\u201d\u2019)\]\u00bb]*$")
# Words with a full stop that never end a sentence.
_ABBREVIATIONS = frozenset({"e.g.", "i.e.", "mr.", "mrs.", "ms.", "dr.", "prof.", "vs.", "cf.", "approx.", "incl."})
_INITIAL = re.compile(r"^\w\.$")


@dataclass(frozen=True)
class TermHit:
    """One flagged word: the configured term, what to write instead, and where it is in the body.

    `start`/`end` are Python string offsets (code points): `body[start:end]` is the text as typed.
    """

    term: str
    suggestion: str
    start: int
    end: int


@dataclass(frozen=True)
class ComposerWarning:
    code: str
    message: str
    terms: tuple[TermHit, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "terms": [
                {"term": hit.term, "suggestion": hit.suggestion, "start": hit.start, "end": hit.end}
                for hit in self.terms
            ],
        }


def composer_check(*, body: str, site_id: int | None) -> list[ComposerWarning]:
    """The warnings for a reply, in a fixed order: too_long, cold_reply, slang, blocked."""
    words = body.split()
    if not words:
        return []
    warnings: list[ComposerWarning] = []
    if len(words) > BLOCK_MAX_WORDS:
        warnings.append(
            ComposerWarning(
                code="too_long",
                message=f"{len(words)} words: split this into blocks the customer can read while you type.",
            )
        )
    terms = _terms_for_site(site_id)
    cold = {_bare(term) for term in terms.get(ComposerTerm.Kind.COLD, {})}
    if _bare(body) in cold:
        warnings.append(ComposerWarning(code="cold_reply", message=str(_MESSAGES["cold_reply"])))
    body_words = _words_outside_links(body)
    for kind in (ComposerTerm.Kind.SLANG, ComposerTerm.Kind.BLOCKED):
        hits = _find_terms(body, body_words, terms.get(kind, {}))
        if hits:
            listed = ", ".join(dict.fromkeys(f'"{body[hit.start : hit.end]}"' for hit in hits))
            message = _MESSAGES[kind] % {"terms": listed}
            warnings.append(ComposerWarning(code=kind.value, message=message, terms=hits))
    return warnings


def composer_split(*, body: str, max_words: int = BLOCK_MAX_WORDS) -> list[str]:
    """The reply as blocks of at most `max_words` words, cut between sentences where possible.

    Whole sentences are packed greedily; a longer sentence is cut after its last comma or
    semicolon within the limit, else at the limit. Joining the blocks with single spaces
    gives the body with its whitespace normalised: no text is dropped or repeated.
    """
    if max_words < 1:
        raise ValueError("max_words must be at least 1")
    words = body.split()
    if len(words) <= max_words:
        return [body]
    blocks: list[list[str]] = []
    current: list[str] = []
    for sentence in _sentences(words):
        if len(current) + len(sentence) <= max_words:
            current += sentence
            continue
        if current:
            blocks.append(current)
        pieces = _cut_long(sentence, max_words)
        blocks.extend(pieces[:-1])
        current = pieces[-1]
    if current:
        blocks.append(current)
    return [" ".join(block) for block in blocks]


# Terms change rarely (in admin) and are read for every agent reply, so each process keeps
# a site's terms this long. A change saved in this process is seen at once (agents.apps
# forgets them on every save and delete); other processes see it within these seconds.
TERMS_MEMO_SECONDS = 5.0
_terms_memo: dict[int | None, tuple[float, dict[str, dict[str, str]]]] = {}


def composer_terms_forget() -> None:
    _terms_memo.clear()


def _terms_for_site(site_id: int | None) -> dict[str, dict[str, str]]:
    """{kind: {term: suggestion}}, shared with other callers: read it, never change it."""
    memo = _terms_memo.get(site_id)
    if memo is not None and memo[0] > time.monotonic():
        return memo[1]
    terms = _terms_query(site_id)
    _terms_memo[site_id] = (time.monotonic() + TERMS_MEMO_SECONDS, terms)
    return terms


def _terms_query(site_id: int | None) -> dict[str, dict[str, str]]:
    """{kind: {term: suggestion}} in one query; a site's own term overrides a global one."""
    scope = Q(site__isnull=True) if site_id is None else Q(site__isnull=True) | Q(site_id=site_id)
    rows = ComposerTerm.objects.filter(scope).order_by().values_list("site_id", "kind", "term", "suggestion")
    terms: dict[str, dict[str, str]] = {}
    # Global rows first, so the site's row for the same term wins.
    for _site, kind, term, suggestion in sorted(rows, key=lambda row: row[0] is not None):
        key = " ".join(term.lower().split())
        if key:
            terms.setdefault(kind, {})[key] = suggestion
    return terms


def _bare(text: str) -> str:
    """Lowercased, inner whitespace collapsed, without punctuation, symbols or emoji around it."""
    start, end = 0, len(text)
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    return " ".join(text[start:end].lower().split())


def term_is_matchable(term: str) -> bool:
    """Whether the composer can find this term: words (letters, digits, and . ' - inside a word)."""
    return bool(term.split()) and all(_WORD.fullmatch(word) for word in term.split())


def _words_outside_links(body: str) -> list[tuple[int, int, str]]:
    """(start, end, lowercased word) of each word, where a word glues "U.S." or "k-pop" into one."""
    words = [(match.start(), match.end(), match.group().lower()) for match in _WORD.finditer(body)]
    if "://" not in body and "www." not in body.lower() and "@" not in body:
        return words
    links = [match.span() for match in _LINK.finditer(body)]
    return [word for word in words if not any(start <= word[0] < end for start, end in links)]


def _find_terms(body: str, words: list[tuple[int, int, str]], terms: dict[str, str]) -> tuple[TermHit, ...]:
    """Each whole-word (or whole-phrase) occurrence of a term, left to right, without overlaps."""
    if not terms:
        return ()
    # Phrases by their first word, longest first, so "shut up" wins over a term "shut".
    phrases: dict[str, list[list[str]]] = {}
    for term in sorted(terms, key=len, reverse=True):
        parts = term.split(" ")
        phrases.setdefault(parts[0], []).append(parts)
    hits = []
    index = 0
    while index < len(words):
        for parts in phrases.get(words[index][2], ()):
            following = words[index : index + len(parts)]
            if [word[2] for word in following] == parts and all(
                body[before[1] : after[0]].isspace() for before, after in itertools.pairwise(following)
            ):
                term = " ".join(parts)
                hits.append(TermHit(term=term, suggestion=terms[term], start=following[0][0], end=following[-1][1]))
                index += len(parts) - 1
                break
        index += 1
    return tuple(hits)


def _ends_sentence(word: str, next_word: str | None) -> bool:
    if not _SENTENCE_END.search(word):
        return False
    if next_word is None:
        return True
    lowered = word.lower().lstrip("\"'\u201c\u2018([")
    if lowered in _ABBREVIATIONS or _INITIAL.match(lowered):
        return False
    # "approx. five days", "Hmm... let me look": a full stop before a lowercase word is
    # an abbreviation or a pause far more often than a sentence end.
    return not (word.rstrip("\"'\u201d\u2019)]\u00bb").endswith(".") and next_word[0].islower())


def _sentences(words: list[str]) -> list[list[str]]:
    sentences: list[list[str]] = []
    current: list[str] = []
    for index, word in enumerate(words):
        if not current and sentences and not any(char.isalnum() for char in word):
            # An emoji or "!!" after a sentence end stays with that sentence.
            sentences[-1].append(word)
            continue
        current.append(word)
        if _ends_sentence(word, words[index + 1] if index + 1 < len(words) else None):
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return sentences


def _cut_long(sentence: list[str], max_words: int) -> list[list[str]]:
    pieces: list[list[str]] = []
    rest = sentence
    while len(rest) > max_words:
        cut = next((end for end in range(max_words, 0, -1) if rest[end - 1].endswith((",", ";"))), max_words)
        pieces.append(rest[:cut])
        rest = rest[cut:]
    pieces.append(rest)
    return pieces
