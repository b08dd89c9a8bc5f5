"""The composer's playbook rules: short blocks (R10), no cold one-word replies (R11), plain language (R12)."""

import importlib
import random

import pytest
from django.apps import apps

from agents.composer import BLOCK_MAX_WORDS, ComposerWarning, TermHit, composer_check, composer_split
from agents.models import ComposerTerm

from ..chat.factories import make_site
from .factories import load_default_terms, make_term

default_terms_migration = importlib.import_module("agents.migrations.0003_default_composer_terms")


@pytest.fixture
def defaults(db) -> None:
    load_default_terms()


def codes(warnings: list[ComposerWarning]) -> list[str]:
    return [warning.code for warning in warnings]


def words(count: int) -> str:
    """A run of words that reads as the start of a sentence: "Word0 word1 word2"."""
    return " ".join(f"word{number}" for number in range(count)).capitalize()


# --- R10: too long -------------------------------------------------------------------------


def test_exactly_thirty_words_is_not_too_long(defaults):
    assert composer_check(body=words(30), site_id=None) == []


def test_thirty_one_words_is_too_long_and_says_how_many(defaults):
    [warning] = composer_check(body=words(31), site_id=None)

    assert warning.code == "too_long"
    assert warning.message == "31 words: split this into blocks the customer can read while you type."
    assert warning.terms == ()


def test_words_are_counted_across_newlines_and_tabs(defaults):
    body = "\n".join(words(31).split(" ", 15)).replace("word20 ", "word20\t")

    assert codes(composer_check(body=body, site_id=None)) == ["too_long"]


