"""Labels on conversations: the services, who may change them and who hears of it, the
console's endpoint, the admin and the reports' label filter."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from chat import payloads, services
from chat.models import Conversation, Label
from chat.realtime import SUPERVISORS_GROUP, agent_group, team_group, visitor_group

from ..agents.factories import make_agent, make_team
from .factories import make_conversation

CHANGELIST = reverse("admin:chat_conversation_changelist")


def labels_url(conversation: Conversation) -> str:
    return reverse("agents:conversation_labels", args=[conversation.pk])


def make_label(name: str = "Billing", colour: str = "#1a7f37") -> Label:
    return Label.objects.create(name=name, colour=colour)


def owned_chat(desk, *, agent=None) -> Conversation:
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    services.message_post(conversation_id=conversation.pk, author=conversation.visitor, body="Hi", client_id="v1")
    return services.conversation_claim(conversation_id=conversation.pk, agent=agent or desk.agent)


def stored_labels(conversation: Conversation) -> list[str]:
    """What the database holds now (an instance's own labels may be prefetched before the change)."""
    return sorted(Label.objects.filter(conversations=conversation.pk).values_list("name", flat=True))


def post_labels(client: Client, conversation: Conversation, body) -> tuple[int, dict]:
    response = client.post(labels_url(conversation), json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


# -- services -------------------------------------------------------------------------------


def test_adding_a_label_twice_stores_it_once_and_tells_the_consoles_once(desk, sent_events):
    conversation = owned_chat(desk)
    label = make_label()
    sent_events.clear()

    services.conversation_label_add(conversation=conversation, label=label, actor=desk.agent.user)
    services.conversation_label_add(conversation=conversation, label=label, actor=desk.agent.user)

    assert stored_labels(conversation) == ["Billing"]
    assert len(sent_events) == 1
    groups, frame = sent_events[0]
    assert set(groups) == {agent_group(desk.agent.user_id), SUPERVISORS_GROUP}
    assert visitor_group(conversation.visitor_id) not in groups  # labels are for the team only
    assert frame["type"] == "conversation.updated"
    assert frame["conversation"]["labels"] == [
        {"id": label.pk, "name": "Billing", "colour": "#1a7f37", "text_colour": "#ffffff"}
    ]


def test_removing_a_label_is_idempotent_and_broadcast(desk, sent_events):
    conversation = owned_chat(desk)
    label = make_label()
    services.conversation_label_add(conversation=conversation, label=label, actor=desk.agent.user)
    sent_events.clear()

    services.conversation_label_remove(conversation=conversation, label=label, actor=desk.agent.user)
    services.conversation_label_remove(conversation=conversation, label=label, actor=desk.agent.user)

    assert not stored_labels(conversation)
    assert len(sent_events) == 1
    assert sent_events[0][1]["conversation"]["labels"] == []


def test_a_queued_chat_label_reaches_its_queue_and_not_the_visitor(desk, sent_events):
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    sent_events.clear()

    services.conversation_label_add(conversation=conversation, label=make_label(), actor=desk.agent.user)

    ((groups, _frame),) = sent_events
    assert set(groups) == {team_group(desk.agent.teams.get().pk), SUPERVISORS_GROUP}
    assert all(not group.startswith("visitor.") for group in groups)


def test_visitor_payload_has_no_labels(desk):
    conversation = owned_chat(desk)
    conversation.labels.add(make_label())

    assert "labels" not in payloads.conversation_for_visitor(conversation)
    assert payloads.conversation_for_agent(conversation)["labels"][0]["name"] == "Billing"


@pytest.mark.parametrize(
    ("colour", "text"), [("#000000", "#ffffff"), ("#ffffff", "#000000"), ("#ffd33d", "#000000"), ("#0969da", "#ffffff")]
)
def test_chip_text_is_black_or_white_whichever_reads_better(colour, text):
    assert payloads.label_text_colour(colour) == text


# -- the console's endpoint -----------------------------------------------------------------


def test_owner_adds_and_removes_a_label_over_http(desk, client):
    conversation = owned_chat(desk)
    label = make_label()
    client.force_login(desk.agent.user)

    status, body = post_labels(client, conversation, {"label_id": label.pk, "on": True})
    assert status == 200 and [item["name"] for item in body["conversation"]["labels"]] == ["Billing"]
    status, body = post_labels(client, conversation, {"label_id": label.pk, "on": False})
    assert status == 200 and body["conversation"]["labels"] == []


def test_agent_not_owning_the_chat_is_refused(desk, client):
    conversation = owned_chat(desk)
    label = make_label()
    client.force_login(desk.other_agent.user)  # same team: sees the chat, does not own it

    status, body = post_labels(client, conversation, {"label_id": label.pk, "on": True})

    assert status == 403 and body["error"]["code"] == "not_owner"
    assert not stored_labels(conversation)


def test_agent_of_another_team_does_not_find_the_chat(desk, client):
    conversation = owned_chat(desk)
    stranger = make_agent(teams=[make_team()])
    client.force_login(stranger.user)

    status, body = post_labels(client, conversation, {"label_id": make_label().pk, "on": True})

    assert status == 404 and body["error"]["code"] == "not_found"


def test_supervisor_labels_any_chat(desk, client):
    conversation = owned_chat(desk)
    client.force_login(make_agent(supervisor=True).user)

    status, _ = post_labels(client, conversation, {"label_id": make_label().pk, "on": True})

    assert status == 200 and stored_labels(conversation) == ["Billing"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"label_id": "1", "on": True},
        {"label_id": 1},
        {"label_id": True, "on": True},
        {"label_id": 2**63, "on": True},
        [1],
        "x",
    ],
)
def test_bad_bodies_get_a_clear_error(desk, client, body):
    conversation = owned_chat(desk)
    client.force_login(desk.agent.user)

    status, answer = post_labels(client, conversation, body)

    assert status == 400 and answer["error"]["code"] == "invalid_field" and "label_id" in answer["error"]["message"]


