"""Conversation events as outbound webhooks (docs/api.md), through the feedback webhooks'
deliveries, signing and retries, against a real HTTP server on 127.0.0.1 in a thread.

Tasks run in-process (eager) here; test_conversation_webhooks_worker below runs a real
Celery worker on the real stack.
"""

import hashlib
import hmac
import json

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from chat import services
from feedback.models import WebhookDelivery, WebhookEndpoint

from ..feedback.test_webhooks import Receiver, eager_retries, receiver  # noqa: F401  (fixtures)
from ..servers import database_url, node_environment
from ..workers import celery_worker, wait_for
from .factories import make_visitor

pytestmark = pytest.mark.usefixtures("eager_tasks")

ALL_EVENTS = [event.value for event in WebhookDelivery.CONVERSATION_EVENTS]


def endpoint(receiver: Receiver, path: str, *, events=(), audience: str = "", active: bool = True) -> WebhookEndpoint:  # noqa: F811
    return WebhookEndpoint.objects.create(
        name=path, url=f"{receiver.url}/{path}", events=list(events), audience=audience, is_active=active
    )


def whole_chat(desk):
    """A visitor starts, writes; the agent claims, writes a note and a reply, ends; the visitor rates."""
    visitor, _ = make_visitor(site=desk.site)
    conversation = services.conversation_start(visitor=visitor, topic_slug=desk.topic.slug)
    services.message_post(conversation_id=conversation.pk, author=visitor, body="Where is my parcel?", client_id="v")
    services.conversation_claim(conversation_id=conversation.pk, agent=desk.agent)
    services.message_post(
        conversation_id=conversation.pk, author=desk.agent, body="Customer sounds upset", client_id="n", note=True
    )
    services.message_post(
        conversation_id=conversation.pk, author=desk.agent, body="It left our warehouse today.", client_id="a"
    )
    services.conversation_end(conversation_id=conversation.pk, ended_by=desk.agent)
    services.conversation_rate(conversation_id=conversation.pk, visitor=visitor, rating=5, comment="Quick, thanks")
    return conversation


def test_each_event_is_posted_signed_to_the_endpoints_subscribed_to_it(desk, receiver):  # noqa: F811
    everything = endpoint(receiver, "all", events=ALL_EVENTS)
    endpoint(receiver, "ends", events=["conversation.ended"])
    endpoint(receiver, "crm", audience="prospect")  # feedback only
    endpoint(receiver, "off", events=ALL_EVENTS, active=False)

    conversation = whole_chat(desk)

    events = [json.loads(request.body)["event"] for request in receiver.at("/all")]
    assert events == [
        "conversation.created",
        "message.created",  # the visitor's; the claim's "joined" notice is a system message
        "conversation.claimed",
        "message.created",  # the reply; the private note is never sent
        "conversation.ended",
        "conversation.rated",
    ]
    assert [json.loads(r.body)["event"] for r in receiver.at("/ends")] == ["conversation.ended"]
    assert receiver.at("/crm") == [] and receiver.at("/off") == []
    for request in receiver.at("/all"):
        expected = "sha256=" + hmac.new(everything.secret.encode(), request.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(request.headers["X-Helpdesk-Signature"], expected)
        assert request.headers["X-Helpdesk-Event"] == json.loads(request.body)["event"]
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"delivered"}

    bodies = [json.loads(r.body) for r in receiver.at("/all")]
    visitor_message, reply = (b["message"] for b in bodies if b["event"] == "message.created")
    assert (visitor_message["sender"], visitor_message["body"], visitor_message["author"]) == (
        "visitor", "Where is my parcel?", None,
    )  # fmt: skip
    assert (reply["sender"], reply["body"]) == ("agent", "It left our warehouse today.")
    assert reply["author"] == {"id": desk.agent.user_id, "name": desk.agent.display_name}
    rated = bodies[-1]["conversation"]
    assert (rated["id"], rated["rating"], rated["rating_comment"], rated["status"]) == (
        conversation.pk, 5, "Quick, thanks", "ended",
    )  # fmt: skip
    assert rated["visitor_id"] == str(conversation.visitor.public_id)
    assert bodies[2]["conversation"]["agent"] == {"id": desk.agent.user_id, "name": desk.agent.display_name}
    raw = b"".join(r.body for r in receiver.requests)
    assert b"Customer sounds upset" not in raw  # the note
    assert conversation.visitor.token_hash.encode() not in raw


def test_feedback_endpoints_still_receive_feedback_by_audience(desk, receiver):  # noqa: F811
    from feedback.services import feedback_log

    endpoint(receiver, "crm", audience="prospect", events=["conversation.ended"])
    visitor, _ = make_visitor(site=desk.site)
    conversation = services.conversation_start(visitor=visitor, topic_slug=None)

    feedback_log(conversation=conversation, agent=desk.agent, kind="feature", summary="Dark mode", quote="Dark!")

    assert [json.loads(r.body)["event"] for r in receiver.at("/crm")] == ["item.created"]


