"""Conversation search: what it matches, who sees what, the page, its snippets and query counts.

Run on both databases: the embedded default matches substrings; the real stack runs
PostgreSQL full-text search on the index of migration 0013.
"""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from chat import services
from chat.errors import ChatError
from chat.models import Conversation, Label, Visitor
from chat.search import conversation_search, search_snippets

from ..agents.factories import make_agent, make_team
from .factories import make_conversation, make_topic

SEARCH = reverse("agents:search")


def chat(desk, words: str = "Where is my parcel?", *, agent=None, topic=None, email: str = "") -> Conversation:
    conversation = make_conversation(site=desk.site, topic=topic or desk.topic)
    if email:
        Visitor.objects.filter(pk=conversation.visitor_id).update(email=email)
    services.message_post(conversation_id=conversation.pk, author=conversation.visitor, body=words, client_id="v1")
    if agent is not None:
        services.conversation_claim(conversation_id=conversation.pk, agent=agent)
    return conversation


def found(viewer, **filters) -> list[int]:
    return [conversation.pk for conversation in conversation_search(viewer=viewer.user, **filters)]


@pytest.fixture
def supervisor(desk):
    return make_agent(supervisor=True, name="Sam Supervisor")


# -- what matches -------------------------------------------------------------------------


def test_text_matches_messages_visitor_name_and_email(desk, supervisor):
    parcel = chat(desk, "My parcel never arrived")
    refund = chat(desk, "I want a refund please")
    by_email = chat(desk, "Hello", email="parcel.fan@example.com")
    by_name = chat(desk, "Hello")
    Visitor.objects.filter(pk=by_name.visitor_id).update(name="Ada Lovelace")

    assert set(found(supervisor, text="parcel")) == {parcel.pk, by_email.pk}
    assert found(supervisor, text="refund") == [refund.pk]
    assert found(supervisor, text="lovelace") == [by_name.pk]
    assert found(supervisor, text="parcel.fan@example.com") == [by_email.pk]
    assert found(supervisor, text="nothing-like-this") == []


def test_private_notes_are_searchable_by_agents(desk):
    conversation = chat(desk, agent=desk.agent)
    services.message_post(
        conversation_id=conversation.pk, author=desk.agent, body="Customer is a journalist", client_id="n1", note=True
    )

    assert found(desk.agent, text="journalist") == [conversation.pk]


def test_filters_by_label_agent_status_and_dates(desk, supervisor):
    mine = chat(desk, agent=desk.agent)
    theirs = chat(desk, agent=desk.other_agent)
    queued = chat(desk)
    old = chat(desk)
    Conversation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    vip, billing = Label.objects.create(name="VIP"), Label.objects.create(name="Billing")
    mine.labels.add(vip)
    queued.labels.add(billing)
    today = timezone.localdate()

    assert found(supervisor, label_ids=[vip.pk]) == [mine.pk]
    assert set(found(supervisor, label_ids=[vip.pk, billing.pk])) == {mine.pk, queued.pk}
    assert found(supervisor, agent_id=desk.other_agent.user_id) == [theirs.pk]
    assert found(supervisor, status="queued") == [queued.pk, old.pk]
    assert old.pk not in found(supervisor, date_from=today - timedelta(days=1))
    assert found(supervisor, date_from=today - timedelta(days=11), date_to=today - timedelta(days=9)) == [old.pk]
    assert found(supervisor) == [queued.pk, theirs.pk, mine.pk, old.pk]  # newest first


@pytest.mark.parametrize(
    "filters",
    [
        {"status": "lost"},
        {"text": "x" * 201},
        {"date_from": timezone.localdate(), "date_to": timezone.localdate() - timedelta(days=1)},
    ],
)
def test_bad_filters_are_refused_with_a_reason(desk, supervisor, filters):
    with pytest.raises(ChatError) as refused:
        conversation_search(viewer=supervisor.user, **filters)
    assert refused.value.code == "invalid_field" and refused.value.message


# -- who sees what ----------------------------------------------------------------------------