def test_unknown_label_and_wrong_method_and_outsiders(desk, client, django_user_model):
    conversation = owned_chat(desk)
    client.force_login(desk.agent.user)
    status, body = post_labels(client, conversation, {"label_id": 99999, "on": True})
    assert status == 404 and body["error"]["message"] == "No such label."
    assert client.get(labels_url(conversation)).status_code == 405

    client.force_login(django_user_model.objects.create_user(username="nobody", password="pw"))
    assert post_labels(client, conversation, {"label_id": 1, "on": True})[0] == 403


def test_the_endpoint_needs_the_csrf_token(desk):
    conversation = owned_chat(desk)
    label = make_label()
    client = Client(enforce_csrf_checks=True)
    client.force_login(desk.agent.user)

    refused = client.post(
        labels_url(conversation), json.dumps({"label_id": label.pk, "on": True}), content_type="application/json"
    )
    assert refused.status_code == 403 and not stored_labels(conversation)

    client.get(reverse("agents:console"))  # sets the csrftoken cookie, as the console page does
    token = client.cookies["csrftoken"].value
    accepted = client.post(
        labels_url(conversation), json.dumps({"label_id": label.pk, "on": True}),
        content_type="application/json", HTTP_X_CSRFTOKEN=token,
    )  # fmt: skip
    assert accepted.status_code == 200


def test_console_page_lists_the_labels_for_the_picker(desk, client, django_assert_max_num_queries):
    make_label("VIP", "#ffd33d")
    make_label("Billing")
    client.force_login(desk.agent.user)

    with django_assert_max_num_queries(8):
        page = client.get(reverse("agents:console")).content.decode()

    catalogue = json.loads(page.split('<script id="console-labels" type="application/json">')[1].split("</script>")[0])
    assert [label["name"] for label in catalogue] == ["Billing", "VIP"]
    assert catalogue[1]["text_colour"] == "#000000"
    assert reverse("agents:search") in page


