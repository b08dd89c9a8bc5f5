import json

import pytest
from django.urls import reverse

from chat.models import Message
from knowledgebase.models import Article, ArticleUsage

from ..agents.factories import make_agent
from ..chat.factories import make_conversation
from .factories import add_message, make_article, make_category

pytestmark = pytest.mark.django_db


def post_json(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def test_help_centre_lists_categories_and_published_articles_without_javascript(client, django_assert_max_num_queries):
    # given two categories with several articles, one a draft
    for name in ("Orders", "Payments"):
        category = make_category(name=name)
        for n in range(5):
            make_article(title=f"{name} question {n}", category=category)
    make_article(title="Secret draft", status=Article.Status.DRAFT, category=category)
    # when the help centre is opened
    with django_assert_max_num_queries(3):
        response = client.get("/help/")
    # then it shows both shelves and their articles, no draft, and no script at all
    html = response.content.decode()
    assert response.status_code == 200
    assert "Orders question 4" in html and "Payments question 0" in html
    assert "Secret draft" not in html
    assert "<script" not in html


def test_search_page_shows_ranked_results_with_snippets(client, django_assert_max_num_queries):
    make_article(title="Refund policy", body="Money back.")
    make_article(title="Cards", body="A refund goes to your card.")
    with django_assert_max_num_queries(SEARCH_PAGE_QUERIES):
        response = client.get("/help/", {"q": "refund"})
    html = response.content.decode()
    assert html.index("Refund policy") < html.index("Cards")
    assert "<mark>" in html.lower()
    assert "Page 1" not in html  # one page: no page links


# The search page: the ranked keys of every candidate, then the page's rows and snippets.
SEARCH_PAGE_QUERIES = 2


def test_search_results_page_with_plain_links_that_keep_the_query(client, django_assert_max_num_queries):
    # given 25 articles about refunds, each mentioning it once more than the one before
    for n in range(25):
        make_article(title=f"Article {n}", body="refund " * (n + 1))
    # when the first page is opened
    with django_assert_max_num_queries(SEARCH_PAGE_QUERIES):
        first = client.get("/help/", {"q": "refund"}).content.decode()
    # then it shows 10 results, the best first, and a plain link to the next page with the query
    assert "1-10 of 25" in first and first.count('class="help-snippet"') == 10
    assert first.index("Article 24<") < first.index("Article 23<")
    assert 'href="?q=refund&amp;page=2"' in first and 'rel="prev"' not in first
    assert "<script" not in first
    # when the visitor follows the links to the last page
    second = client.get("/help/", {"q": "refund", "page": "2"}).content.decode()
    last = client.get("/help/", {"q": "refund", "page": "3"}).content.decode()
    assert "11-20 of 25" in second and 'href="?q=refund&amp;page=1"' in second and "page=3" in second
    assert "21-25 of 25" in last and 'rel="next"' not in last and "Article 0<" in last
    # and a page number that is no page shows the nearest one
    assert "21-25 of 25" in client.get("/help/", {"q": "refund", "page": "99"}).content.decode()
    assert "1-10 of 25" in client.get("/help/", {"q": "refund", "page": "x"}).content.decode()


def test_article_page_renders_sanitised_body_and_hides_drafts_from_the_public(client, desk):
    article = make_article(title="Hostile", body="**Bold** <script>alert(1)</script>")
    draft = make_article(title="Draft", status=Article.Status.DRAFT)
    response = client.get(article.get_absolute_url())
    assert "<strong>Bold</strong>" in response.content.decode()
    assert "alert" not in response.content.decode()
    assert client.get(draft.get_absolute_url()).status_code == 404
    client.force_login(desk.agent.user)
    assert client.get(draft.get_absolute_url()).status_code == 200


def test_category_page(client, django_assert_max_num_queries):
    category = make_category()
    make_article(title="In it", category=category)
    with django_assert_max_num_queries(2):
        response = client.get(category.get_absolute_url())
    assert "In it" in response.content.decode()


def test_click_link_counts_then_redirects(client):
    article = make_article(title="Refunds")
    response = client.get(f"/help/a/{article.pk}/go")
    assert response.status_code == 302 and response["Location"] == article.get_absolute_url()
    assert ArticleUsage.objects.filter(kind="clicked", article=article).count() == 1


def test_console_endpoints_need_an_agent(client, django_user_model):
    url = reverse("kb:suggest")
    assert post_json(client, url, {"conversation_id": 1}).status_code == 401
    client.force_login(django_user_model.objects.create(username="not-an-agent"))
    assert post_json(client, url, {"conversation_id": 1}).status_code == 403
    assert client.get(reverse("kb:articles")).status_code == 403


def test_suggest_insert_and_draft_endpoints(client, desk):
    # given a chat whose customer asks about refunds, and a refund article
    article = make_article(title="Refunds", body="Refunds take five days.")
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    add_message(conversation, sender=Message.Sender.VISITOR, body="Where is my refund?")
    answer = add_message(conversation, sender=Message.Sender.AGENT, body="Five days.", author=desk.agent.user)
    client.force_login(desk.agent.user)
    # when the console asks for suggestions
    suggested = post_json(client, reverse("kb:suggest"), {"conversation_id": conversation.pk}).json()
    # then the article comes with a tracked link
    assert suggested["question"]["body"] == "Where is my refund?"
    assert [a["id"] for a in suggested["articles"]] == [article.pk]
    assert suggested["articles"][0]["url"].endswith(f"/help/a/{article.pk}/go")
    # when the agent inserts it
    inserted = post_json(
        client, reverse("kb:insert"), {"conversation_id": conversation.pk, "article_id": article.pk}
    ).json()
    assert inserted["text"] == f"Refunds: {suggested['articles'][0]['url']}"
    assert ArticleUsage.objects.filter(kind="inserted", article=article, agent=desk.agent).count() == 1
    # when the agent drafts an article from the answer
    drafted = post_json(client, reverse("kb:draft"), {"conversation_id": conversation.pk, "message_ids": [answer.pk]})
    assert drafted.status_code == 201
    assert Article.objects.get(pk=drafted.json()["id"]).title == "Where is my refund?"


def test_endpoints_refuse_chats_the_agent_cannot_see_and_bad_input(client, desk):
    outsider = make_agent()
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    client.force_login(outsider.user)
    response = post_json(client, reverse("kb:suggest"), {"conversation_id": conversation.pk})
    assert response.status_code == 404
    assert post_json(client, reverse("kb:suggest"), {"conversation_id": "1"}).status_code == 400
    # Ids beyond a database bigint are bad input, not a server error (PostgreSQL refuses them).
    for huge in (2**63, -(2**63) - 1, 10**30):
        response = post_json(client, reverse("kb:suggest"), {"conversation_id": huge})
        assert response.status_code == 400, huge
        assert response.json()["error"]["code"] == "invalid_field"
    assert client.post(reverse("kb:suggest"), "[1]", content_type="application/json").status_code == 400
    assert client.get(reverse("kb:suggest")).status_code == 405


def test_edit_page_creates_and_updates_an_article(client, desk):
    client.force_login(desk.agent.user)
    assert "<form" in client.get(reverse("kb:article_new")).content.decode()
    response = client.post(
        reverse("kb:article_new"),
        {"title": "New one", "status": "draft", "body": "Hi [x](javascript:alert(1))", "tags_text": "a, b"},
    )
    article = Article.objects.get()
    assert response.status_code == 302
    assert article.author == desk.agent.user and "javascript" not in article.body_html
    client.post(reverse("kb:article_edit", args=[article.pk]), {"title": "Renamed", "status": "published", "body": ""})
    article.refresh_from_db()
    assert article.title == "Renamed" and article.published_at is not None


def test_console_lists_have_bounded_queries(client, desk, django_assert_max_num_queries):
    for n in range(10):
        make_article(title=f"Article {n}")
        make_conversation(site=desk.site)
    from knowledgebase.services import article_suggest_for_question

    for conversation in desk.site.conversations.all():
        article_suggest_for_question(text="nothing matches zzz", conversation=conversation)
    client.force_login(desk.agent.user)
    with django_assert_max_num_queries(6):
        assert client.get(reverse("kb:articles")).status_code == 200
    with django_assert_max_num_queries(6):
        response = client.get(reverse("kb:unanswered"))
    assert response.content.decode().count("nothing matches zzz") == 10


def test_public_search_api_is_paginated_and_described_in_the_schema(client):
    # given 12 articles about refunds
    for n in range(12):
        make_article(title=f"Refund {n}", body="refund " * n)
    # when the API is asked without logging in
    first = client.get("/api/help/search/", {"q": "refund"}).json()
    # then it gives a page of 10 hits, the count and the next page's link with the query
    assert first["count"] == 12 and len(first["results"]) == 10 and first["previous"] is None
    assert first["results"][0]["title"] == "Refund 11" and "<mark>" in first["results"][0]["snippet"]
    assert "q=refund" in first["next"] and "page=2" in first["next"]
    second = client.get(first["next"]).json()
    assert [hit["title"] for hit in second["results"]] == ["Refund 1", "Refund 0"]
    assert len(client.get("/api/help/search/", {"q": "refund", "page_size": 5}).json()["results"]) == 5
    assert client.get("/api/help/search/", {"q": "refund", "page": 9}).status_code == 404
    assert client.get("/api/help/search/").json() == {"count": 0, "next": None, "previous": None, "results": []}
    # and the schema (public too) describes the query, the pages and the backlog
    schema = client.get("/api/schema/").json()
    assert {"/api/help/search/", "/api/backlog/items/"} <= set(schema["paths"])
    operation = schema["paths"]["/api/help/search/"]["get"]
    assert {"q", "page", "page_size"} <= {parameter["name"] for parameter in operation["parameters"]}
    listed = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"count", "next", "previous", "results"} <= set(listed["properties"])