def test_agents_find_only_what_the_console_lets_them_see(desk, supervisor):
    other_topic = make_topic(site=desk.site, slug="billing")
    billing_team = make_team(topics=[other_topic])
    billing_agent = make_agent(teams=[billing_team])
    ours = chat(desk, "refund for order 1", agent=desk.agent)
    teammates = chat(desk, "refund for order 2", agent=desk.other_agent)
    theirs = chat(desk, "refund for order 3", topic=other_topic, agent=billing_agent)

    # The console's rule (chat.selectors.agent_can_see): own chats and those routed to one's teams.
    assert set(found(desk.agent, text="refund")) == {ours.pk, teammates.pk}
    assert found(billing_agent, text="refund") == [theirs.pk]
    assert set(found(supervisor, text="refund")) == {ours.pk, teammates.pk, theirs.pk}


def test_a_user_who_is_no_agent_finds_nothing_and_gets_no_page(desk, client, django_user_model):
    chat(desk, "refund")
    user = django_user_model.objects.create_user(username="visitor-ish", password="pw")
    assert list(conversation_search(viewer=user, text="refund")) == []
    client.force_login(user)
    assert client.get(SEARCH, {"q": "refund"}).status_code == 403
    client.logout()
    assert client.get(SEARCH).status_code == 302  # to the login page


def test_agents_open_results_read_only_and_only_those_they_may_see(desk, client):
    ours = chat(desk, "refund please", agent=desk.agent)
    services.message_post(conversation_id=ours.pk, author=desk.agent, body="Secret note", client_id="n", note=True)
    elsewhere = chat(desk, "refund", topic=make_topic(site=desk.site, slug="other"))
    Conversation.objects.filter(pk=elsewhere.pk).update(team=make_team())
    client.force_login(desk.agent.user)

    page = client.get(SEARCH, {"q": "refund"}).content.decode()
    link = reverse("agents:search_transcript", args=[ours.pk])
    assert f'href="{link}"' in page
    transcript = client.get(link)
    assert transcript.status_code == 200 and "Secret note" in transcript.content.decode()
    assert client.get(reverse("agents:search_transcript", args=[elsewhere.pk])).status_code == 404


def test_supervisors_results_link_to_the_floor_view(desk, client, supervisor):
    conversation = chat(desk, "refund")
    client.force_login(supervisor.user)
    page = client.get(SEARCH, {"q": "refund"}).content.decode()
    assert f'href="{reverse("supervision:floor_chat", args=[conversation.pk])}"' in page


# -- the page -----------------------------------------------------------------------------------


def test_matches_are_marked_and_everything_else_escaped(desk, client, supervisor):
    chat(desk, "<script>alert(1)</script> my refund <b>now</b>")
    Label.objects.create(name="<i>VIP</i>", colour="#ffd33d").conversations.add(Conversation.objects.get())
    client.force_login(supervisor.user)

    page = client.get(SEARCH, {"q": "refund"}).content.decode()

    assert "<script>alert(1)</script>" not in page and "<b>now</b>" not in page and "<i>VIP</i>" not in page
    # Escaped here; PostgreSQL's ts_headline drops the tags from the snippet altogether.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page or connection.vendor == "postgresql"
    assert "<mark>refund</mark>" in page
    assert "&lt;i&gt;VIP&lt;/i&gt;" in page and "background-color: #ffd33d; color: #000000" in page


def test_a_forged_mark_in_a_message_stays_text(desk, supervisor):
    conversation = chat(desk, "refund \ue000not a match\ue001 <mark>x</mark>")
    (snippet,) = search_snippets(conversations=[conversation], text="refund").values()
    # At worst a visitor's private-use characters add a highlight; never a tag of their own.
    assert "<mark>x</mark>" not in snippet and "<mark>refund</mark>" in snippet
    assert "<" not in re.sub(r"</?mark>", "", snippet)


