"""Transcript (R18) and follow-up (R16) emails: what they say, and that each goes out once.

The Celery task runs in-process here (eager, as in the embedded default) against
Django's in-memory mail backend; tests/realstack/test_email_worker.py runs the same
task on a real worker against a real SMTP server.
"""

import smtplib
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from chat import services
from chat.emails import email_send, transcript_render
from chat.models import Conversation, Message, OutboundEmail
from chat.tasks import send_email
from config.celery import app as celery_app

from .factories import make_conversation


class FlakyBackend(LocmemBackend):
    """The in-memory backend, failing with the exceptions queued in `failures` first."""

    failures: list[Exception] = []

    def send_messages(self, email_messages):
        if FlakyBackend.failures:
            raise FlakyBackend.failures.pop(0)
        return super().send_messages(email_messages)


@pytest.fixture(autouse=True)
def in_process_mail(settings, eager_tasks):
    settings.EMAIL_BACKEND = "tests.chat.test_emails.FlakyBackend"
    settings.DEFAULT_FROM_EMAIL = "help@shop.example.com"
    settings.CHAT_FOLLOW_UP_BATCH_SECONDS = 0  # eager tasks have no countdown
    FlakyBackend.failures = []
    yield
    FlakyBackend.failures = []


@pytest.fixture
def eager_retries():
    """Eager tasks that retry in-process instead of raising `Retry` at the caller."""
    propagates = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = propagates


def post(conversation, author, body, client_id=None, note=False):
    client_id = client_id or f"c-{Message.objects.count() + 1}"
    message, _ = services.message_post(
        conversation_id=conversation.pk, author=author, body=body, client_id=client_id, note=note
    )
    return message


def answered_chat(desk, *, email="anna@example.com", transcript=True) -> Conversation:
    """A chat the visitor opened and desk.agent answered; the visitor wants its transcript."""
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    post(conversation, conversation.visitor, "My parcel never came")
    services.conversation_claim(conversation_id=conversation.pk, agent=desk.agent)
    post(conversation, desk.agent, "Sorry to hear that, let me look it up for you now.")
    if email:
        services.visitor_contact_set(
            visitor=conversation.visitor, email=email, purpose="transcript" if transcript else "offline",
            conversation_id=conversation.pk,
        )  # fmt: skip
    conversation.refresh_from_db()
    return conversation


def end(conversation):
    return services.conversation_end(conversation_id=conversation.pk, ended_by=conversation.visitor)


# --- What the transcript says ------------------------------------------------------------


def test_transcript_leaves_out_private_notes(desk):
    conversation = answered_chat(desk)
    post(conversation, desk.agent, "Customer sounds angry, refund quietly", note=True)

    _, text, html = transcript_render(conversation)

    assert "refund quietly" not in text and "refund quietly" not in html
    assert "let me look it up" in text and "let me look it up" in html


def test_transcript_escapes_what_people_wrote_in_the_html_part(desk):
    conversation = answered_chat(desk)
    post(conversation, conversation.visitor, "<script>alert(1)</script> & more")

    _, text, html = transcript_render(conversation)

    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert "<script>alert(1)</script> & more" in text


def test_transcript_names_people_and_shows_site_time(desk):
    desk.site.time_zone = "Asia/Tokyo"
    desk.site.save()
    conversation = answered_chat(desk)
    Message.objects.filter(conversation=conversation).update(created_at=datetime(2026, 3, 2, 12, 5, tzinfo=UTC))
    conversation.visitor.name = "Anna"
    conversation.visitor.save()

    subject, text, html = transcript_render(conversation)

    assert desk.site.name in subject
    assert "[21:05] Anna:" in text and f"[21:05] {desk.agent.display_name}:" in text
    assert "<strong>Anna</strong>" in html and f"<strong>{desk.agent.display_name}</strong>" in html
    assert "<em>" in html and "joined the chat" in html  # system messages in italics
    assert "Asia/Tokyo" in text


