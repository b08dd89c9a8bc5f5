"""R18 on the real stack: a real Celery worker process on the Redis broker sends the
transcript to a real SMTP server (aiosmtpd, in a thread of this process), once, even
when the worker is SIGKILLed half-way through the send; a review request (R19) queued by
the beat sweep once it is due; an email whose task message was lost, sent by the sweep.

The workers use tests/realstack/email_worker_settings.py: the real settings, with a
killed worker's task handed on after seconds instead of an hour.
"""

import os
import signal
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from chat import services
from chat.emails import emails_requeue
from chat.models import Conversation, OutboundEmail, Visitor
from config.celery import app as celery_app

from ..agents.factories import make_agent, make_team
from ..chat.factories import make_conversation, make_site, make_topic
from ..mailserver import Mailbox, smtp_server
from ..servers import database_url, node_environment
from ..workers import WAIT, celery_worker, wait_for

pytestmark = [pytest.mark.realstack, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def worker_env(postgres, redis_url, mailbox) -> dict[str, str]:
    # Tasks left in the broker by an earlier, interrupted run must not reach these workers.
    celery_app.control.purge()
    env = node_environment(
        database_url=database_url(connection.settings_dict), redis_url=redis_url, channel_prefix="email-test"
    )
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.realstack.email_worker_settings",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(mailbox[1]),
            "DEFAULT_FROM_EMAIL": "help@shop.example.com",
            "CONN_MAX_AGE": "0",
        }
    )
    return env


def chat_wanting_transcript() -> Conversation:
    """An answered chat whose visitor asked for the transcript."""
    site = make_site()
    topic = make_topic(site=site)
    agent = make_agent(teams=[make_team(topics=[topic], is_default=True)])
    conversation = make_conversation(site=site, topic=topic)
    services.message_post(
        conversation_id=conversation.pk, author=conversation.visitor, body="Where is my parcel?", client_id="v1"
    )
    services.conversation_claim(conversation_id=conversation.pk, agent=agent)
    services.message_post(
        conversation_id=conversation.pk, author=agent, body="It left the depot this morning.", client_id="a1"
    )
    services.visitor_contact_set(
        visitor=conversation.visitor, email="anna@example.com", purpose="transcript", conversation_id=conversation.pk
    )
    return conversation


def end(conversation: Conversation) -> None:
    services.conversation_end(conversation_id=conversation.pk, ended_by=conversation.visitor)


def sent_row() -> OutboundEmail | None:
    return OutboundEmail.objects.filter(state=OutboundEmail.State.SENT).first()


def test_ended_chat_transcript_reaches_the_smtp_server_once_with_both_parts(mailbox, worker_env, tmp_path):
    smtp, _ = mailbox
    conversation = chat_wanting_transcript()

    with celery_worker("one", worker_env, tmp_path):
        end(conversation)
        row = wait_for(sent_row, "the transcript to be sent", tmp_path / "worker-one.log")
        time.sleep(1)  # room for a second copy, were there one

    assert row.kind == "transcript" and row.attempts == 1 and row.sent_at is not None
    assert len(smtp.delivered) == 1
    message = smtp.delivered[0]
    assert message["Message-ID"] == row.message_id_header
    assert message["To"] == "anna@example.com" and message["Reply-To"] == "help@shop.example.com"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and "It left the depot this morning." in plain.get_content()
    assert html is not None and "It left the depot this morning." in html.get_content()


def test_worker_killed_during_the_send_ends_with_exactly_one_delivered_email(mailbox, worker_env, tmp_path):
    smtp, _ = mailbox
    conversation = chat_wanting_transcript()
    smtp.hold_next_answer = 60.0  # the first DATA gets no answer until the worker is gone

    with celery_worker("doomed", worker_env, tmp_path) as doomed:
        end(conversation)
        assert smtp.data_arrived.wait(WAIT), (tmp_path / "worker-doomed.log").read_text()
        claimed = OutboundEmail.objects.get()
        assert (claimed.state, claimed.attempts) == ("sending", 1)
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=10)
    wait_for(lambda: smtp.abandoned, "the SMTP server to see the client go")
    assert smtp.delivered == []

    with celery_worker("rescuer", worker_env, tmp_path):
        row = wait_for(sent_row, "the second worker to send the transcript", tmp_path / "worker-rescuer.log")
        time.sleep(1)

    assert row.attempts == 2
    assert smtp.abandoned == [row.message_id_header]
    assert [str(message["Message-ID"]) for message in smtp.delivered] == [row.message_id_header]


def test_a_due_review_request_goes_from_the_sweep_to_a_real_worker_once(mailbox, worker_env, tmp_path):
    smtp, _ = mailbox
    conversation = chat_wanting_transcript()
    site = conversation.site
    site.review_url, site.review_delay_hours, site.email_reply_to = "https://reviews.example.com/s", 0, "care@s.example"
    site.save()
    Visitor.objects.filter(pk=conversation.visitor_id).update(is_customer=True)
    services.visitor_contact_set(
        visitor=conversation.visitor, email="anna@example.com", purpose="follow_up", marketing_consent=True,
        consent_wording="Send me news from the shop.",
    )  # fmt: skip

    with celery_worker("reviews", worker_env, tmp_path):
        end(conversation)
        services.conversation_rate(conversation_id=conversation.pk, visitor=conversation.visitor, rating=5)
        wait_for(lambda: len(smtp.delivered) == 1, "the transcript", tmp_path / "worker-reviews.log")
        review = OutboundEmail.objects.get(kind="review_request")
        assert (review.state, review.enqueued_at) == ("ready", None)  # waits for the sweep, not a task

        assert emails_requeue() == 1
        assert emails_requeue() == 0  # queued once
        wait_for(lambda: len(smtp.delivered) == 2, "the review request", tmp_path / "worker-reviews.log")
        time.sleep(1)

    review.refresh_from_db()
    assert (review.state, review.attempts) == ("sent", 1)
    assert len(smtp.delivered) == 2
    message = smtp.delivered[1]
    assert message["Message-ID"] == review.message_id_header and message["Reply-To"] == "care@s.example"
    assert "/email/unsubscribe/" in message["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and "https://reviews.example.com/s" in plain.get_content()
    assert html is not None and 'href="https://reviews.example.com/s"' in html.get_content()


def test_an_email_whose_task_message_was_lost_is_sent_by_the_sweep(mailbox, worker_env, tmp_path):
    smtp, _ = mailbox
    conversation = chat_wanting_transcript()
    end(conversation)  # no worker yet: the task waits in Redis...
    celery_app.control.purge()  # ...and is lost

    with celery_worker("sweeper", worker_env, tmp_path):
        time.sleep(1)
        assert smtp.delivered == [] and OutboundEmail.objects.get().state == "ready"
        assert emails_requeue() == 0  # a task may still be on its way for a minute
        assert emails_requeue(now=timezone.now() + timedelta(minutes=2)) == 1
        row = wait_for(sent_row, "the swept email to be sent", tmp_path / "worker-sweeper.log")
        time.sleep(1)

    assert row.attempts == 1
    assert [str(message["Message-ID"]) for message in smtp.delivered] == [row.message_id_header]