@pytest.mark.parametrize("rows", [3, 30])
def test_pages_of_25_with_plain_links_and_bounded_queries(
    desk, client, supervisor, rows, django_assert_max_num_queries
):
    vip = Label.objects.create(name="VIP")
    for number in range(rows):
        chat(desk, f"parcel number {number}").labels.add(vip)
    client.force_login(supervisor.user)

    with django_assert_max_num_queries(16):
        first = client.get(SEARCH, {"q": "parcel", "label": vip.pk})

    assert first.status_code == 200
    rows_shown = first.context["rows"]
    assert len(rows_shown) == min(rows, 25)
    assert all("<mark>parcel</mark>" in row["snippet"] for row in rows_shown)
    page = first.content.decode()
    if rows > 25:
        assert f'href="?q=parcel&amp;label={vip.pk}&amp;page=2"' in page
        second = client.get(SEARCH, {"q": "parcel", "label": vip.pk, "page": 2})
        assert len(second.context["rows"]) == rows - 25
        assert 'rel="prev"' in second.content.decode()
    else:
        assert 'rel="next"' not in page


def test_bad_input_on_the_page_is_explained(desk, client, supervisor):
    client.force_login(supervisor.user)
    backwards = client.get(SEARCH, {"start": "2026-03-10", "end": "2026-03-01"})
    assert backwards.status_code == 400 and "The end date comes before the start date." in backwards.content.decode()
    assert client.get(SEARCH, {"start": "not a date"}).status_code == 400
    assert client.get(SEARCH, {"status": "lost"}).status_code == 400
    assert client.get(SEARCH, {"q": "x" * 300}).status_code == 400
    assert client.get(SEARCH, {"page": "9999"}).status_code == 200  # the last page instead


def test_console_and_supervisor_pages_link_to_search(desk, client, supervisor):
    client.force_login(supervisor.user)
    assert f'href="{SEARCH}"' in client.get(reverse("agents:console")).content.decode()
    assert f'href="{SEARCH}"' in client.get(reverse("supervision:floor")).content.decode()


# -- PostgreSQL full-text search ----------------------------------------------------------------


def test_postgres_matches_words_through_the_full_text_index(desk, supervisor, postgres):
    parcel = chat(desk, "My parcels never arrived; the parcel is lost")
    chat(desk, "Where is my order?")

    query = conversation_search(viewer=supervisor.user, text='"parcel is lost"')
    with CaptureQueriesContext(connection) as queries:
        assert [c.pk for c in query] == [parcel.pk]
    sql = queries[0]["sql"]
    assert re.search(r"""to_tsvector\('simple'::regconfig, COALESCE\([\w."]+"body", ''\)\) @@""", sql)
    assert "websearch_to_tsquery('simple'::regconfig" in sql
    assert found(supervisor, text="parcel -order") == [parcel.pk]

    # A few rows make a sequential scan cheapest; with it priced out, the plan shows
    # that the search's expression is the index's own.
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            plan = query.explain()
        finally:
            cursor.execute("RESET enable_seqscan")
    assert "chat_message_body_fts" in plan


def test_postgres_merges_the_search_indexes_pending_lists_in_small_steps(db, postgres):
    # A merge runs inside the INSERT that fills the list: the default 4 MB held a message
    # for 45-55 ms on an idle machine (docs/performance.md, round 7).
    indexes = ["chat_message_body_trgm", "chat_message_body_fts"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%s)", [indexes])
        options = dict(cursor.fetchall())
    assert options == {name: ["gin_pending_list_limit=256"] for name in indexes}


def test_postgres_snippet_is_a_headline_of_the_first_matching_message(desk, supervisor, postgres):
    conversation = chat(desk, "Hello there")
    services.message_post(
        conversation_id=conversation.pk, author=conversation.visitor, body="The <b>parcel</b> is late", client_id="v2"
    )
    with CaptureQueriesContext(connection) as queries:
        snippets = search_snippets(conversations=[conversation], text="parcel")
    assert len(queries) == 2 and "ts_headline" in queries[1]["sql"]
    # ts_headline drops what its parser takes for HTML tags; everything else is escaped.
    assert snippets[conversation.pk] == "The <mark>parcel</mark> is late"
