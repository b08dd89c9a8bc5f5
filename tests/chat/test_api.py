"""The v1 API (/api/v1/, docs/api.md): token auth, the console's visibility rule, filters,
bounded queries, and its place in the OpenAPI schema. Its actions: test_api_actions.py."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from chat import services
from chat.models import Conversation, Label

from ..agents.factories import make_agent, make_team
from .factories import make_conversation, make_site, make_topic

API = "/api/v1"


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def queued(desk, topic=None, body: str = "Where is my parcel?") -> Conversation:
    conversation = make_conversation(site=desk.site, topic=topic or desk.topic)
    services.message_post(conversation_id=conversation.pk, author=conversation.visitor, body=body, client_id="v-1")
    return conversation


def owned(desk, agent=None) -> Conversation:
    conversation = queued(desk)
    services.conversation_claim(conversation_id=conversation.pk, agent=agent or desk.agent)
    return conversation


@pytest.fixture
def elsewhere(desk) -> Conversation:
    """A chat routed to another team, on a topic the desk's agents do not serve."""
    topic = make_topic(site=desk.site, slug="billing")
    make_team(topics=[topic])
    return queued(desk, topic=topic, body="My invoice is wrong")


def ids(response) -> set[int]:
    return {row["id"] for row in response.json()["results"]}


# --- who may ask ---------------------------------------------------------------------------