def test_an_anonymous_visitor_is_you_and_shared_links_are_listed(desk):
    conversation = answered_chat(desk)
    post(conversation, desk.agent, "This article explains it: https://help.example.com/returns.")

    _, text, html = transcript_render(conversation)

    assert "You:" in text
    assert "- https://help.example.com/returns\n" in text
    assert '<a href="https://help.example.com/returns">' in html


# --- Queued once, after the end commits ---------------------------------------------------


def test_ending_a_chat_with_a_transcript_request_sends_one_email_with_both_parts(desk):
    conversation = answered_chat(desk)

    end(conversation)
    end(conversation)

    email = OutboundEmail.objects.get()
    assert (email.kind, email.state, email.attempts, email.to_address) == ("transcript", "sent", 1, "anna@example.com")
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["anna@example.com"] and sent.reply_to == ["help@shop.example.com"]
    assert sent.extra_headers["Message-ID"] == email.message_id_header
    assert desk.site.name in sent.from_email
    assert sent.alternatives[0][1] == "text/html"
    assert "let me look it up" in sent.body


def test_no_transcript_is_queued_before_the_end_commits(desk):
    conversation = answered_chat(desk)

    with pytest.raises(RuntimeError), transaction.atomic():
        end(conversation)
        assert OutboundEmail.objects.count() == 1 and mail.outbox == []
        raise RuntimeError("the end is rolled back")

    assert OutboundEmail.objects.count() == 0 and mail.outbox == []


def test_no_transcript_without_a_request(desk):
    end(answered_chat(desk, transcript=False))

    assert OutboundEmail.objects.count() == 0 and mail.outbox == []


def test_asking_for_the_transcript_after_the_end_sends_it(desk):
    conversation = answered_chat(desk, email="")
    end(conversation)
    assert mail.outbox == []

    services.visitor_contact_set(
        visitor=conversation.visitor, email="late@example.com", purpose="transcript", conversation_id=conversation.pk
    )
    services.visitor_contact_set(
        visitor=conversation.visitor, email="late@example.com", purpose="transcript", conversation_id=conversation.pk
    )

    assert [m.to for m in mail.outbox] == [["late@example.com"]]


# --- The task: once, retried, failed --------------------------------------------------------


def test_running_the_task_twice_sends_one_email(desk):
    end(answered_chat(desk))
    email = OutboundEmail.objects.get()

    send_email.apply(args=[email.pk])
    send_email.apply(args=[email.pk])

    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert (email.state, email.attempts) == ("sent", 1)


def test_a_send_in_progress_is_left_to_its_worker_until_its_claim_is_stale(desk):
    FlakyBackend.failures = [smtplib.SMTPServerDisconnected("down")] * 6
    end(answered_chat(desk))
    email = OutboundEmail.objects.get()
    FlakyBackend.failures = []
    OutboundEmail.objects.filter(pk=email.pk).update(state="sending", claimed_at=timezone.now())

    assert email_send(email_id=email.pk).state == "sending"
    assert mail.outbox == []

    # The worker that claimed it died: once the claim is older than a send can take, it is taken over.
    OutboundEmail.objects.filter(pk=email.pk).update(claimed_at=timezone.now() - timedelta(hours=1))
    assert email_send(email_id=email.pk).state == "sent"
    assert len(mail.outbox) == 1


def test_a_temporary_smtp_failure_leaves_the_email_ready_for_the_retry(desk):
    FlakyBackend.failures = [smtplib.SMTPServerDisconnected("Connection unexpectedly closed")] * 6
    end(answered_chat(desk))
    email = OutboundEmail.objects.get()
    FlakyBackend.failures = [smtplib.SMTPServerDisconnected("Connection unexpectedly closed")]
    OutboundEmail.objects.filter(pk=email.pk).update(state="ready", attempts=0)

    with pytest.raises(smtplib.SMTPServerDisconnected):
        email_send(email_id=email.pk)
    email.refresh_from_db()
    assert (email.state, email.attempts) == ("ready", 1)
    assert "Connection unexpectedly closed" in email.last_error

    assert email_send(email_id=email.pk).state == "sent"
    assert len(mail.outbox) == 1


