"""R20 outbound webhooks, against a real HTTP server on 127.0.0.1 in a thread.

The Celery task runs in-process (eager, as in the embedded default) even when REDIS_URL
is set. Retries are those of the real task: with `task_eager_propagates` off (the
`eager_retries` fixture) Celery runs each retry at once in-process instead of after the
backoff, so a server failing twice sees three POSTs within the test.
"""

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from chat.models import Conversation
from config.celery import app as celery_app
from feedback.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from feedback.services import feedback_log
from feedback.tasks import deliver_webhook
from feedback.webhooks import WebhookRetryableError, webhook_deliver

from ..chat.factories import make_conversation, make_visitor
from ..servers import free_port

pytestmark = pytest.mark.usefixtures("eager_tasks")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the server got, and how it answers: `fail_first` times `fail_status`, then 200."""

    url: str
    requests: list[Received] = field(default_factory=list)
    fail_first: int = 0
    fail_status: int = 500
    lock: threading.Lock = field(default_factory=threading.Lock)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    port = free_port()
    state = Receiver(url=f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.requests.append(Received(self.path, dict(self.headers.items()), body))
                failing = state.fail_first > 0
                if failing:
                    state.fail_first -= 1
            status = state.fail_status if failing else 200
            answer = b"receiver says no" if failing else b"ok"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def eager_retries():
    """Eager tasks that retry in-process instead of raising `Retry` at the caller."""
    propagates = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = propagates


@pytest.fixture
def endpoints(receiver) -> tuple[WebhookEndpoint, WebhookEndpoint]:
    crm = WebhookEndpoint.objects.create(name="CRM", url=f"{receiver.url}/crm", audience="prospect")
    product = WebhookEndpoint.objects.create(name="Product", url=f"{receiver.url}/product", audience="customer")
    return crm, product


def chat(desk, *, customer: bool) -> Conversation:
    visitor, _ = make_visitor(site=desk.site)
    visitor.is_customer = customer
    visitor.save()
    return make_conversation(site=desk.site, visitor=visitor, topic=desk.topic)


def log(desk, *, customer: bool, summary: str = "Dark mode", merge_into=None):
    return feedback_log(
        conversation=chat(desk, customer=customer), agent=desk.agent, kind="feature", summary=summary,
        quote="I'd love it", merge_into=merge_into,
    )  # fmt: skip


def test_a_new_item_is_posted_signed_to_the_endpoint_of_its_audience(desk, receiver, endpoints):
    crm, product = endpoints

    mention = log(desk, customer=False)

    [request] = receiver.requests
    delivery = WebhookDelivery.objects.get()
    assert request.path == "/crm"
    assert (delivery.endpoint, delivery.state, delivery.attempts, delivery.last_status_code) == (
        crm, "delivered", 1, 200
    )  # fmt: skip
    assert delivery.delivered_at is not None
    # the receiver verifies the raw body with the endpoint's secret
    expected = "sha256=" + hmac.new(crm.secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Helpdesk-Signature"], expected)
    wrong = "sha256=" + hmac.new(product.secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Helpdesk-Signature"] != wrong
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Helpdesk-Event"] == "item.created"
    assert request.headers["X-Helpdesk-Delivery"] == str(delivery.pk)
    payload = json.loads(request.body)
    assert payload["event"] == "item.created"
    assert payload["item"]["id"] == mention.item_id and payload["item"]["source"] == "prospect"
    assert payload["item"]["summary"] == "Dark mode"
    assert payload["mention"]["id"] == mention.pk and payload["mention"]["quote"] == "I'd love it"
    [attempt] = WebhookAttempt.objects.all()
    assert (attempt.delivery, attempt.status_code, attempt.error) == (delivery, 200, "")


def test_customers_go_to_the_product_endpoint_and_repeats_as_mentions(desk, receiver, endpoints):
    _, product = endpoints
    WebhookEndpoint.objects.create(name="Off", url=f"{receiver.url}/off", audience="customer", is_active=False)

    first = log(desk, customer=True, summary="Export as PDF")
    second = log(desk, customer=True, merge_into=first.item)

    assert [(r.path, r.headers["X-Helpdesk-Event"]) for r in receiver.requests] == [
        ("/product", "item.created"),
        ("/product", "mention.created"),
    ]
    mention_payload = json.loads(receiver.requests[1].body)
    assert mention_payload["mention"]["id"] == second.pk and mention_payload["item"]["mentions_total"] == 2
    assert set(WebhookDelivery.objects.values_list("endpoint", "state")) == {(product.pk, "delivered")}


def test_no_endpoint_no_delivery_and_a_double_submit_sends_once(desk, receiver):
    mention = log(desk, customer=True)
    assert WebhookDelivery.objects.count() == 0

    WebhookEndpoint.objects.create(name="Product", url=f"{receiver.url}/product", audience="customer")
    again = feedback_log(
        conversation=mention.conversation, agent=desk.agent, kind="feature", summary="", quote="x",
        merge_into=mention.item,
    )  # fmt: skip
    assert again.pk == mention.pk
    assert WebhookDelivery.objects.count() == 0 and receiver.requests == []


def test_nothing_is_queued_or_sent_when_the_feedback_is_rolled_back(desk, receiver, endpoints):
    with pytest.raises(RuntimeError), transaction.atomic():
        log(desk, customer=False)
        assert WebhookDelivery.objects.count() == 1
        raise RuntimeError("rolled back")

    assert WebhookDelivery.objects.count() == 0 and receiver.requests == []


def test_a_server_failing_twice_gets_three_attempts_and_one_delivery(desk, receiver, endpoints, eager_retries):
    receiver.fail_first = 2

    log(desk, customer=False)  # the eager task retries twice in-process

    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "delivered", 3, 200, ""
    )  # fmt: skip
    attempts = list(delivery.attempt_log.values_list("status_code", "error"))
    assert attempts == [
        (500, "HTTP 500 Internal Server Error: receiver says no"),
        (500, "HTTP 500 Internal Server Error: receiver says no"),
        (200, ""),
    ]
    # every attempt is the same delivery, byte for byte, for the receiver to dedupe
    assert len(receiver.requests) == 3
    assert (
        len({(r.headers["X-Helpdesk-Delivery"], r.headers["X-Helpdesk-Signature"], r.body) for r in receiver.requests})
        == 1
    )

    # once acknowledged, running the task again sends nothing
    deliver_webhook.delay(delivery.pk)
    assert webhook_deliver(delivery_id=delivery.pk).state == "delivered"
    assert len(receiver.requests) == 3
    assert WebhookAttempt.objects.count() == 3
    delivery.refresh_from_db()
    assert delivery.attempts == 3


def test_a_temporary_failure_leaves_the_delivery_ready_for_the_retry(desk, receiver, endpoints):
    receiver.fail_first = 10
    log(desk, customer=False)  # the first try fails; the feedback is logged all the same
    delivery = WebhookDelivery.objects.get()
    receiver.fail_first, receiver.fail_status = 1, 503

    with pytest.raises(WebhookRetryableError, match="503"):
        webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("ready", 2, 503)

    assert webhook_deliver(delivery_id=delivery.pk).state == "delivered"
    assert len(receiver.requests) == 3


def test_a_400_fails_at_once_without_retry(desk, receiver, endpoints, eager_retries):
    receiver.fail_first, receiver.fail_status = 10, 400

    log(desk, customer=False)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("failed", 1, 400)
    assert "HTTP 400" in delivery.last_error
    assert len(receiver.requests) == 1


def test_429_is_retried(desk, receiver, endpoints, eager_retries):
    receiver.fail_first, receiver.fail_status = 1, 429

    log(desk, customer=False)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == ("delivered", 2)


def test_after_the_last_retry_the_delivery_is_failed(desk, receiver, endpoints, eager_retries):
    receiver.fail_first = 100

    log(desk, customer=False)  # one try and six retries

    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("failed", 7, 500)
    assert WebhookAttempt.objects.count() == 7 and len(receiver.requests) == 7


def test_a_receiver_that_is_down_is_a_connection_error_to_retry(desk):
    WebhookEndpoint.objects.create(name="CRM", url=f"http://127.0.0.1:{free_port()}/crm", audience="prospect")
    log(desk, customer=False)

    delivery = WebhookDelivery.objects.get()
    [attempt] = delivery.attempt_log.all()
    assert (delivery.state, attempt.status_code) == ("ready", None)
    assert "ConnectionRefusedError" in attempt.error and attempt.error == delivery.last_error


def test_a_delivery_in_progress_is_left_to_its_worker_until_its_claim_is_stale(desk, receiver, endpoints, settings):
    receiver.fail_first = 10
    log(desk, customer=False)
    receiver.fail_first = 0
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(state="sending", claimed_at=timezone.now())
    settings.FEEDBACK_WEBHOOK_CLAIM_TIMEOUT = 60

    assert webhook_deliver(delivery_id=delivery.pk).state == "sending"
    assert len(receiver.requests) == 1

    WebhookDelivery.objects.filter(pk=delivery.pk).update(claimed_at=timezone.now() - timezone.timedelta(minutes=2))
    assert webhook_deliver(delivery_id=delivery.pk).state == "delivered"
    assert len(receiver.requests) == 2


def test_admin_shows_the_secret_read_only_and_retries_a_failed_delivery(
    desk, receiver, endpoints, eager_retries, client, django_user_model
):
    crm, _ = endpoints
    receiver.fail_first, receiver.fail_status = 1, 410
    log(desk, customer=False)
    failed = WebhookDelivery.objects.get()
    log(desk, customer=False, summary="Gift cards")
    delivered = WebhookDelivery.objects.exclude(pk=failed.pk).get()
    assert (failed.state, delivered.state) == ("failed", "delivered")
    client.force_login(django_user_model.objects.create_superuser(username="boss", password="pw"))

    endpoint_page = client.get(reverse("admin:feedback_webhookendpoint_change", args=[crm.pk]))
    list_page = client.get(reverse("admin:feedback_webhookdelivery_changelist") + "?state__exact=failed")
    detail = client.get(reverse("admin:feedback_webhookdelivery_change", args=[failed.pk]))
    response = client.post(
        reverse("admin:feedback_webhookdelivery_changelist"),
        {"action": "retry_delivery", "_selected_action": [failed.pk, delivered.pk]},
    )

    assert endpoint_page.status_code == 200
    assert crm.secret.encode() in endpoint_page.content and b'name="secret"' not in endpoint_page.content
    assert list_page.status_code == 200 and f">{failed.pk}<".encode() in list_page.content
    assert detail.status_code == 200 and b"HTTP 410" in detail.content
    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == ("delivered", 2)
    assert len(receiver.requests) == 3
