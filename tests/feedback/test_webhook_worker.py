"""R20 on the real stack: a real Celery worker process on the Redis broker delivers a webhook
to a real HTTP server that fails the first two times. The retries are the task's own, with
their exponential backoff (10 s, then 20 s, each with full jitter) counted down in the
worker, not run at once in-process as in tests/feedback/test_webhooks.py.
"""

import pytest
from django.db import connection, transaction

from config.celery import app as celery_app
from feedback.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from feedback.services import feedback_log
from feedback.tasks import deliver_webhook

from ..agents.factories import make_agent, make_team
from ..chat.factories import make_conversation, make_site, make_topic
from ..servers import database_url, node_environment
from ..workers import celery_worker, wait_for
from .test_webhooks import Receiver, receiver  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.realstack, pytest.mark.django_db(transaction=True)]

# Two backoffs of at most 10 s and 20 s, plus the worker's start, on a busy machine.
WAIT = 90.0


def test_a_real_worker_retries_a_failing_receiver_then_never_sends_the_delivery_again(
    receiver: Receiver,  # noqa: F811
    postgres,
    redis_url,
    tmp_path,
):
    # given a CRM endpoint whose server answers 500 twice, then 200, and a worker on Redis
    celery_app.control.purge()  # nothing left over from an interrupted run
    WebhookEndpoint.objects.create(name="CRM", url=f"{receiver.url}/crm", audience="prospect")
    receiver.fail_first = 2
    site = make_site()
    topic = make_topic(site=site)
    agent = make_agent(teams=[make_team(topics=[topic], is_default=True)])
    conversation = make_conversation(site=site, topic=topic)
    env = node_environment(
        database_url=database_url(connection.settings_dict), redis_url=redis_url, channel_prefix="webhook-test"
    )
    env["CONN_MAX_AGE"] = "0"
    log = tmp_path / "worker-webhooks.log"

    with celery_worker("webhooks", env, tmp_path):
        # when a prospect's feature request is logged (the task is queued on commit)
        with transaction.atomic():
            feedback_log(
                conversation=conversation, agent=agent, kind="feature", summary="Dark mode", quote="Dark please"
            )
        # then the worker retries until the server takes it
        delivery = wait_for(
            lambda: WebhookDelivery.objects.filter(state=WebhookDelivery.State.DELIVERED).first(),
            "the delivery to be acknowledged",
            log,
            timeout=WAIT,
        )
        # when the task runs once more for the acknowledged delivery
        deliver_webhook.delay(delivery.pk)
        wait_for(
            lambda: log.read_text(errors="replace").count("succeeded in") >= 2, "the second task", log, timeout=WAIT
        )

    # then the server got three identical, signed POSTs and nothing after the 200
    assert len(receiver.requests) == 3
    assert (
        len({(r.body, r.headers["X-Helpdesk-Signature"], r.headers["X-Helpdesk-Delivery"]) for r in receiver.requests})
        == 1
    )
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery))
    assert [(a.status_code, bool(a.error)) for a in attempts] == [(500, True), (500, True), (200, False)]
