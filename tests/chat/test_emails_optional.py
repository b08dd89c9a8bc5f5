"""Optional mail (R4, R19): the review request, only to happy customers who opted in, once
in 30 days, after the site's delay; and the unsubscribe link that withdraws consent.

The clock is moved with time-machine; the send task runs in-process (eager).
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail, signing
from django.urls import reverse

from chat import services
from chat.emails import emails_requeue, optional_mail_allowed, unsubscribe_url
from chat.models import ConsentRecord, Conversation, OutboundEmail

from .factories import make_conversation

START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
WORDING = "Yes, send me news and offers from the shop."
REVIEW_PAGE = "https://reviews.example.com/shop"


@pytest.fixture(autouse=True)
def in_process_mail(settings, eager_tasks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "help@shop.example.com"
    settings.PUBLIC_URL = "https://chat.example.com"


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def review_desk(desk):
    desk.site.review_url = REVIEW_PAGE
    desk.site.review_delay_hours = 24
    desk.site.save()
    return desk


def rated_chat(
    desk, *, rating=5, customer=True, consent=True, email="anna@example.com", visitor=None, end=True
) -> Conversation:
    """A chat desk.agent answered, ended and rated by a (customer) visitor with an email."""
    conversation = make_conversation(site=desk.site, topic=desk.topic, visitor=visitor)
    conversation.visitor.is_customer = customer
    conversation.visitor.save()
    services.message_post(
        conversation_id=conversation.pk, author=conversation.visitor, body="Can I change my order?", client_id="v1"
    )
    services.conversation_claim(conversation_id=conversation.pk, agent=desk.agent)
    services.message_post(conversation_id=conversation.pk, author=desk.agent, body="Done, changed.", client_id="a1")
    services.visitor_contact_set(
        visitor=conversation.visitor, email=email, purpose="follow_up", marketing_consent=consent,
        consent_wording=WORDING if consent else "",
    )  # fmt: skip
    if end:
        services.conversation_end(conversation_id=conversation.pk, ended_by=conversation.visitor)
    if rating is not None:
        services.conversation_rate(conversation_id=conversation.pk, visitor=conversation.visitor, rating=rating)
    conversation.refresh_from_db()
    return conversation


def review_requests():
    return OutboundEmail.objects.filter(kind=OutboundEmail.Kind.REVIEW_REQUEST)


# --- Who is asked, and when -----------------------------------------------------------------


def test_a_happy_customer_is_asked_for_a_review_once_the_sites_delay_has_passed(review_desk, clock):
    rated_chat(review_desk)

    request = review_requests().get()
    assert (request.state, request.to_address, request.send_after) == (
        "ready",
        "anna@example.com",
        START + timedelta(hours=24),
    )
    assert emails_requeue() == 0 and mail.outbox == []

    clock.move_to(START + timedelta(hours=23, minutes=59))
    assert emails_requeue() == 0 and mail.outbox == []

    clock.move_to(START + timedelta(hours=24, seconds=1))
    assert emails_requeue() == 1
    assert emails_requeue() == 0

    request.refresh_from_db()
    assert (request.state, request.attempts) == ("sent", 1)
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["anna@example.com"]
    assert REVIEW_PAGE in sent.body and f'href="{REVIEW_PAGE}"' in sent.alternatives[0][0]
    assert sent.extra_headers["List-Unsubscribe"].startswith("<https://chat.example.com/email/unsubscribe/")


def test_a_chat_rated_before_it_ended_is_asked_when_it_ends(review_desk, clock):
    conversation = rated_chat(review_desk, end=False)
    assert not review_requests().exists()

    services.conversation_end(conversation_id=conversation.pk, ended_by=conversation.visitor)

    assert review_requests().get().send_after == START + timedelta(hours=24)


@pytest.mark.parametrize(
    ("why", "chat"),
    [
        ("a low rating", {"rating": 3}),
        ("no rating", {"rating": None}),
        ("a first-time visitor, not a customer", {"customer": False}),
        ("no marketing consent (R4)", {"consent": False}),
    ],
)
def test_no_review_request_for(review_desk, clock, why, chat):
    rated_chat(review_desk, **chat)
    clock.move_to(START + timedelta(days=2))

    emails_requeue()

    assert not review_requests().exists(), why
    assert mail.outbox == []


def test_no_review_request_from_a_site_without_a_review_page(desk, clock):
    rated_chat(desk)

    assert not review_requests().exists()


def test_a_rating_lowered_before_the_request_is_due_cancels_it(review_desk, clock):
    conversation = rated_chat(review_desk)
    services.conversation_rate(conversation_id=conversation.pk, visitor=conversation.visitor, rating=2)
    clock.move_to(START + timedelta(days=1, minutes=1))

    emails_requeue()

    request = review_requests().get()
    assert request.state == "cancelled" and "not rated well" in request.last_error
    assert mail.outbox == []


def test_an_address_is_asked_at_most_once_in_30_days(review_desk, clock):
    first = rated_chat(review_desk)
    clock.move_to(START + timedelta(days=1, minutes=1))
    emails_requeue()
    assert len(mail.outbox) == 1

    clock.move_to(START + timedelta(days=20))
    rated_chat(review_desk, visitor=first.visitor)  # another happy chat, same address
    rated_chat(review_desk, email="ANNA@example.com")  # another browser, same address
    assert review_requests().count() == 1

    clock.move_to(START + timedelta(days=32))
    third = rated_chat(review_desk, visitor=first.visitor)
    assert review_requests().filter(conversation=third).exists()


# --- Unsubscribing ---------------------------------------------------------------------------


def link_of(conversation):
    return unsubscribe_url(visitor_id=conversation.visitor_id, address=conversation.visitor.email)


def test_the_unsubscribe_page_asks_first_then_unsubscribes_without_javascript(review_desk, client, clock):
    conversation = rated_chat(review_desk)
    url = link_of(conversation)

    page = client.get(url)
    assert page.status_code == 200
    assert b"<script" not in page.content and b'<form method="post">' in page.content
    assert b"anna@example.com" in page.content
    assert ConsentRecord.objects.filter(given=False).count() == 0  # a link scanner's GET changes nothing

    done = client.post(url)
    again = client.post(url)

    assert done.status_code == again.status_code == 200 and b"You are unsubscribed" in done.content
    withdrawn = ConsentRecord.objects.get(given=False)
    assert (withdrawn.email, withdrawn.kind, withdrawn.source) == ("anna@example.com", "marketing", "unsubscribe_page")
    assert withdrawn.recorded_at == START and review_desk.site.name in withdrawn.wording


def test_an_unsubscribed_address_gets_no_review_request_even_one_already_planned(review_desk, client, clock):
    conversation = rated_chat(review_desk)
    assert review_requests().get().state == "ready"

    client.post(link_of(conversation))
    clock.move_to(START + timedelta(days=1, minutes=1))
    emails_requeue()
    later = rated_chat(review_desk, rating=5, consent=False, visitor=conversation.visitor)

    assert review_requests().get().state == "cancelled"
    assert not review_requests().filter(conversation=later).exists()
    assert mail.outbox == []


def test_ticking_the_box_again_after_unsubscribing_counts(review_desk, client, clock):
    conversation = rated_chat(review_desk)
    client.post(link_of(conversation))
    clock.move_to(START + timedelta(minutes=5))

    rated_chat(review_desk, visitor=conversation.visitor, consent=True)
    clock.move_to(START + timedelta(days=1, minutes=1))
    emails_requeue()

    assert [c.given for c in ConsentRecord.objects.order_by("recorded_at", "pk")] == [True, False, True]
    assert optional_mail_allowed(site_id=review_desk.site.pk, address="anna@example.com")
    assert review_requests().filter(state="sent").count() == 1 and len(mail.outbox) == 1


def test_a_mail_clients_one_click_post_unsubscribes(review_desk, client):
    conversation = rated_chat(review_desk)

    response = client.post(
        link_of(conversation), data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    assert ConsentRecord.objects.get(given=False).source == "one_click"


@pytest.mark.parametrize("token", ["nonsense", signing.dumps({"v": 1, "a": "x@example.com"}, salt="other")])
def test_a_damaged_or_forged_unsubscribe_link_is_refused_clearly(review_desk, client, token):
    response = client.post(reverse("chat:unsubscribe", args=[token]))

    assert response.status_code == 400 and b"not valid" in response.content
    assert not ConsentRecord.objects.filter(given=False).exists()
