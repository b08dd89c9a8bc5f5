import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from chat.models import Conversation
from feedback.models import FeedbackItem, Mention
from feedback.selectors import backlog_ranked, feedback_similar
from feedback.services import feedback_log
from knowledgebase.errors import KbError

from ..agents.factories import make_agent
from ..chat.factories import make_conversation, make_visitor

pytestmark = pytest.mark.django_db


def customer_chat(desk, *, customer: bool) -> Conversation:
    visitor, _ = make_visitor(site=desk.site)
    visitor.is_customer = customer
    visitor.save()
    return make_conversation(site=desk.site, visitor=visitor, topic=desk.topic)


def test_logging_takes_the_source_from_the_chat(desk):
    # given a chat with a prospect and one with a customer
    prospect = feedback_log(
        conversation=customer_chat(desk, customer=False), agent=desk.agent, kind="feature",
        summary="  Dark   mode ", quote="I'd love a dark mode",
    )  # fmt: skip
    customer = feedback_log(
        conversation=customer_chat(desk, customer=True), agent=desk.agent, kind="bug",
        summary="Checkout crashes", quote="It crashed",
    )  # fmt: skip
    # then each item and mention carries who asked (R22)
    assert (prospect.item.source, prospect.source, prospect.item.summary) == ("prospect", "prospect", "Dark mode")
    assert (customer.item.source, customer.source) == ("customer", "customer")


def test_a_repeat_is_merged_as_a_mention_and_counted_once_per_chat(desk):
    # given an item logged from one chat
    first = feedback_log(
        conversation=customer_chat(desk, customer=True), agent=desk.agent, kind="feature",
        summary="Export invoices as PDF", quote="PDF please",
    )  # fmt: skip
    # when the same request comes up in another chat, the similar item is offered and chosen
    similar = feedback_similar(text="can I download my invoices as pdf?")
    assert similar == [first.item]
    other_chat = customer_chat(desk, customer=False)
    second = feedback_log(
        conversation=other_chat, agent=desk.agent, kind="feature", summary="", quote="need pdf invoices",
        merge_into=similar[0],
    )  # fmt: skip
    again = feedback_log(
        conversation=other_chat, agent=desk.agent, kind="feature", summary="", quote="again", merge_into=first.item
    )
    # then there is one item with two mentions, each with its chat and words
    assert FeedbackItem.objects.count() == 1
    assert again.pk == second.pk
    assert [(m.conversation_id, m.quote) for m in Mention.objects.order_by("pk")] == [
        (first.conversation_id, "PDF please"),
        (other_chat.pk, "need pdf invoices"),
    ]


def test_closed_items_are_not_offered_for_merging(desk):
    mention = feedback_log(
        conversation=customer_chat(desk, customer=True), agent=desk.agent, kind="feature",
        summary="Gift cards", quote="",
    )  # fmt: skip
    FeedbackItem.objects.filter(pk=mention.item_id).update(status=FeedbackItem.Status.DECLINED)
    assert feedback_similar(text="gift cards") == []


def test_similar_on_postgres(desk, postgres):
    mention = feedback_log(
        conversation=customer_chat(desk, customer=True), agent=desk.agent, kind="feature",
        summary="Exporting invoices", quote="",
    )  # fmt: skip
    assert feedback_similar(text="export my invoice") == [mention.item]


def test_a_new_item_needs_a_summary_and_a_known_kind(desk):
    chat = customer_chat(desk, customer=True)
    with pytest.raises(KbError):
        feedback_log(conversation=chat, agent=desk.agent, kind="feature", summary=" ", quote="")
    with pytest.raises(KbError):
        feedback_log(conversation=chat, agent=desk.agent, kind="wish", summary="x", quote="")


def _item_with_mentions(desk, summary: str, ages_in_days: list[int], kind: str = "feature") -> FeedbackItem:
    item = None
    for age in ages_in_days:
        mention = feedback_log(
            conversation=customer_chat(desk, customer=True), agent=desk.agent, kind=kind, summary=summary, quote="",
            merge_into=item,
        )  # fmt: skip
        Mention.objects.filter(pk=mention.pk).update(created_at=timezone.now() - timedelta(days=age))
        item = mention.item
    assert item is not None
    return item


def test_backlog_ranks_by_mentions_in_the_window(desk):
    # given an item asked often two months ago and one asked twice this week
    old_hot = _item_with_mentions(desk, "Old favourite", [50, 55, 60])
    recent = _item_with_mentions(desk, "New wish", [1, 2], kind="complaint")
    # then the 30-day view puts the recent one first and the 90-day view the old one
    assert list(backlog_ranked(window_days=30)) == [recent, old_hot]
    assert list(backlog_ranked(window_days=90)) == [old_hot, recent]
    assert list(backlog_ranked(kind="complaint")) == [recent]
    assert list(backlog_ranked(source="prospect")) == []


def test_backlog_page_filters_with_bounded_queries(client, desk, django_assert_max_num_queries):
    for n in range(10):
        _item_with_mentions(desk, f"Wish {n}", [n, n + 1])
    _item_with_mentions(desk, "A bug", [3], kind="bug")
    client.force_login(desk.agent.user)
    with django_assert_max_num_queries(5):
        response = client.get("/console/backlog/", {"kind": "bug", "window": "90", "status": "bogus"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "A bug" in html and "Wish 1" not in html
    assert "Wish 3" in client.get("/console/backlog/").content.decode()


def test_backlog_page_and_api_need_an_agent(client, django_user_model, desk):
    assert client.get("/console/backlog/").status_code == 302
    assert client.get("/api/backlog/items/").status_code in (401, 403)
    client.force_login(django_user_model.objects.create(username="nobody"))
    assert client.get("/console/backlog/").status_code == 403
    assert client.get("/api/backlog/items/").status_code == 403


def test_backlog_api_lists_ranked_items_a_page_at_a_time(client, desk):
    item = _item_with_mentions(desk, "API wish", [1, 40])
    other = _item_with_mentions(desk, "Other wish", [2])
    client.force_login(desk.agent.user)
    data = client.get("/api/backlog/items/", {"window": "90", "page_size": 1}).json()
    assert data["count"] == 2 and "page=2" in data["next"] and "window=90" in data["next"]
    assert [(row["id"], row["mentions_30"], row["mentions_90"]) for row in data["results"]] == [(item.pk, 1, 2)]
    assert [row["id"] for row in client.get(data["next"]).json()["results"]] == [other.pk]
    schema = client.get("/api/schema/").json()
    parameters = {p["name"] for p in schema["paths"]["/api/backlog/items/"]["get"]["parameters"]}
    assert {"kind", "status", "source", "window", "page", "page_size"} <= parameters


def test_log_and_similar_endpoints(client, desk):
    chat = customer_chat(desk, customer=False)
    client.force_login(desk.agent.user)
    logged = client.post(
        reverse("feedback:log"),
        json.dumps({"conversation_id": chat.pk, "kind": "policy_gap", "summary": "Returns abroad", "quote": "abroad?"}),
        content_type="application/json",
    )
    assert logged.status_code == 201 and logged.json()["item"]["source"] == "prospect"
    similar = client.post(
        reverse("feedback:similar"), json.dumps({"text": "returns from abroad"}), content_type="application/json"
    )
    assert [row["summary"] for row in similar.json()["items"]] == ["Returns abroad"]
    outsider = make_agent()
    client.force_login(outsider.user)
    refused = client.post(
        reverse("feedback:log"),
        json.dumps({"conversation_id": chat.pk, "kind": "bug", "summary": "x", "quote": ""}),
        content_type="application/json",
    )
    assert refused.status_code == 404
