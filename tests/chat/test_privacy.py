"""R4: export and erase what is stored about a visitor (retention: test_retention.py; in a
browser: tests/browser/test_privacy.py).

Chats are made through the real services, so the texts, emails, files and figures under
test are the ones the product stores.
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agents.models import Agent
from chat import services
from chat.errors import ChatError
from chat.metrics import Scope, report
from chat.models import (
    Attachment,
    ConsentRecord,
    Conversation,
    Message,
    OutboundEmail,
    PersonalDataAction,
    Site,
    Visitor,
)
from chat.privacy import (
    ERASED,
    personal_data_erase,
    personal_data_export,
    personal_data_find,
)
from chat.services.sweeps import conversations_mark_missed
from feedback.models import Mention, WebhookDelivery, WebhookEndpoint
from feedback.services import feedback_log

from ..agents.factories import make_agent, make_team
from ..browser.conftest import browser, browser_database, chat_server, expect, watch_errors  # noqa: F401  (fixtures)
from .conftest import Desk
from .factories import make_site, make_topic, make_visitor
from .sockets import open_visitor

EMAIL = "Anna@Example.com"
REPLY = "Thanks Anna, I am checking the order for 5 Oak Street right now."
TOOL = reverse("admin:chat_personaldataaction_tool")


@dataclass
class Seeded:
    visitor: Visitor
    token: str
    ended: Conversation
    live: Conversation
    attachment_name: str


def chat_with(desk, visitor: Visitor, agent: Agent, words: str, tag: str) -> Conversation:
    conversation = services.conversation_start(visitor=visitor, topic_slug=desk.topic.slug)
    services.message_post(conversation_id=conversation.pk, author=visitor, body=words, client_id=f"{tag}-v")
    services.conversation_claim(conversation_id=conversation.pk, agent=agent)
    services.message_post(conversation_id=conversation.pk, author=agent, body=REPLY, client_id=f"{tag}-a")
    services.message_post(
        conversation_id=conversation.pk, author=agent, body="Anna Berg, VIP", client_id=f"{tag}-n", note=True
    )
    return conversation


def seed_anna(desk, *, email: str = EMAIL) -> Seeded:
    """A visitor with an ended, rated chat (transcript emailed, a file, a feedback quote,
    marketing consent) and a chat still open."""
    visitor, token = make_visitor(site=desk.site)
    Visitor.objects.filter(pk=visitor.pk).update(name="Anna Berg", language="nb")
    services.visitor_pages_record(visitor=visitor, pages=[{"url": "https://shop.example.com/oak", "title": "Oak"}])
    ended = chat_with(desk, visitor, desk.agent, "I'm Anna, my order to 5 Oak Street is late", "one")
    services.visitor_contact_set(
        visitor=visitor, email=email, purpose="transcript", conversation_id=ended.pk,
        marketing_consent=True, consent_wording="Send me news by email",
    )  # fmt: skip
    message = Message.objects.get(conversation=ended, seq=1)
    attachment = Attachment.objects.create(
        conversation=ended, message=message, file=ContentFile(b"receipt 5 Oak Street", name="receipt.txt"),
        name="receipt.txt", content_type="text/plain", size=20,
    )  # fmt: skip
    feedback_log(conversation=ended, agent=desk.agent, kind="feature", summary="Tracking", quote="Where is Anna's box")
    services.conversation_rate(conversation_id=ended.pk, visitor=visitor, rating=5, comment="Anna is happy")
    services.conversation_end(conversation_id=ended.pk, ended_by=desk.agent)
    live = chat_with(desk, visitor, desk.other_agent, "Anna again, about the refund", "two")
    return Seeded(visitor, token, ended, live, attachment.file.name)


def figures(site: Site):
    """What the supervisors' reports show for the site today."""
    today = timezone.localdate()
    scope = Scope(start=today - timedelta(days=1), end=today, tz=timezone.get_current_timezone(), site_id=site.pk)
    return report(scope, period="day")


@pytest.fixture
def boss(django_user_model):
    return django_user_model.objects.create_superuser(username="boss", password="pw", email="boss@example.com")


# --- Finding and exporting ------------------------------------------------------------