def test_a_receiver_failing_with_500_gets_the_event_again_until_it_takes_it(desk, receiver, eager_retries):  # noqa: F811
    endpoint(receiver, "flaky", events=["conversation.created"])
    receiver.fail_first = 2
    visitor, _ = make_visitor(site=desk.site)

    services.conversation_start(visitor=visitor, topic_slug=None)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.event, delivery.state, delivery.attempts, delivery.last_status_code) == (
        "conversation.created", "delivered", 3, 200,
    )  # fmt: skip
    assert len({request.body for request in receiver.requests}) == 1
    assert len(receiver.requests) == 3


def test_a_rolled_back_event_owes_nothing(desk, receiver):  # noqa: F811
    endpoint(receiver, "all", events=ALL_EVENTS)
    visitor, _ = make_visitor(site=desk.site)

    with pytest.raises(RuntimeError), transaction.atomic():
        services.conversation_start(visitor=visitor, topic_slug=None)
        raise RuntimeError("rolled back")

    assert receiver.requests == [] and not WebhookDelivery.objects.exists()


def test_with_no_endpoint_subscribed_a_message_reads_no_endpoint(desk, receiver):  # noqa: F811
    subscribed = endpoint(receiver, "ends", events=["conversation.ended"])
    visitor, _ = make_visitor(site=desk.site)
    conversation = services.conversation_start(visitor=visitor, topic_slug=None)
    services.message_post(conversation_id=conversation.pk, author=visitor, body="First", client_id="1")

    with CaptureQueriesContext(connection) as queries:
        services.message_post(conversation_id=conversation.pk, author=visitor, body="Second", client_id="2")
    subscribed.events = ["message.created"]
    subscribed.save()  # forgets what it knew: the next message looks again, and is sent
    services.message_post(conversation_id=conversation.pk, author=visitor, body="Third", client_id="3")

    assert not [q for q in queries.captured_queries if "feedback_webhook" in q["sql"]]
    assert [json.loads(r.body)["message"]["body"] for r in receiver.at("/ends")] == ["Third"]


def test_admin_offers_the_events_as_checkboxes_and_filters_deliveries_by_event(desk, admin_client, receiver):  # noqa: F811
    page = admin_client.get("/admin/feedback/webhookendpoint/add/").content.decode()
    assert page.count('type="checkbox" name="events"') == len(ALL_EVENTS)

    created = admin_client.post(
        "/admin/feedback/webhookendpoint/add/",
        {
            "name": "Warehouse",
            "url": f"{receiver.url}/wh",
            "audience": "",
            "events": ["message.created"],
            "is_active": "on",
        },
    )
    neither = admin_client.post("/admin/feedback/webhookendpoint/add/", {"name": "Nothing", "url": receiver.url})

    assert created.status_code == 302
    assert WebhookEndpoint.objects.get(name="Warehouse").events == ["message.created"]
    assert "Pick an audience" in neither.content.decode()
    deliveries = admin_client.get("/admin/feedback/webhookdelivery/", {"event": "conversation.rated"})
    assert deliveries.status_code == 200


@pytest.mark.realstack
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_a_conversation_event(desk, receiver, postgres, redis_url, tmp_path):  # noqa: F811
    from config.celery import app as celery_app

    celery_app.control.purge()
    subscribed = endpoint(receiver, "ends", events=["conversation.ended"])
    visitor, _ = make_visitor(site=desk.site)
    conversation = services.conversation_start(visitor=visitor, topic_slug=None)
    env = node_environment(
        database_url=database_url(connection.settings_dict), redis_url=redis_url, channel_prefix="conv-webhook-test"
    )
    env["CONN_MAX_AGE"] = "0"
    log = tmp_path / "worker-conversation-webhooks.log"

    with celery_worker("conversation-webhooks", env, tmp_path):
        eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = False  # this test's task goes to the worker
        try:
            services.conversation_end(conversation_id=conversation.pk, ended_by=visitor)
        finally:
            celery_app.conf.task_always_eager = eager
        delivery = wait_for(
            lambda: WebhookDelivery.objects.filter(state="delivered").first(), "the delivery", log, timeout=60
        )

    [request] = receiver.at("/ends")
    expected = "sha256=" + hmac.new(subscribed.secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Helpdesk-Signature"] == expected
    assert json.loads(request.body)["conversation"]["status"] == "ended"
    assert (delivery.event, delivery.attempts) == ("conversation.ended", 1)
