import pytest

from knowledgebase.models import Article
from knowledgebase.search import Match, query_words
from knowledgebase.selectors import article_search

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