def test_export_holds_everything_stored_and_nothing_of_a_similar_visitor(desk, boss):
    seeded = seed_anna(desk)
    other = seed_anna(desk, email="anna@example.com.au")

    found = personal_data_find(subject="  anna@EXAMPLE.com ")
    export = personal_data_export(visitors=found, actor=boss, subject="anna@example.com")

    assert [v["id"] for v in export["visitors"]] == [str(seeded.visitor.public_id)]
    person = export["visitors"][0]
    assert (person["name"], person["email"], person["language"]) == ("Anna Berg", EMAIL, "nb")
    assert person["recent_pages"][0]["url"] == "https://shop.example.com/oak"
    assert [(c["given"], c["wording"], c["email"]) for c in person["consents"]] == [
        (True, "Send me news by email", EMAIL)
    ]
    first, second = person["conversations"]
    assert (first["id"], second["id"]) == (seeded.ended.pk, seeded.live.pk)
    bodies = [m["body"] for m in first["messages"]]
    assert bodies[0] == "I'm Anna, my order to 5 Oak Street is late"
    assert REPLY in bodies and "Anna Berg, VIP" in bodies
    assert {m["sender"] for m in first["messages"]} == {"visitor", "agent", "note", "system"}
    assert all(m["created_at"] for m in first["messages"])
    assert (first["rating"], first["rating_comment"]) == (5, "Anna is happy")
    assert first["attachments"] == [
        {
            "id": first["attachments"][0]["id"], "message_seq": 1, "name": "receipt.txt",
            "content_type": "text/plain", "size": 20, "created_at": first["attachments"][0]["created_at"],
        }
    ]  # fmt: skip
    assert [(e["kind"], e["to_address"]) for e in first["emails"]] == [("transcript", EMAIL)]
    assert first["feedback_mentions"][0]["quote"] == "Where is Anna's box"
    assert second["messages"][0]["body"] == "Anna again, about the refund"
    assert str(other.visitor.public_id) not in str(export)
    # then the export is logged with counts and ids, never the data
    action = PersonalDataAction.objects.get(kind=PersonalDataAction.Kind.EXPORT)
    assert action.actor == boss and action.subject == "anna@example.com"
    assert action.details["visitor_ids"] == [str(seeded.visitor.public_id)]
    assert action.details["conversations"] == 2 and action.details["consents"] == 1
    assert "Anna" not in str(action.details)


def test_a_visitor_is_found_by_public_id_or_customer_id_and_bad_subjects_are_refused(db):
    site = make_site()
    visitor, _ = make_visitor(site=site)
    Visitor.objects.filter(pk=visitor.pk).update(external_id="cust-42")

    assert personal_data_find(subject=str(visitor.public_id)) == [visitor]
    assert personal_data_find(subject="cust-42") == [visitor]
    assert personal_data_find(subject="cust-4") == []
    with pytest.raises(ChatError, match="email address"):
        personal_data_find(subject="   ")
    with pytest.raises(ChatError, match="too long"):
        personal_data_find(subject="x" * 256)


def test_export_of_a_visitor_with_many_chats_takes_a_fixed_number_of_queries(
    desk, boss, settings, django_assert_max_num_queries
):
    settings.CHAT_VISITOR_CONVERSATIONS_PER_MINUTE = 100
    visitor, _ = make_visitor(site=desk.site)
    for number in range(12):
        conversation = chat_with(desk, visitor, desk.agent, f"Question {number}", f"q{number}")
        services.conversation_end(conversation_id=conversation.pk, ended_by=desk.agent)

    with django_assert_max_num_queries(9):
        export = personal_data_export(visitors=[visitor], actor=boss)

    assert export["counts"]["conversations"] == 12
    assert export["counts"]["messages"] == Message.objects.count()


# --- Erasing ---------------------------------------------------------------------------


