"""schemathesis against `/api/schema/`: every operation, fed generated (and invalid) input,
never answers with a server error. Signed in as an agent (a session) so the backlog
operations run their real code, not the 403; the v1 operations as a supervisor's API token."""

from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from chat import services
from chat.models import Label
from feedback.models import FeedbackItem
from tests.agents.factories import make_agent
from tests.chat.factories import make_conversation
from tests.knowledgebase.factories import make_article, make_category


@pytest.fixture
def api_schema(db):
    # Rows to find, so list, detail and search go past their empty cases.
    category = make_category(name="Orders")
    make_article(title="Where is my parcel?", body="Track your parcel from the order page.", category=category)
    make_article(title="Refunds", body="Refunds take 3-5 working days.")
    for kind in ("feature", "complaint"):
        FeedbackItem.objects.create(kind=kind, source="customer", summary=f"A {kind} about refunds")
    Label.objects.create(name="Refund")
    for number in range(3):
        conversation = make_conversation()
        services.message_post(
            conversation_id=conversation.pk, author=conversation.visitor, body="My refund?", client_id=f"v{number}"
        )
    # WSGI, in this thread: the app sees the test's rows inside its transaction. Like Django's
    # test client, keep the end of each request from closing that transaction's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def agent_session(db) -> dict[str, str]:
    """The session cookie of a signed-in agent (SessionAuthentication; a Basic password would
    be hashed again on every request)."""
    client = Client()
    client.force_login(make_agent().user)
    return {"sessionid": client.cookies["sessionid"].value}


@pytest.fixture
def supervisor_token(db) -> dict[str, str]:
    """The v1 API as an integration calls it: a token, of a supervisor, who may do everything."""
    return {"Authorization": f"Token {Token.objects.create(user=make_agent(supervisor=True).user).key}"}


def operations(schema) -> dict[str, Any]:
    return {f"{op.method.upper()} {op.path}": op for op in (result.ok() for result in schema.get_all_operations())}


def test_schema_lists_every_api_operation(api_schema):
    assert set(operations(api_schema)) == {
        "GET /api/help/search/",
        "GET /api/backlog/items/",
        "GET /api/backlog/items/{id}/",
        "GET /api/v1/conversations/",
        "GET /api/v1/conversations/{id}/",
        "POST /api/v1/conversations/{id}/claim/",
        "POST /api/v1/conversations/{id}/end/",
        "POST /api/v1/conversations/{id}/transfer/",
        "GET /api/v1/conversations/{id}/messages/",
        "POST /api/v1/conversations/{id}/messages/",
        "POST /api/v1/conversations/{id}/labels/",
        "DELETE /api/v1/conversations/{id}/labels/{label_id}/",
        "GET /api/v1/visitors/",
        "GET /api/v1/visitors/{id}/",
        "GET /api/v1/agents/",
        "GET /api/v1/agents/{id}/",
        "GET /api/v1/labels/",
        "POST /api/v1/labels/",
        "GET /api/v1/labels/{id}/",
        "PUT /api/v1/labels/{id}/",
        "PATCH /api/v1/labels/{id}/",
    }


# schemathesis' own pytest loader (from_fixture) needs pytest internals that pytest 9 no
# longer has, so each operation's case strategy drives a hypothesis test here directly.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_operation_answers_a_server_error(api_schema, agent_session, supervisor_token, mode):
    for name, operation in operations(api_schema).items():
        parameters = operation.definition.raw.get("parameters", [])
        if mode == GenerationMode.NEGATIVE and not any(p["in"] == "query" for p in parameters):
            continue  # a path segment is a string whatever it holds: no invalid case to make

        @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def no_server_error(case) -> None:
            case.call_and_validate(cookies=agent_session, headers=supervisor_token, checks=[not_a_server_error])

        try:
            no_server_error()
        except Exception as error:
            error.add_note(f"operation: {name}, {mode} cases")
            raise


@pytest.mark.parametrize(
    "item_id", ["0", "-1", "1.5", "1e3", "9223372036854775807", "9223372036854775808", "9" * 40, "%00", "%F0%9F%98%80"]
)
def test_backlog_item_ids_out_of_any_range_are_not_found(agent_session, item_id):
    client = Client()
    client.cookies["sessionid"] = agent_session["sessionid"]

    response = client.get(f"/api/backlog/items/{item_id}/")

    assert response.status_code == 404