def test_after_the_last_retry_the_email_is_failed_with_its_error(desk, eager_retries):
    FlakyBackend.failures = [ConnectionRefusedError("refused")] * 6

    end(answered_chat(desk))  # the eager task retries five times, then gives up

    email = OutboundEmail.objects.get()
    assert (email.state, email.attempts) == ("failed", 6)
    assert "ConnectionRefusedError: refused" in email.last_error
    assert mail.outbox == []


def test_a_permanent_refusal_fails_at_once(desk):
    FlakyBackend.failures = [smtplib.SMTPRecipientsRefused({"anna@example.com": (550, b"No such user")})]

    end(answered_chat(desk))

    email = OutboundEmail.objects.get()
    assert (email.state, email.attempts) == ("failed", 1)
    assert "SMTPRecipientsRefused" in email.last_error


def test_admin_retry_sends_a_failed_email_and_leaves_others_alone(desk, eager_retries, client, django_user_model):
    FlakyBackend.failures = [ConnectionRefusedError("refused")] * 6
    end(answered_chat(desk))
    failed = OutboundEmail.objects.get()
    end(answered_chat(desk, email="bob@example.com"))
    sent = OutboundEmail.objects.exclude(pk=failed.pk).get()
    assert (failed.state, sent.state, len(mail.outbox)) == ("failed", "sent", 1)
    client.force_login(django_user_model.objects.create_superuser(username="boss", password="pw"))

    page = client.get(reverse("admin:chat_outboundemail_changelist"))
    response = client.post(
        reverse("admin:chat_outboundemail_changelist"),
        {"action": "retry_sending", "_selected_action": [failed.pk, sent.pk]},
    )

    assert page.status_code == 200 and b"refused" in page.content
    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == ("sent", 7)
    assert len(mail.outbox) == 2


# --- Follow-up answers (R16) ----------------------------------------------------------------


def follow_up_chat(desk) -> Conversation:
    conversation = answered_chat(desk, transcript=False, email="")
    services.conversation_follow_up(conversation_id=conversation.pk, agent=desk.agent, needs=True)
    services.visitor_pages_record(
        visitor=conversation.visitor, pages=[{"url": "https://shop.example.com/orders/7", "at": "x"}]
    )
    services.visitor_contact_set(
        visitor=conversation.visitor, email="anna@example.com", purpose="follow_up", conversation_id=conversation.pk
    )
    return conversation


def test_a_later_answer_in_a_follow_up_chat_is_emailed_with_a_link_back(desk):
    conversation = follow_up_chat(desk)
    assert mail.outbox == []  # the request for an email is not itself emailed

    answer = post(conversation, desk.agent, "Found it: your parcel left the depot today.", client_id="a1")
    post(conversation, desk.agent, "Found it: your parcel left the depot today.", client_id="a1")  # a resend

    email = OutboundEmail.objects.get()
    assert (email.kind, email.message_id, email.state) == ("follow_up", answer.pk, "sent")
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert "your parcel left the depot today" in sent.body
    assert "https://shop.example.com/orders/7" in sent.body
    assert 'href="https://shop.example.com/orders/7"' in sent.alternatives[0][0]
    assert answer.body in Message.objects.filter(conversation=conversation).values_list("body", flat=True)


def test_no_follow_up_email_without_the_mark_or_for_notes(desk):
    conversation = follow_up_chat(desk)
    post(conversation, desk.agent, "Checking with the warehouse", note=True)
    services.conversation_follow_up(conversation_id=conversation.pk, agent=desk.agent, needs=False)

    post(conversation, desk.agent, "Anything else I can help with today?")

    assert OutboundEmail.objects.count() == 0 and mail.outbox == []
