"""Every chat admin page opens for a supervisor; transcripts and consent proofs are read-only."""

import pytest
from django.contrib import admin
from django.urls import reverse

from chat import services

from .factories import make_conversation


@pytest.fixture
def supervisor_client(client, django_user_model):
    user = django_user_model.objects.create_superuser(username="boss", password="pw", email="boss@example.com")
    client.force_login(user)
    return client


def test_every_chat_admin_list_and_change_page_opens(desk, supervisor_client):
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    services.message_post(conversation_id=conversation.pk, author=conversation.visitor, body="<b>hi</b>", client_id="c")
    services.visitor_contact_set(
        visitor=conversation.visitor, email="a@example.com", purpose="offline", marketing_consent=True,
        consent_wording="News by email",
    )  # fmt: skip

    for model in [m for m in admin.site._registry if m._meta.app_label == "chat"]:
        info = f"admin:chat_{model._meta.model_name}"
        assert supervisor_client.get(reverse(f"{info}_changelist")).status_code == 200, info
        first = model.objects.first()
        if first is not None:
            page = supervisor_client.get(reverse(f"{info}_change", args=[first.pk]))
            assert page.status_code == 200, info
            assert b"<b>hi</b>" not in page.content


def test_transcript_messages_cannot_be_edited_in_admin(desk, supervisor_client):
    conversation = make_conversation(site=desk.site)
    services.message_post(conversation_id=conversation.pk, author=conversation.visitor, body="Mine", client_id="c")

    page = supervisor_client.get(reverse("admin:chat_conversation_change", args=[conversation.pk]))

    assert b'name="messages-0-body"' not in page.content
    assert b"Mine" in page.content