def test_erase_blanks_texts_and_identity_but_keeps_figures_times_and_consent(desk, boss):
    seeded = seed_anna(desk)
    consent_before = list(ConsentRecord.objects.values())
    figures_before = figures(desk.site)
    timing_before = list(
        Message.objects.filter(conversation=seeded.ended).order_by("seq").values_list("seq", "sender", "created_at")
    )
    assert default_storage.exists(seeded.attachment_name)

    action = personal_data_erase(visitors=[seeded.visitor], actor=boss, subject=EMAIL)

    # every text a person wrote reads [erased]; system notices keep their words
    for message in Message.objects.filter(conversation__visitor=seeded.visitor):
        if message.sender == Message.Sender.SYSTEM:
            assert "Anna" not in message.body and "@" not in message.body
        else:
            assert message.body == ERASED
    ended = Conversation.objects.get(pk=seeded.ended.pk)
    assert (ended.rating, ended.rating_comment, ended.preview) == (5, "", "")
    assert ended.anonymised_at is not None and ended.first_response_at is not None
    after = list(Message.objects.filter(conversation=ended).order_by("seq").values_list("seq", "sender", "created_at"))
    assert after == timing_before
    assert figures(desk.site) == figures_before
    # the file is gone from storage and the database
    assert not default_storage.exists(seeded.attachment_name)
    assert not Attachment.objects.exists()
    # who the visitor was is gone; the consent proof is not
    visitor = Visitor.objects.get(pk=seeded.visitor.pk)
    assert (visitor.name, visitor.email, visitor.external_id, visitor.recent_pages, visitor.language) == (
        "", "", "", [], ""
    )  # fmt: skip
    assert visitor.erased_at is not None and visitor.token_hash != seeded.visitor.token_hash
    assert list(ConsentRecord.objects.values()) == consent_before
    # emails keep their kind and state, not the address
    email = OutboundEmail.objects.get(conversation=ended)
    assert (email.kind, email.to_address, email.subject) == ("transcript", "", "")
    assert Mention.objects.get().quote == ERASED
    # the open chat was ended first, and the erasure is logged with counts only
    live = Conversation.objects.get(pk=seeded.live.pk)
    assert live.status == Conversation.Status.ENDED and live.anonymised_at is not None
    assert Message.objects.filter(conversation=live, body="This chat was closed.").exists()
    assert action.kind == PersonalDataAction.Kind.ERASE and action.actor == boss
    assert action.details["conversations"] == 2 and action.details["attachments"] == 1
    assert action.details["ended"] == 1 and action.details["visitors"] == 1
    assert "Anna" not in str(action.details) and "@" not in str(action.details).replace(EMAIL, "")


def test_an_email_not_yet_sent_is_cancelled_by_the_erasure(desk, boss):
    visitor, _ = make_visitor(site=desk.site)
    conversation = chat_with(desk, visitor, desk.agent, "Hello", "x")
    services.visitor_contact_set(visitor=visitor, email=EMAIL, purpose="transcript", conversation_id=conversation.pk)

    personal_data_erase(visitors=[visitor], actor=boss)

    # ending the live chat owed a transcript; it is never sent, and holds no address
    email = OutboundEmail.objects.get(conversation=conversation)
    assert (email.state, email.to_address) == (OutboundEmail.State.CANCELLED, "")


def test_system_notices_keep_their_words_but_not_the_visitors_address(desk, boss):
    visitor, _ = make_visitor(site=desk.site)
    services.visitor_contact_set(visitor=visitor, email=EMAIL, purpose="offline")
    conversation = services.conversation_start(visitor=visitor, topic_slug=None)
    services.message_post(conversation_id=conversation.pk, author=visitor, body="Anyone?", client_id="m")
    assert conversations_mark_missed(now=timezone.now() + timedelta(hours=1)) == 1
    notice = conversation.messages.filter(sender=Message.Sender.SYSTEM, body__contains=EMAIL).get()

    personal_data_erase(visitors=[visitor], actor=boss)

    notice.refresh_from_db()
    assert "nobody could answer in time" in notice.body and f"by email at {ERASED}" in notice.body
    assert "@" not in notice.body


