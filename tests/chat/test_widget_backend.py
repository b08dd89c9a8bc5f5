"""R1-R4, R6, R19 on the server: availability, the waiting told, contact and consent,
ratings, the widget's config endpoint and triggers."""

import datetime as dt
import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from agents.models import Agent
from chat import services
from chat.availability import site_availability, site_local_now
from chat.errors import ChatError
from chat.models import ConsentRecord, Conversation, Holiday, Message, OpeningHours, Trigger, TriggerFiring
from chat.realtime import visitor_group
from chat.selectors import triggers_for_browser

from .factories import ORIGIN, make_conversation, make_visitor
from .sockets import open_visitor, start_and_send

MONDAY_NOON_UTC = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def everyone(status="online", seen=True):
    Agent.objects.update(status=status, last_seen_at=timezone.now() if seen else None)


def test_availability_follows_hours_holidays_and_presence(desk):
    desk.site.time_zone = "Asia/Tokyo"  # 21:00 there on Monday noon UTC
    desk.site.save()
    OpeningHours.objects.create(site=desk.site, weekday=0, opens=dt.time(9), closes=dt.time(22))

    assert site_availability(desk.site, MONDAY_NOON_UTC).state == "online"
    assert site_availability(desk.site, MONDAY_NOON_UTC + timedelta(hours=2)).state == "closed"
    Holiday.objects.create(site=desk.site, date=dt.date(2026, 11, 23), name="Labour Thanksgiving")
    assert site_availability(desk.site, MONDAY_NOON_UTC).state == "closed"


def test_availability_never_says_online_when_nobody_is(desk):
    assert site_availability(desk.site).state == "online"
    everyone(status="away")
    assert site_availability(desk.site).state == "offline"
    everyone(status="online", seen=False)
    assert site_availability(desk.site).state == "offline"
    everyone()
    Agent.objects.update(max_chats=0)
    assert site_availability(desk.site).state == "busy"


def post_first(conversation, body="Hello"):
    return services.message_post(conversation_id=conversation.pk, author=conversation.visitor, body=body, client_id="c")


def test_first_message_when_all_busy_is_answered_with_place_in_queue(desk):
    Agent.objects.update(max_chats=0)
    first = make_conversation(site=desk.site, topic=desk.topic)
    second = make_conversation(site=desk.site, topic=desk.topic)
    post_first(first)

    post_first(second)
    services.message_post(conversation_id=second.pk, author=second.visitor, body="Still there?", client_id="c2")

    greetings = list(Message.objects.filter(conversation=second, sender="system").values_list("body", flat=True))
    assert len(greetings) == 1 and "number 2 in the queue" in greetings[0]


def test_first_message_when_nobody_is_there_offers_email(desk):
    everyone(status="offline", seen=False)
    conversation = make_conversation(site=desk.site, topic=desk.topic)

    post_first(conversation)

    (greeting,) = Message.objects.filter(conversation=conversation, sender="system").values_list("body", flat=True)
    assert "leave your email" in greeting


def test_nothing_extra_when_an_agent_is_free(desk):
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    post_first(conversation)
    assert not Message.objects.filter(conversation=conversation, sender="system").exists()


def test_queue_positions_are_sent_to_every_waiting_visitor_as_the_queue_moves(
    desk, sent_events, django_capture_on_commit_callbacks
):
    Agent.objects.filter(pk=desk.agent.pk).update(max_chats=5)
    chats = [make_conversation(site=desk.site, topic=desk.topic) for _ in range(3)]
    for chat in chats:
        post_first(chat)
    # Earlier chats waited 60 s for an agent: the estimate is 60 s per place in line.
    for _ in range(2):
        done = make_conversation(site=desk.site, topic=desk.topic)
        Conversation.objects.filter(pk=done.pk).update(
            status="ended", claimed_at=done.created_at + timedelta(seconds=60), last_seq=1
        )
    sent_events.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_claim(conversation_id=chats[0].pk, agent=desk.agent)

    positions = {
        groups[0]: (frame["position"], frame["estimated_wait_seconds"])
        for groups, frame in sent_events
        if frame["type"] == "queue.position"
    }
    assert positions == {
        visitor_group(chats[1].visitor_id): (1, 60),
        visitor_group(chats[2].visitor_id): (2, 120),
    }


def test_contact_email_and_marketing_consent_are_stored_with_wording(desk):
    conversation = make_conversation(site=desk.site)
    wording = "Yes, send me news and offers by email. I can unsubscribe at any time."

    services.visitor_contact_set(
        visitor=conversation.visitor, email="anna@example.com", purpose="transcript", conversation_id=conversation.pk
    )
    assert not ConsentRecord.objects.exists()  # a transcript request is not marketing consent
    services.visitor_contact_set(
        visitor=conversation.visitor,
        email="anna@example.com",
        purpose="follow_up",
        marketing_consent=True,
        consent_wording=wording,
    )
    services.visitor_contact_set(visitor=conversation.visitor, email="anna@example.com", purpose="follow_up")

    conversation.refresh_from_db()
    assert conversation.transcript_requested and conversation.visitor.email == "anna@example.com"
    given, withdrawn = ConsentRecord.objects.order_by("recorded_at")
    assert (given.given, given.wording) == (True, wording)
    assert (withdrawn.given, withdrawn.wording) == (False, wording)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"email": "not-an-email", "purpose": "transcript"}, "email"),
        ({"email": "a@example.com", "purpose": "newsletter"}, "purpose"),
        ({"email": "a@example.com", "purpose": "offline", "marketing_consent": True}, "wording"),
    ],
)
def test_contact_refusals(desk, kwargs, fragment):
    visitor, _ = make_visitor(site=desk.site)
    with pytest.raises(ChatError) as refused:
        services.visitor_contact_set(visitor=visitor, **kwargs)
    assert fragment in refused.value.message


