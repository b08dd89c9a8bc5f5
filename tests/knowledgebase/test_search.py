import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from knowledgebase import search as search_module
from knowledgebase.models import Article
from knowledgebase.search import Match, query_words
from knowledgebase.selectors import article_search, article_search_page, article_search_results

from .factories import make_article

pytestmark = pytest.mark.django_db


def test_query_words_drop_stopwords_and_repeats():
    assert query_words("How do I return my shoes? Return them!") == ["return", "shoes", "them"]


def test_a_question_of_only_stopwords_finds_nothing():
    make_article(title="How to", body="how do I")
    assert article_search(text="how do I") == []


def _ranking_fixture() -> tuple[Article, Article, Article]:
    in_title = make_article(title="Refund policy", body="Money back in five days.")
    in_body = make_article(title="Payments", body="A refund goes back to the card you paid with.")
    unrelated = make_article(title="Shipping", body="We ship worldwide.")
    make_article(title="Refund draft", body="refund", status=Article.Status.DRAFT)
    return in_title, in_body, unrelated


def _check_ranking(in_title: Article, in_body: Article) -> None:
    # when an article matches in its title and another only in its body
    results = article_search(text="refund")
    # then the title match ranks first, drafts are never found, and each hit has a highlighted snippet
    assert [a.pk for a in results] == [in_title.pk, in_body.pk]
    assert results[0].rank > results[1].rank
    assert "<mark>" in results[1].snippet.lower() and "refund" in results[1].snippet.lower()


def test_title_outranks_body_on_the_fallback(settings):
    in_title, in_body, _ = _ranking_fixture()
    _check_ranking(in_title, in_body)


def test_title_outranks_body_on_postgres(postgres):
    in_title, in_body, _ = _ranking_fixture()
    _check_ranking(in_title, in_body)


def test_postgres_uses_websearch_syntax_and_stemming(postgres):
    # given articles about returning shoes and returning a jacket
    shoes = make_article(title="Returning shoes", body="Shoes can be returned unworn.")
    jacket = make_article(title="Returning a jacket", body="Jackets go back by post.")
    # when searching with a stemmed word and a negation
    results = article_search(text="returns -jacket")
    # then the stem matches and the negated article is left out
    assert [a.pk for a in results] == [shoes.pk]
    assert jacket.pk not in [a.pk for a in article_search(text='"returning shoes"')]


def test_any_match_finds_articles_with_some_of_the_words():
    shoes = make_article(title="Shoe sizes", body="Our shoes run small.")
    results = article_search(text="do you ship shoes to Norway", match=Match.ANY)
    assert [a.pk for a in results] == [shoes.pk]


def test_snippet_cannot_inject_html():
    make_article(title="Hostile", body="<b>refund</b> <script>x</script> refund &lt;i&gt;")
    snippet = article_search(text="refund")[0].snippet
    # then the only tags in it are the highlights (PostgreSQL drops the tags, the fallback escapes them)
    assert "<mark>" in snippet
    assert "<" not in snippet.replace("<mark>", "").replace("</mark>", "")


def _refund_articles(count: int) -> list[Article]:
    """`count` articles about refunds, each saying "refund" once more than the one before."""
    return [make_article(title=f"Article {n}", body="refund " * (n + 1) + "end.") for n in range(count)]


def _check_paging() -> None:
    articles = _refund_articles(25)
    # when every page of the results is read
    search = article_search_results(text="refund")
    pages = [search[start : start + 10] for start in (0, 10, 20)]
    # then the pages hold every match once, best first, each with its snippet
    assert search.count() == 25 and not search.capped
    assert [len(page) for page in pages] == [10, 10, 5]
    found = [a for page in pages for a in page]
    assert sorted(a.pk for a in found) == sorted(a.pk for a in articles)
    ranks = [a.rank for a in found]
    assert ranks == sorted(ranks, reverse=True)
    assert all("<mark>" in a.snippet.lower() for a in found)


def test_results_page_through_every_match_on_the_fallback():
    _check_paging()


def test_results_page_through_every_match_on_postgres(postgres):
    _check_paging()


def test_the_help_page_selector_gives_the_nearest_page_for_a_bad_number():
    _refund_articles(12)
    assert article_search_page(text="refund", page="2").number == 2
    assert article_search_page(text="refund", page="99").number == 2
    assert article_search_page(text="refund", page="x").number == 1


def test_postgres_ranks_title_matches_first_among_a_bounded_set_of_candidates(postgres, monkeypatch):
    # given more body matches than candidates are ranked, and two title matches written last
    monkeypatch.setattr(search_module, "CANDIDATES", 3)
    _refund_articles(8)
    in_titles = [make_article(title=f"Refund rules {n}", body="Money back.") for n in range(2)]
    # when searching for the common word
    search = article_search_results(text="refund")
    # then the ranked set is bounded, says so, and still holds the title matches, first
    assert 3 <= search.count() <= 5 and search.capped
    assert {a.pk for a in search[:2]} == {a.pk for a in in_titles}


def test_postgres_search_reads_the_gin_indexes_and_restores_the_planner_setting(postgres):
    # given a word in one article of five: the planner, which does not count the cost of
    # reading each row's vector, would rather read them all than use the index
    Article.objects.bulk_create(
        Article(title=f"Article {n}", slug=f"bulk-{n}", body=("refund " if n % 5 == 0 else "other ") * 200)
        for n in range(500)
    )
    Article.objects.update(status=Article.Status.PUBLISHED)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE knowledgebase_article")
    # when a search runs
    with CaptureQueriesContext(connection) as queries:
        list(article_search(text="refund"))
    # then the ranking is one round trip that turns sequential scans off for itself alone
    [ranked] = [q["sql"] for q in queries.captured_queries if "ts_rank" in q["sql"]]
    off, select, restore = ranked.split("; ")
    assert (off, restore) == ("SET LOCAL enable_seqscan = off", "SET LOCAL enable_seqscan TO DEFAULT")
    with connection.cursor() as cursor:
        # and the test's transaction, which the search ran in, has the setting back
        cursor.execute("SHOW enable_seqscan")
        assert cursor.fetchone()[0] == "on"
        # and the plan under that setting finds the matches through both GIN indexes
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + select)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET LOCAL enable_seqscan TO DEFAULT")
    assert "knowledgebase_article_search_gin" in plan and "knowledgebase_article_search_head_gin" in plan
    assert "Seq Scan on knowledgebase_article" not in plan


def test_postgres_snippet_finds_a_match_deep_in_a_long_article(postgres):
    make_article(title="Long one", body="Filler words here. " * 1500 + "Your refund arrives in five days.")
    snippet = article_search(text="refund")[0].snippet
    assert "<mark>refund</mark>" in snippet.lower() and "five days" in snippet


def test_postgres_phrase_search_highlights_the_phrase_words(postgres):
    make_article(title="Gift cards", body="A gift card never expires. Cards are gifts.")
    results = article_search(text='"gift card"')
    assert len(results) == 1
    assert "<mark>gift</mark> <mark>card</mark>" in results[0].snippet.lower()