def test_blank_body_has_no_warnings_and_needs_no_query(defaults, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert composer_check(body="  \n ", site_id=None) == []


# --- R10: splitting into blocks -------------------------------------------------------------


def test_body_within_the_limit_is_returned_unchanged():
    body = "  Thanks for waiting!\n\nI'm checking  now. "

    assert composer_split(body=body) == [body]


def test_split_packs_whole_sentences_greedily():
    first = "Thanks for waiting, I have found your order and it left our warehouse this morning."  # 15 words
    second = "The carrier usually delivers within two working days."  # 8 words
    third = "I will send you the tracking link by email in a moment so you can follow it."  # 17 words

    blocks = composer_split(body=f"{first} {second} {third}")

    assert blocks == [f"{first} {second}", third]


def test_split_keeps_sentence_punctuation_and_breaks_after_question_and_exclamation_marks():
    body = f"{words(20)}? {words(20)}! {words(5)}."

    assert composer_split(body=body) == [f"{words(20)}?", f"{words(20)}! {words(5)}."]


@pytest.mark.parametrize(
    "middle",
    [
        "e.g. Returns",
        "i.e. Returns",
        "Mr. Smith",
        "Dr. Jones",
        "3.5 Kilos",
        "https://shop.example.com/help/returns.html Returns",
        "www.example.com/a.b Returns",
    ],
)
def test_split_does_not_cut_at_abbreviations_decimals_or_urls(middle):
    # The only full stop a cut could use sits inside `middle`; the sentence is then cut at the word limit.
    body = f"{words(14)} {middle} {words(20)}"

    blocks = composer_split(body=body)

    assert blocks[0].split()[14:16] == middle.split()[:2]
    assert len(blocks[0].split()) == BLOCK_MAX_WORDS


def test_split_does_not_cut_before_a_lowercase_word():
    body = f"Hmm... let me check {words(26)}. {words(20)}."

    assert composer_split(body=body) == [f"Hmm... let me check {words(26)}.", f"{words(20)}."]


def test_long_sentence_is_cut_after_its_last_comma_or_semicolon_before_the_limit():
    body = f"{words(10)}, {words(8)}; {words(6)}, {words(20)}."

    blocks = composer_split(body=body)

    assert blocks[0] == f"{words(10)}, {words(8)}; {words(6)},"
    assert blocks[1] == f"{words(20)}."


def test_long_sentence_without_commas_is_cut_at_the_word_limit():
    body = words(70)

    assert composer_split(body=body) == [
        " ".join(body.split()[:30]),
        " ".join(body.split()[30:60]),
        " ".join(body.split()[60:]),
    ]


def test_end_of_a_cut_sentence_is_packed_with_the_next_one():
    body = f"{words(35)}. Anything else?"

    assert composer_split(body=body) == [words(30), " ".join(words(35).split()[30:]) + ". Anything else?"]


def test_emoji_after_a_sentence_stays_with_it():
    body = f"{words(25)}! 😊 {words(10)}."

    assert composer_split(body=body) == [f"{words(25)}! 😊", f"{words(10)}."]


def test_split_respects_a_smaller_limit():
    assert composer_split(body="One two. Three four five. Six.", max_words=3) == [
        "One two.",
        "Three four five.",
        "Six.",
    ]


def test_split_refuses_a_limit_below_one():
    with pytest.raises(ValueError):
        composer_split(body="Hi", max_words=0)


def test_split_never_drops_or_repeats_text_and_respects_the_limit():
    rng = random.Random(20251125)
    vocabulary = ["refund", "order", "the", "e.g.", "Mr.", "3.5", "https://x.example/a.b", "😊", "ok", "—", "it's"]
    endings = ["", "", "", ",", ";", ".", "!", "?", "...", ".)", '."', "?!"]
    for _ in range(500):
        tokens = [rng.choice(vocabulary) + rng.choice(endings) for _ in range(rng.randint(0, 120))]
        body = "".join(token + rng.choice([" ", "  ", "\n", "\t", " \n "]) for token in tokens)
        limit = rng.choice([BLOCK_MAX_WORDS, BLOCK_MAX_WORDS, 5, 1])

        blocks = composer_split(body=body, max_words=limit)

        if len(body.split()) <= limit:
            assert blocks == [body]
        else:
            assert " ".join(blocks) == " ".join(body.split())
            assert all(1 <= len(block.split()) <= limit for block in blocks)


# --- R11: cold one-word replies -------------------------------------------------------------


@pytest.mark.parametrize("body", ["Ok!", "k.", "yes", "  NO.  ", "Sure 👍", "...okay?!", "Yep :)"])
def test_one_word_cold_reply_is_flagged_whatever_its_punctuation(defaults, body):
    warnings = composer_check(body=body, site_id=None)

    assert "cold_reply" in codes(warnings)
    [cold] = [warning for warning in warnings if warning.code == "cold_reply"]
    assert cold.message == "A one-word reply can feel cold. Add a sentence: what happens next, or a thank-you."


@pytest.mark.parametrize("body", ["Ok, I'll check now.", "Yes, that is right.", "ok ok", "Okay thanks", "no-reply"])
def test_reply_with_more_than_the_cold_word_is_not_cold(defaults, body):
    assert "cold_reply" not in codes(composer_check(body=body, site_id=None))


def test_site_cold_term_applies_to_that_site_only(db):
    site, other = make_site(), make_site()
    make_term(kind="cold", term="Noted", site=site)

    assert codes(composer_check(body="Noted.", site_id=site.pk)) == ["cold_reply"]
    assert composer_check(body="Noted.", site_id=other.pk) == []


# --- R12: slang and blocked words -------------------------------------------------------------


def test_slang_is_flagged_with_suggestion_and_offsets(defaults):
    body = "Can u check ur order number, thx"

    [warning] = composer_check(body=body, site_id=None)

    assert warning.code == "slang"
    assert warning.terms == (
        TermHit(term="u", suggestion="you", start=4, end=5),
        TermHit(term="ur", suggestion="your", start=12, end=14),
        TermHit(term="thx", suggestion="thank you", start=29, end=32),
    )
    assert warning.message == 'Chat shorthand the customer may not know: "u", "ur", "thx". Write it out in full.'


@pytest.mark.parametrize(
    "body",
    [
        "Could you check the menu?",
        "Your order is on its way.",
        "It ships to the U.S. tomorrow.",
        "Our K-pop range is back.",
        "See https://shop.example.com/u/returns for details.",
        "Write to u@example.com for details.",
        "Hello, this is the shell of the helmet.",
    ],
)
def test_terms_inside_other_words_links_or_addresses_are_not_flagged(defaults, body):
    assert composer_check(body=body, site_id=None) == []


@pytest.mark.parametrize("body, start", [("U can do that", 0), ("Thanks to u.", 10), ("(u) can", 1), ("is it u?", 6)])
def test_u_on_its_own_is_slang_at_any_place(defaults, body, start):
    [warning] = composer_check(body=body, site_id=None)

    assert [(hit.term, hit.start, hit.end) for hit in warning.terms] == [("u", start, start + 1)]


def test_matching_ignores_case_and_lists_every_hit(defaults):
    body = "LOL that was funny lol. Lol!"

    [warning] = composer_check(body=body, site_id=None)

    assert [body[hit.start : hit.end] for hit in warning.terms] == ["LOL", "lol", "Lol"]
    assert {hit.suggestion for hit in warning.terms} == {"(remove it)"}


def test_blocked_words_get_their_own_warning_and_phrases_match_across_spacing(defaults):
    body = "Damn, please shut  up about that, u know."

    warnings = composer_check(body=body, site_id=None)

    assert codes(warnings) == ["slang", "blocked"]
    blocked = warnings[1]
    assert [(hit.term, body[hit.start : hit.end]) for hit in blocked.terms] == [
        ("damn", "Damn"),
        ("shut up", "shut  up"),
    ]
    assert all(hit.suggestion == "(not appropriate for customers)" for hit in blocked.terms)


def test_warnings_come_in_a_fixed_order(defaults):
    body = f"{words(30)} lol damn"

    assert codes(composer_check(body=body, site_id=None)) == ["too_long", "slang", "blocked"]


def test_site_term_applies_to_its_site_and_not_to_another_site(defaults):
    site, other = make_site(), make_site()
    make_term(kind="slang", term="asap-ish", suggestion="soon", site=site)
    make_term(kind="blocked", term="cheap", suggestion="affordable", site=site)
    body = "It is cheap and ready asap-ish."

    mine = composer_check(body=body, site_id=site.pk)
    theirs = composer_check(body=body, site_id=other.pk)
    unknown_site = composer_check(body=body, site_id=None)

    assert [(w.code, [h.term for h in w.terms]) for w in mine] == [("slang", ["asap-ish"]), ("blocked", ["cheap"])]
    assert theirs == unknown_site == []


def test_global_terms_apply_to_every_site(defaults):
    site = make_site()

    assert codes(composer_check(body="brb, checking", site_id=site.pk)) == ["slang"]


def test_site_term_overrides_the_suggestion_of_the_global_one(defaults):
    site = make_site()
    make_term(kind="slang", term="ASAP", suggestion="right away", site=site)

    [mine] = composer_check(body="I'll do it asap.", site_id=site.pk)
    [everyone] = composer_check(body="I'll do it asap.", site_id=None)

    assert [hit.suggestion for hit in mine.terms] == ["right away"]
    assert [hit.suggestion for hit in everyone.terms] == ["as soon as possible"]


def test_an_admin_edit_applies_to_the_next_check(defaults):
    composer_check(body="brb", site_id=None)
    term = ComposerTerm.objects.get(site__isnull=True, kind="slang", term="brb")
    term.suggestion = "One moment, please"
    term.save()  # as the admin does

    [warning] = composer_check(body="brb", site_id=None)

    assert warning.terms[0].suggestion == "One moment, please"


def test_a_deleted_term_is_no_longer_flagged(defaults):
    ComposerTerm.objects.filter(site__isnull=True, term="lol").delete()

    assert composer_check(body="lol", site_id=None) == []


def test_check_reads_the_terms_in_one_query(defaults, django_assert_max_num_queries):
    site = make_site()
    make_term(kind="slang", term="cya", suggestion="goodbye", site=site)
    body = f"{words(90)} lol u damn cya k. Ok"

    with django_assert_max_num_queries(1):
        warnings = composer_check(body=body, site_id=site.pk)

    assert codes(warnings) == ["too_long", "slang", "blocked"]


def test_warning_as_dict_is_json_ready(defaults):
    [warning] = composer_check(body="can u", site_id=None)

    assert warning.as_dict() == {
        "code": "slang",
        "message": 'Chat shorthand the customer may not know: "u". Write it out in full.',
        "terms": [{"term": "u", "suggestion": "you", "start": 4, "end": 5}],
    }


# --- The default terms ------------------------------------------------------------------------


def test_default_terms_are_global_and_cover_every_kind(defaults):
    terms = set(ComposerTerm.objects.filter(site__isnull=True).values_list("kind", "term"))

    assert {("cold", "k"), ("cold", "nope"), ("slang", "u"), ("slang", "k"), ("blocked", "shut up")} <= terms
    assert ComposerTerm.objects.filter(site__isnull=False).count() == 0


def test_default_terms_migration_adds_each_term_once_and_its_reverse_removes_them(db):
    site = make_site()
    make_term(kind="slang", term="lol", suggestion="keep it", site=site)
    default_terms_migration.add_defaults(apps, None)
    count = ComposerTerm.objects.count()

    default_terms_migration.add_defaults(apps, None)
    assert ComposerTerm.objects.count() == count

    default_terms_migration.remove_defaults(apps, None)
    assert list(ComposerTerm.objects.values_list("site", "term")) == [(site.pk, "lol")]