def test_rating_after_an_agent_answered(desk):
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    with pytest.raises(ChatError):
        services.conversation_rate(conversation_id=conversation.pk, visitor=conversation.visitor, rating=5)
    services.conversation_claim(conversation_id=conversation.pk, agent=desk.agent)

    services.conversation_rate(conversation_id=conversation.pk, visitor=conversation.visitor, rating=4, comment=" ok ")
    with pytest.raises(ChatError):
        services.conversation_rate(conversation_id=conversation.pk, visitor=conversation.visitor, rating=6)

    conversation.refresh_from_db()
    assert (conversation.rating, conversation.rating_comment) == (4, "ok")


def config(client, site, origin=ORIGIN, **params):
    return client.get(reverse("chat:widget_config", args=[site.key]), params, HTTP_ORIGIN=origin)


def test_widget_config_answers_allowed_origins_with_cors_only(desk, client):
    allowed = config(client, desk.site)
    refused = config(client, desk.site, origin="http://evil.example.com")
    same_origin = client.get(reverse("chat:widget_config", args=[desk.site.key]), HTTP_REFERER=f"{ORIGIN}/products/mug")

    assert allowed.status_code == 200 and allowed["Access-Control-Allow-Origin"] == ORIGIN
    body = allowed.json()
    assert body["availability"]["state"] == "online" and body["invitation"]["delay_seconds"] == 30
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused
    assert same_origin.status_code == 200


def test_trigger_fires_once_per_browser_within_its_cap_and_only_in_its_hours(desk, client):
    trigger = Trigger.objects.create(site=desk.site, name="Products", url_pattern="/products/*", message="Can I help?")
    # Hours that never include the moment the test runs, whatever the clock says.
    later = site_local_now(desk.site) + timedelta(hours=2)
    Trigger.objects.create(
        site=desk.site,
        name="Later",
        url_pattern="/*",
        message="Still there?",
        active_from=later.time(),
        active_until=(later + timedelta(hours=1)).time(),
    )
    url = reverse("chat:trigger_firing", args=[desk.site.key])

    due = [t["id"] for t in config(client, desk.site, browser_id="b1").json()["triggers"]]
    shown = client.post(
        url,
        json.dumps({"trigger_id": trigger.pk, "browser_id": "b1", "outcome": "shown", "page_url": "/products/mug"}),
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
    )
    opened = client.post(
        url,
        json.dumps({"trigger_id": trigger.pk, "browser_id": "b1", "outcome": "opened"}),
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
    )
    next_product_page = config(client, desk.site, browser_id="b1").json()["triggers"]
    other_browser = config(client, desk.site, browser_id="b2").json()["triggers"]

    assert due == [trigger.pk]
    assert shown.status_code == opened.status_code == 201
    assert next_product_page == [] and [t["id"] for t in other_browser] == [trigger.pk]
    assert list(TriggerFiring.objects.values_list("outcome", flat=True)) == ["opened"]
    TriggerFiring.objects.update(shown_at=timezone.now() - timedelta(hours=25))
    assert [t["id"] for t in config(client, desk.site, browser_id="b1").json()["triggers"]] == [trigger.pk]


def test_trigger_hours_may_cross_midnight(desk):
    night = Trigger.objects.create(
        site=desk.site,
        name="Night",
        url_pattern="/*",
        message="Up late?",
        active_from=dt.time(22),
        active_until=dt.time(6),
    )

    def due_at(hour: int) -> bool:
        at = MONDAY_NOON_UTC.replace(hour=hour)
        return night in triggers_for_browser(site=desk.site, browser_id="b", at=at)

    assert desk.site.time_zone == "UTC"
    assert [hour for hour in range(24) if due_at(hour)] == [0, 1, 2, 3, 4, 5, 22, 23]


def test_trigger_hours_that_start_where_they_end_are_refused(desk):
    trigger = Trigger(
        site=desk.site, name="Never", url_pattern="/*", message="Hi", active_from=dt.time(9), active_until=dt.time(9)
    )
    with pytest.raises(ValidationError) as refused:
        trigger.full_clean()
    assert "active_until" in refused.value.message_dict


def test_trigger_firing_refuses_bad_input_clearly(desk, client):
    url = reverse("chat:trigger_firing", args=[desk.site.key])
    bad = client.post(url, "{nope", content_type="application/json", HTTP_ORIGIN=ORIGIN)
    unknown = client.post(
        url, json.dumps({"trigger_id": 999, "browser_id": "b"}), content_type="application/json", HTTP_ORIGIN=ORIGIN
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_field")
    assert unknown.status_code == 404


def test_offline_greeting_uses_the_email_already_given(desk):
    everyone(status="offline", seen=False)
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    services.visitor_contact_set(visitor=conversation.visitor, email="anna@example.com", purpose="offline")
    conversation.visitor.refresh_from_db()

    post_first(conversation)

    (greeting,) = Message.objects.filter(conversation=conversation, sender="system").values_list("body", flat=True)
    assert "anna@example.com" in greeting and "leave your email" not in greeting


@pytest.mark.django_db(transaction=True)
async def test_a_returning_visitor_learns_its_place_in_the_queue_at_once(desk):
    await sync_to_async(Agent.objects.update)(max_chats=0)
    first, _ = await open_visitor(desk.site)
    await start_and_send(first, "One", "c-1")
    second, welcome = await open_visitor(desk.site)
    await start_and_send(second, "Two", "c-2")
    await second.disconnect()

    again, rewelcome = await open_visitor(desk.site, token=welcome["token"])

    assert rewelcome["queue"]["position"] == 2
    await first.disconnect()
    await again.disconnect()