def test_welcome_lists_carry_labels_in_constant_queries(desk, django_assert_max_num_queries):
    from chat.consumers.agent import _welcome

    for number in range(4):
        conversation = owned_chat(desk) if number < 2 else make_conversation(site=desk.site, topic=desk.topic)
        conversation.labels.add(make_label(f"L{number}"))
        services.message_post(conversation_id=conversation.pk, author=conversation.visitor, body="x", client_id="w")

    with django_assert_max_num_queries(9):
        welcome = _welcome(desk.agent)

    assert sorted(label["name"] for chat in welcome["chats"] + welcome["queue"] for label in chat["labels"]) == [
        "L0", "L1", "L2", "L3",
    ]  # fmt: skip


# -- admin --------------------------------------------------------------------------------------


@pytest.fixture
def supervisor_client(client, django_user_model):
    user = django_user_model.objects.create_superuser(username="boss", password="pw", email="boss@example.com")
    client.force_login(user)
    return client


def test_admin_filters_conversations_by_label_and_shows_escaped_chips(desk, supervisor_client):
    labelled, other = owned_chat(desk), make_conversation(site=desk.site)
    sneaky = make_label("<b>VIP</b>", "#ffd33d")
    labelled.labels.add(sneaky, make_label("Billing"))

    response = supervisor_client.get(CHANGELIST, {"label": sneaky.pk})

    assert {obj.pk for obj in response.context["cl"].result_list} == {labelled.pk}
    page = response.content.decode()
    assert "&lt;b&gt;VIP&lt;/b&gt;" in page and "<b>VIP</b>" not in page
    assert "background-color: #ffd33d; color: #000000" in page
    assert other.pk not in {
        obj.pk for obj in supervisor_client.get(CHANGELIST, {"label": sneaky.pk}).context["cl"].result_list
    }


@pytest.mark.parametrize("rows", [3, 15])
def test_admin_list_with_labels_runs_a_bounded_number_of_queries(
    desk, supervisor_client, django_assert_max_num_queries, rows
):
    labels = [make_label(f"L{number}") for number in range(3)]
    for _ in range(rows):
        make_conversation(site=desk.site).labels.set(labels)

    with django_assert_max_num_queries(12):
        response = supervisor_client.get(CHANGELIST)

    assert response.context["cl"].result_count == rows


def test_label_admin_lists_swatch_and_chat_count(desk, supervisor_client):
    label = make_label("Refunds", "#cf222e")
    make_conversation(site=desk.site).labels.add(label)

    page = supervisor_client.get(reverse("admin:chat_label_changelist")).content.decode()
    assert "background-color: #cf222e" in page and "Refunds" in page

    bad = supervisor_client.post(reverse("admin:chat_label_add"), {"name": "Bad", "colour": "red"})
    assert bad.status_code == 200 and "A colour like #1a7f37." in bad.content.decode()


# -- reports --------------------------------------------------------------------------------


def test_reports_count_only_the_chats_with_the_label(desk, client):
    label = make_label()
    labelled = owned_chat(desk)
    owned_chat(desk, agent=desk.other_agent)
    labelled.labels.add(label)
    client.force_login(make_agent(supervisor=True).user)

    everything = client.get(reverse("supervision:reports"))
    only = client.get(reverse("supervision:reports"), {"label": label.pk})

    assert everything.context["report"].totals.chats == 2
    assert only.status_code == 200 and only.context["report"].totals.chats == 1
    assert only.context["report"].scope.label_id == label.pk
    csv_text = client.get(reverse("supervision:report_csv", args=["agents"]), {"label": label.pk}).content.decode()
    assert desk.agent.display_name in csv_text and desk.other_agent.display_name not in csv_text