def test_the_stored_webhooks_about_the_chats_lose_the_same_texts(db, boss):
    # given endpoints for prospects' feedback and for chat messages and ratings; with the
    # `db` fixture nothing commits, so the deliveries stay stored and unsent
    WebhookEndpoint.objects.create(name="CRM", url="https://crm.example.com/hook", audience="prospect")
    WebhookEndpoint.objects.create(
        name="Log", url="https://log.example.com/hook", events=["message.created", "conversation.rated"]
    )
    site = make_site()
    topic = make_topic(site=site)
    team = make_team(topics=[topic], is_default=True)
    desk = Desk(site=site, topic=topic, agent=make_agent(teams=[team]), other_agent=make_agent(teams=[team]))
    seeded = seed_anna(desk)
    assert "5 Oak Street" in str(list(WebhookDelivery.objects.values_list("payload", flat=True)))

    personal_data_erase(visitors=[seeded.visitor], actor=boss)

    payloads = str(list(WebhookDelivery.objects.values_list("payload", flat=True)))
    assert "Anna" not in payloads and "Oak" not in payloads
    quotes = [d.payload["mention"]["quote"] for d in WebhookDelivery.objects.all() if d.payload.get("mention")]
    assert quotes == [ERASED]


def test_erasing_twice_is_harmless_and_logged_twice(desk, boss):
    seeded = seed_anna(desk)
    personal_data_erase(visitors=[seeded.visitor], actor=boss)
    bodies = list(Message.objects.order_by("pk").values_list("body", flat=True))

    again = personal_data_erase(visitors=personal_data_find(subject=str(seeded.visitor.public_id)), actor=boss)

    assert list(Message.objects.order_by("pk").values_list("body", flat=True)) == bodies
    assert (again.details["conversations"], again.details["messages"], again.details["visitors"]) == (0, 0, 0)
    assert PersonalDataAction.objects.filter(kind=PersonalDataAction.Kind.ERASE).count() == 2


def test_a_rolled_back_erasure_keeps_the_file(desk, boss):
    seeded = seed_anna(desk)

    with pytest.raises(RuntimeError), transaction.atomic():
        personal_data_erase(visitors=[seeded.visitor], actor=boss)
        raise RuntimeError("something later failed")

    assert default_storage.exists(seeded.attachment_name)
    assert Message.objects.filter(body=ERASED).count() == 0


async def test_the_old_token_no_longer_opens_the_erased_visitors_chats(desk):
    def erase() -> Seeded:
        seeded = seed_anna(desk)
        personal_data_erase(visitors=[seeded.visitor], actor=None)
        return seeded

    seeded = await sync_to_async(erase)()

    socket, welcome = await open_visitor(desk.site, token=seeded.token)
    await socket.send_json_to({"type": "sync", "conversation_id": seeded.ended.pk, "after_seq": 0})
    answer = await socket.receive_json_from(5)
    await socket.disconnect()

    assert welcome["visitor"]["id"] != str(seeded.visitor.public_id)
    assert welcome["token"] != seeded.token and welcome["conversation"] is None
    assert answer["type"] == "error" and answer["code"] == "not_found"


async def test_a_socket_open_during_the_erasure_is_closed_and_cannot_start_a_chat_as_the_erased_visitor(desk):
    seeded = await sync_to_async(seed_anna)(desk)
    socket, _ = await open_visitor(desk.site, token=seeded.token)

    await sync_to_async(personal_data_erase)(visitors=[seeded.visitor], actor=None)

    # The live chat's end goes out first; then the socket is closed with the reconnect
    # code, and the widget says hello again as a stranger.
    output = await socket.receive_output(5)
    while output["type"] == "websocket.send":
        output = await socket.receive_output(5)
    assert output == {"type": "websocket.close", "code": 4000}
    with pytest.raises(ChatError) as refused:
        await sync_to_async(services.conversation_start)(visitor=seeded.visitor, topic_slug=None)
    assert refused.value.code == "hello_required"


# --- Admin -----------------------------------------------------------------------------


