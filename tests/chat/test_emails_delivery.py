"""How emails go out: read back from a real SMTP server (aiosmtpd), with the site's
name and reply-to and the RFC 8058 unsubscribe headers; picked up again when the broker
was down or a task was lost; follow-up answers given close together sent as one email.

The send task runs in-process (eager) unless a test says otherwise.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from chat import services
from chat.emails import emails_requeue
from chat.models import Conversation, Message, OutboundEmail
from chat.tasks import send_email
from config.celery import app as celery_app

from ..mailserver import Mailbox, smtp_server
from ..servers import free_port
from .factories import make_conversation

START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def in_process_mail(settings, eager_tasks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "Helpdesk <help@helpdesk.example.net>"
    settings.PUBLIC_URL = "https://chat.example.com"
    settings.CHAT_FOLLOW_UP_BATCH_SECONDS = 0


@pytest.fixture
def mailbox(settings) -> Iterator[Mailbox]:
    with smtp_server() as (box, port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        yield box


@pytest.fixture
def broker_down(settings):
    """Celery publishing to a broker nobody listens on: a real refused connection."""
    conf = celery_app.conf
    saved = conf.broker_url, conf.task_always_eager
    conf.broker_url, conf.task_always_eager = f"redis://127.0.0.1:{free_port()}/0", False
    forget_broker_connections()
    yield
    conf.broker_url, conf.task_always_eager = saved
    forget_broker_connections()


def forget_broker_connections() -> None:
    # Celery keeps its connection and producer pools; the next task must use the current URL.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def post(conversation, author, body, *, note=False):
    message, _ = services.message_post(
        conversation_id=conversation.pk, author=author, body=body, client_id=f"c-{Message.objects.count() + 1}",
        note=note,
    )  # fmt: skip
    return message


def answered_chat(desk, *, email="anna@example.com") -> Conversation:
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    conversation.visitor.name = "Anna"
    conversation.visitor.save()
    post(conversation, conversation.visitor, "My parcel never came")
    services.conversation_claim(conversation_id=conversation.pk, agent=desk.agent)
    post(conversation, desk.agent, "Sorry! See https://help.example.com/parcels for what happens next.")
    post(conversation, desk.agent, "Angry customer, offer 10% at most", note=True)
    services.visitor_contact_set(
        visitor=conversation.visitor, email=email, purpose="transcript", conversation_id=conversation.pk
    )
    return conversation


def end(conversation):
    services.conversation_end(conversation_id=conversation.pk, ended_by=conversation.visitor)


# --- What arrives at the SMTP server ---------------------------------------------------------


def test_the_transcript_arrives_in_the_sites_name_with_its_reply_to_and_unsubscribe_headers(desk, mailbox, client):
    desk.site.email_from_name = "Parcel Shop Support"
    desk.site.email_reply_to = "care@parcelshop.example.com"
    desk.site.save()

    end(answered_chat(desk))

    row = OutboundEmail.objects.get()
    assert len(mailbox.delivered) == 1
    message = mailbox.delivered[0]
    assert message["Message-ID"] == row.message_id_header
    assert message["From"] == "Parcel Shop Support <help@helpdesk.example.net>"
    assert message["Reply-To"] == "care@parcelshop.example.com"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = message["List-Unsubscribe"].strip().strip("<>")  # a long header may be folded
    assert link.startswith("https://chat.example.com/email/unsubscribe/")
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    plain, html = message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()
    for part in (plain, html):
        assert "Anna" in part and desk.agent.display_name in part and "My parcel never came" in part
        assert "https://help.example.com/parcels" in part and "care@parcelshop.example.com" in part
        assert "offer 10%" not in part
        assert link in part
    assert client.get(link.removeprefix("https://chat.example.com")).status_code == 200


def test_without_a_site_reply_to_the_default_address_answers(desk, mailbox):
    end(answered_chat(desk))

    message = mailbox.delivered[0]
    assert message["Reply-To"] == "help@helpdesk.example.net"
    assert message["From"] == f"{desk.site.name} <help@helpdesk.example.net>"


# --- Nothing is lost when the broker or a task is -----------------------------------------------


def test_a_broker_down_at_the_end_neither_fails_the_chat_nor_loses_the_email(desk, broker_down, caplog):
    conversation = answered_chat(desk)

    end(conversation)  # the broker refuses the task: logged, not raised

    conversation.refresh_from_db()
    assert conversation.status == "ended"
    row = OutboundEmail.objects.get()
    assert row.state == "ready" and mail.outbox == []
    assert "the requeue sweep will send it" in caplog.text


def test_the_sweep_sends_an_email_whose_task_was_lost(desk):
    with time_machine.travel(START, tick=False) as clock:
        conversation = answered_chat(desk)
        # A row whose task never reached a worker (no task is queued for it here).
        OutboundEmail.objects.create(
            kind=OutboundEmail.Kind.TRANSCRIPT, conversation=conversation, to_address="anna@example.com",
            subject="Your chat", message_id_header="<lost@helpdesk.example.net>", enqueued_at=START,
        )  # fmt: skip
        assert emails_requeue() == 0  # its task may still be on its way

        clock.move_to(START + timedelta(minutes=1, seconds=1))
        assert emails_requeue() == 1

    row = OutboundEmail.objects.get()
    assert (row.state, row.attempts) == ("sent", 1)
    assert [m.extra_headers["Message-ID"] for m in mail.outbox] == ["<lost@helpdesk.example.net>"]


def test_the_sweep_takes_over_a_send_whose_worker_died_but_not_one_in_progress(desk, settings):
    settings.CHAT_EMAIL_CLAIM_TIMEOUT = 300
    conversation = answered_chat(desk)
    now = timezone.now()
    common = {"kind": "transcript", "to_address": "anna@example.com", "subject": "Your chat", "enqueued_at": now}
    live = OutboundEmail.objects.create(
        conversation=conversation, message_id_header="<live@x>", state="sending", attempts=1,
        claimed_at=now - timedelta(seconds=30), **common,
    )  # fmt: skip
    dead = OutboundEmail.objects.create(
        conversation=make_conversation(site=desk.site), message_id_header="<dead@x>", state="sending", attempts=1,
        claimed_at=now - timedelta(minutes=10), **common,
    )  # fmt: skip

    assert emails_requeue(now=now + timedelta(minutes=2)) == 1

    live.refresh_from_db()
    dead.refresh_from_db()
    assert (live.state, dead.state, dead.attempts) == ("sending", "sent", 2)


def test_an_email_waiting_for_its_retry_is_not_sent_early(desk):
    conversation = answered_chat(desk)
    now = timezone.now()
    OutboundEmail.objects.create(
        kind="transcript", conversation=conversation, to_address="anna@example.com", subject="Your chat",
        message_id_header="<retry@x>", state="ready", attempts=1, claimed_at=now, enqueued_at=now,
        last_error="SMTPServerDisconnected: down",
    )  # fmt: skip

    assert emails_requeue(now=now + timedelta(minutes=5)) == 0
    assert emails_requeue(now=now + timedelta(minutes=12)) == 1  # the retry itself was lost
    assert mail.outbox != []


# --- Follow-up answers, batched (R16) ------------------------------------------------------------


def follow_up_chat(desk) -> Conversation:
    conversation = answered_chat(desk)
    services.conversation_follow_up(conversation_id=conversation.pk, agent=desk.agent, needs=True)
    services.visitor_pages_record(
        visitor=conversation.visitor, pages=[{"url": "https://shop.example.com/orders/7", "at": "x"}]
    )
    return conversation


def test_answers_given_within_the_window_go_out_as_one_email_with_the_way_back(desk, settings):
    settings.CHAT_FOLLOW_UP_BATCH_SECONDS = 60
    conversation = follow_up_chat(desk)
    with time_machine.travel(START, tick=False) as clock:
        first = post(conversation, desk.agent, "Found it: it is at the depot.")
        clock.move_to(START + timedelta(seconds=20))
        post(conversation, desk.agent, "Checking with the courier", note=True)
        post(conversation, desk.agent, "It will be delivered tomorrow before noon.")
        assert mail.outbox == []  # the eager task came too early and left it for later

        clock.move_to(START + timedelta(seconds=61))
        row = OutboundEmail.objects.get(kind="follow_up")
        send_email.apply(args=[row.pk])  # the task, at its countdown
        post(conversation, desk.agent, "Anything else?")

    rows = list(OutboundEmail.objects.filter(kind="follow_up").order_by("pk"))
    assert [(r.message_id, r.state) for r in rows] == [(first.pk, "sent"), (rows[1].message_id, "ready")]
    assert len(mail.outbox) == 1
    body, html = mail.outbox[0].body, mail.outbox[0].alternatives[0][0]
    assert "at the depot" in body and "tomorrow before noon" in body and "Anything else" not in body
    assert "courier" not in body and "courier" not in html
    assert "https://shop.example.com/orders/7" in body and 'href="https://shop.example.com/orders/7"' in html


def test_without_a_window_each_answer_after_the_claim_is_its_own_email(desk):
    conversation = follow_up_chat(desk)

    post(conversation, desk.agent, "First answer.")
    post(conversation, desk.agent, "Second answer.")

    assert [("First" in m.body, "Second" in m.body) for m in mail.outbox] == [(True, False), (False, True)]


def test_the_console_links_staff_to_the_last_transcript_as_emailed(desk, client):
    end(answered_chat(desk))
    desk.agent.user.is_staff = True
    desk.agent.user.save()
    client.force_login(desk.agent.user)

    console = client.get(reverse("agents:console"))
    page = client.get(reverse("chat:last_transcript"))

    assert f'href="{reverse("chat:last_transcript")}"'.encode() in console.content
    assert page.status_code == 200 and b"My parcel never came" in page.content and b"offer 10%" not in page.content
    assert "default-src 'none'" in page["Content-Security-Policy"]


def test_the_last_transcript_is_for_staff_only(desk, client):
    end(answered_chat(desk))
    client.force_login(desk.agent.user)

    assert client.get(reverse("chat:last_transcript")).status_code == 302  # to the admin login
    assert f'href="{reverse("chat:last_transcript")}"'.encode() not in client.get(reverse("agents:console")).content