def test_no_credentials_are_refused_with_401_naming_the_token_scheme(desk):
    response = APIClient().get(f"{API}/conversations/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_wrong_token_is_refused_with_401(desk):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = client.get(f"{API}/conversations/")

    assert response.status_code == 401
    assert "token" in response.json()["detail"].lower()


def test_a_user_without_an_agent_profile_gets_403(desk):
    user = get_user_model().objects.create(username="integration-bot")

    for path in ("conversations/", "visitors/", "agents/", "labels/"):
        response = client_for(user).get(f"{API}/{path}")
        assert response.status_code == 403, path
        assert "agent" in response.json()["detail"]


def test_a_signed_in_agent_session_works_too(desk):
    client = APIClient()
    client.force_login(desk.agent.user)

    assert client.get(f"{API}/conversations/").status_code == 200


# --- what each role sees -----------------------------------------------------------------------


def test_an_agent_sees_its_teams_chats_and_its_own_but_not_other_teams(desk, elsewhere):
    mine = owned(desk)
    teams_queue = queued(desk)
    client = client_for(desk.agent.user)

    assert ids(client.get(f"{API}/conversations/")) == {mine.pk, teams_queue.pk}
    assert client.get(f"{API}/conversations/{elsewhere.pk}/").status_code == 404
    assert client.post(f"{API}/conversations/{elsewhere.pk}/claim/").status_code == 404
    assert client.get(f"{API}/conversations/{elsewhere.pk}/messages/").status_code == 404


def test_a_supervisor_sees_every_chat(desk, elsewhere):
    mine = owned(desk)
    supervisor = make_agent(supervisor=True)

    listed = ids(client_for(supervisor.user).get(f"{API}/conversations/"))

    assert listed == {mine.pk, elsewhere.pk}


def test_a_chat_transferred_to_an_agent_stays_visible_to_it_outside_its_teams(desk, elsewhere):
    outsider = make_agent(teams=[make_team()])
    services.conversation_claim(conversation_id=elsewhere.pk, agent=make_agent(supervisor=True))
    Conversation.objects.filter(pk=elsewhere.pk).update(assigned_agent=outsider.user)

    assert ids(client_for(outsider.user).get(f"{API}/conversations/")) == {elsewhere.pk}


def test_retrieve_shows_visitor_summary_agent_labels_and_timing_but_no_token(desk):
    conversation = owned(desk)
    services.message_post(conversation_id=conversation.pk, author=desk.agent, body="Let me check that.", client_id="a")
    label = Label.objects.create(name="VIP")
    conversation.labels.add(label)

    data = client_for(desk.agent.user).get(f"{API}/conversations/{conversation.pk}/").json()

    assert data["visitor"] == {"id": str(conversation.visitor.public_id), "name": "", "is_customer": False}
    assert data["agent"] == {"id": desk.agent.user_id, "name": desk.agent.display_name}
    assert [row["name"] for row in data["labels"]] == ["VIP"]
    assert data["first_response_at"] is not None and data["agent_message_count"] == 1
    assert "token" not in str(data).lower()


def test_visitors_are_those_of_chats_the_agent_may_see_without_token_hash(desk, elsewhere):
    mine = queued(desk)
    agent_client = client_for(desk.agent.user)

    listed = agent_client.get(f"{API}/visitors/").json()["results"]

    assert [row["id"] for row in listed] == [str(mine.visitor.public_id)]
    assert "token_hash" not in listed[0]
    assert agent_client.get(f"{API}/visitors/{elsewhere.visitor.public_id}/").status_code == 404
    assert agent_client.get(f"{API}/visitors/not-a-uuid/").status_code == 404
    everyone = client_for(make_agent(supervisor=True).user).get(f"{API}/visitors/").json()["results"]
    assert {row["id"] for row in everyone} == {str(mine.visitor.public_id), str(elsewhere.visitor.public_id)}


def test_agents_list_names_status_teams_limits_and_open_chats(desk):
    owned(desk)

    rows = client_for(desk.other_agent.user).get(f"{API}/agents/").json()["results"]

    by_id = {row["id"]: row for row in rows}
    me = by_id[desk.agent.user_id]
    assert (me["name"], me["status"], me["max_chats"], me["open_chats"], me["present"]) == (
        desk.agent.display_name, "online", 3, 1, True,
    )  # fmt: skip
    assert [team["id"] for team in me["teams"]] == [team.pk for team in desk.agent.teams.all()]


# --- filters and query counts ---------------------------------------------------------------


def test_list_filters_by_status_label_agent_and_time(desk):
    mine = owned(desk)
    waiting = queued(desk)
    label = Label.objects.create(name="Billing")
    waiting.labels.add(label)
    Conversation.objects.filter(pk=mine.pk).update(created_at=timezone.now() - timedelta(days=3))
    client = client_for(desk.agent.user)
    yesterday = (timezone.now() - timedelta(days=1)).isoformat()

    assert ids(client.get(f"{API}/conversations/", {"status": "queued"})) == {waiting.pk}
    assert ids(client.get(f"{API}/conversations/", {"label": label.pk})) == {waiting.pk}
    assert ids(client.get(f"{API}/conversations/", {"agent": desk.agent.user_id})) == {mine.pk}
    assert ids(client.get(f"{API}/conversations/", {"created_since": yesterday})) == {waiting.pk}
    # written in today, though created days ago
    assert ids(client.get(f"{API}/conversations/", {"updated_since": yesterday})) == {mine.pk, waiting.pk}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"label": "x"}, "label"),
        ({"agent": "0"}, "agent"),
        ({"created_since": "yesterday"}, "created_since"),
        ({"label": "99999999999"}, "label"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(desk, params, field):
    response = client_for(desk.agent.user).get(f"{API}/conversations/", params)

    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("path", ["conversations/", "visitors/", "agents/", "labels/"])
def test_lists_run_the_same_queries_for_few_or_many_rows(desk, path, django_assert_max_num_queries):
    supervisor = make_agent(supervisor=True, teams=[make_team()])
    client = client_for(supervisor.user)
    label = Label.objects.create(name="First")
    conversation = owned(desk)
    conversation.labels.add(label)
    client.get(f"{API}/{path}")  # warm: the first request reads the content types and the like

    for number in range(6):
        other = owned(desk, agent=make_agent(teams=list(desk.agent.teams.all())))
        other.labels.add(label, Label.objects.create(name=f"L{number}"))

    # token and user, agent (+ teams), count, page, prefetched labels or teams
    with django_assert_max_num_queries(7):
        response = client.get(f"{API}/{path}")
    assert response.status_code == 200
    assert len(response.json()["results"]) >= 7


# --- the schema ---------------------------------------------------------------------------------


def test_the_openapi_schema_lists_every_v1_operation_with_the_token_scheme(client, db):
    schema = client.get("/api/schema/").json()

    operations = {
        operation["operationId"]
        for path, methods in schema["paths"].items()
        if path.startswith("/api/v1/")
        for operation in methods.values()
    }
    assert operations == {
        "listConversations", "retrieveConversation", "claimConversation", "endConversation",
        "transferConversation", "listConversationMessages", "createConversationMessage",
        "addConversationLabel", "removeConversationLabel", "listVisitors", "retrieveVisitor",
        "listAgents", "retrieveAgent", "listLabels", "retrieveLabel", "createLabel", "updateLabel",
        "partialUpdateLabel",
    }  # fmt: skip
    assert schema["components"]["securitySchemes"]["tokenAuth"]["name"] == "Authorization"
    listing = schema["paths"]["/api/v1/conversations/"]["get"]
    assert {"status", "label", "agent", "created_since", "updated_since"} <= {p["name"] for p in listing["parameters"]}


def test_a_supervisor_sees_chats_of_every_site(desk):
    other = make_conversation(site=make_site())

    assert client_for(make_agent(supervisor=True).user).get(f"{API}/conversations/{other.pk}/").status_code == 200


def test_q_searches_as_the_console_does_within_what_the_agent_may_see(desk, elsewhere):
    parcel = queued(desk)

    supervisor_hits = ids(client_for(make_agent(supervisor=True).user).get(f"{API}/conversations/", {"q": "invoice"}))
    agent_hits = ids(client_for(desk.agent.user).get(f"{API}/conversations/", {"q": "invoice"}))
    too_long = client_for(desk.agent.user).get(f"{API}/conversations/", {"q": "x" * 201})

    assert supervisor_hits == {elsewhere.pk}
    assert agent_hits == set()
    assert ids(client_for(desk.agent.user).get(f"{API}/conversations/", {"q": "parcel"})) == {parcel.pk}
    assert too_long.status_code == 400 and "q" in too_long.json()


def test_a_token_made_by_drf_create_token_opens_the_api(desk, capsys):
    call_command("drf_create_token", desk.agent.user.get_username())
    key = capsys.readouterr().out.split()[2]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert client.get(f"{API}/conversations/").status_code == 200


def test_admin_makes_tokens(desk, admin_client):
    assert admin_client.get("/admin/authtoken/tokenproxy/add/").status_code == 200


@pytest.mark.parametrize("bad_id", ["0", "-1", "1.5", "9999999999", "9223372036854775808", "9" * 40, "%00"])
def test_ids_out_of_any_range_are_not_found(desk, bad_id):
    client = client_for(make_agent(supervisor=True).user)

    paths = (f"conversations/{bad_id}/", f"conversations/{bad_id}/claim/", f"agents/{bad_id}/", f"labels/{bad_id}/")
    for path in paths:
        method = client.post if path.endswith("claim/") else client.get
        assert method(f"{API}/{path}").status_code == 404, path


def test_a_caller_over_the_rate_gets_429_and_others_are_not_slowed(desk, settings):
    settings.API_RATE = "3/minute"
    looping, other = client_for(desk.agent.user), client_for(desk.other_agent.user)
    assert [looping.get(f"{API}/conversations/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert other.get(f"{API}/conversations/").status_code == 200