def test_admin_finds_exports_and_erases_after_confirmation(desk, boss, client):
    seeded = seed_anna(desk)
    client.force_login(boss)

    found = client.get(TOOL, {"subject": EMAIL})
    assert found.status_code == 200
    assert str(seeded.visitor.public_id) in found.content.decode()
    assert "2 conversation(s) (1 open)" in found.content.decode()

    download = client.post(TOOL, {"subject": EMAIL, "action": "export"})
    assert download.status_code == 200 and download["Content-Type"].startswith("application/json")
    assert download["Content-Disposition"].startswith("attachment;")
    assert download.json()["visitors"][0]["email"] == EMAIL

    confirm = client.post(TOOL, {"subject": EMAIL, "action": "erase"})
    assert confirm.status_code == 200 and "Yes, erase" in confirm.content.decode()
    assert not Message.objects.filter(body=ERASED).exists()

    erased = client.post(
        TOOL, {"subject": EMAIL, "action": "erase", "confirmed": str(seeded.visitor.public_id)}, follow=True
    )
    assert erased.status_code == 200 and "Erased the personal data of 1 visitor(s)" in erased.content.decode()
    assert Visitor.objects.get(pk=seeded.visitor.pk).erased_at is not None
    kinds = set(PersonalDataAction.objects.values_list("kind", flat=True))
    assert kinds == {"export", "erase"}
    log = client.get(reverse("admin:chat_personaldataaction_changelist"))
    assert log.status_code == 200 and "Export or erase personal data" in log.content.decode()


def test_admin_erase_refuses_when_the_matches_changed_since_confirmation(desk, boss, client):
    seeded = seed_anna(desk)
    client.force_login(boss)

    page = client.post(TOOL, {"subject": EMAIL, "action": "erase", "confirmed": "someone-else"})

    assert "changed since you looked" in page.content.decode()
    assert Visitor.objects.get(pk=seeded.visitor.pk).erased_at is None


def test_admin_tool_refuses_a_blank_subject_with_a_clear_error(db, boss, client):
    client.force_login(boss)

    page = client.get(TOOL, {"subject": "   "})

    assert page.status_code == 200 and "This field is required." in page.content.decode()


def test_staff_without_the_right_to_delete_visitors_are_refused(db, django_user_model, client):
    staff = django_user_model.objects.create_user(username="agent", password="pw", is_staff=True)
    client.force_login(staff)

    assert client.get(TOOL, {"subject": EMAIL}).status_code == 403
    assert client.post(TOOL, {"subject": EMAIL, "action": "export"}).status_code == 403
    assert client.get(reverse("admin:chat_personaldataaction_changelist")).status_code == 403
    assert not PersonalDataAction.objects.exists()

    staff.user_permissions.add(Permission.objects.get(codename="delete_visitor", content_type__app_label="chat"))
    staff = django_user_model.objects.get(pk=staff.pk)
    client.force_login(staff)
    assert client.get(TOOL, {"subject": EMAIL}).status_code == 200


def test_the_log_cannot_be_added_changed_or_deleted(db, boss, client):
    action = PersonalDataAction.objects.create(kind="export", subject="x", actor=boss)
    client.force_login(boss)

    assert client.get(reverse("admin:chat_personaldataaction_add")).status_code == 403
    assert client.post(reverse("admin:chat_personaldataaction_delete", args=[action.pk])).status_code == 403
    assert (
        client.post(reverse("admin:chat_personaldataaction_change", args=[action.pk]), {"subject": "y"}).status_code
        == 403
    )
    assert PersonalDataAction.objects.get().subject == "x"


def test_the_log_lists_many_entries_in_a_few_queries(db, boss, client, django_assert_max_num_queries):
    PersonalDataAction.objects.bulk_create(
        PersonalDataAction(kind="erase", subject=f"s{n}@example.com", actor=boss, details={"messages": n})
        for n in range(60)
    )
    client.force_login(boss)

    with django_assert_max_num_queries(8):
        page = client.get(reverse("admin:chat_personaldataaction_changelist"))

    assert page.status_code == 200 and "s59@example.com" in page.content.decode()


def test_erase_without_the_csrf_token_is_refused(desk, boss):
    seeded = seed_anna(desk)
    client = Client(enforce_csrf_checks=True)
    client.force_login(boss)

    answer = client.post(TOOL, {"subject": EMAIL, "action": "erase", "confirmed": str(seeded.visitor.public_id)})

    assert answer.status_code == 403
    assert Visitor.objects.get(pk=seeded.visitor.pk).erased_at is None


# --- Retention -------------------------------------------------------------------------
