"""Files in chats: who may send and fetch them, the signed downloads and their headers,
payloads and live delivery, transcripts (chat.attachments, docs/protocol.md "Files")."""

import time
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from chat import services
from chat.attachments.services import attachment_post
from chat.errors import ErrorCode
from chat.models import Attachment
from chat.payloads import message_payload
from chat.selectors import messages_after

from .attachment_helpers import (
    PDF,
    claimed,
    download_url,
    image_bytes,
    refused,
    upload,
    visitor_chat,
    visitor_post,
    widget_upload,
)
from .factories import ORIGIN, make_conversation, make_visitor
from .sockets import open_agent, open_visitor, receive_message, receive_until

# --- Who may send ------------------------------------------------------------------------


def test_another_visitors_conversation_is_not_found_and_says_nothing(desk, client):
    conversation, _ = visitor_chat(desk)
    _, other_token = make_visitor(site=desk.site)

    response = widget_upload(client, conversation, other_token, "a.txt", b"hello")

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "No such conversation."}}
    assert Attachment.objects.count() == 0


def test_a_missing_or_wrong_token_is_not_found(desk, client):
    conversation, token = visitor_chat(desk)

    bearer = client.post(
        f"/widget/{desk.site.key}/conversations/{conversation.pk}/attachments",
        {"file": upload("a.txt", b"x"), "client_id": "c"},
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert bearer.status_code == 404


def test_a_foreign_origin_is_refused_and_gets_no_cors(desk, client):
    conversation, token = visitor_chat(desk)

    response = client.post(
        f"/widget/{desk.site.key}/conversations/{conversation.pk}/attachments",
        {"file": upload("a.txt", b"x"), "client_id": "c"},
        HTTP_ORIGIN="https://evil.example",
        HTTP_AUTHORIZATION=f"Visitor {token}",
    )

    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response


def test_preflight_allows_the_sites_origin_and_the_authorization_header(desk, client):
    conversation, _ = visitor_chat(desk)

    response = client.options(
        f"/widget/{desk.site.key}/conversations/{conversation.pk}/attachments",
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "Authorization" in response["Access-Control-Allow-Headers"]


def test_a_missing_file_or_client_id_is_a_clear_400(desk, client):
    conversation, token = visitor_chat(desk)

    response = client.post(
        f"/widget/{desk.site.key}/conversations/{conversation.pk}/attachments",
        {"client_id": "c"},
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Visitor {token}",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_field"
    assert "'file'" in response.json()["error"]["message"]


def test_uploads_are_rate_limited_per_visitor(desk, client, settings):
    settings.CHAT_VISITOR_UPLOADS_PER_MINUTE = 1
    conversation, token = visitor_chat(desk)

    first = widget_upload(client, conversation, token, "a.txt", b"one", client_id="f-1")
    second = widget_upload(client, conversation, token, "b.txt", b"two", client_id="f-2")

    assert first.status_code == 201
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "rate_limited" and second.json()["error"]["retry_after"] > 0
    assert second["Access-Control-Allow-Origin"] == ORIGIN


def test_the_owner_sends_a_file_from_the_console(desk):
    conversation = claimed(desk)
    client = Client()
    client.force_login(desk.agent.user)

    response = client.post(
        f"/console/conversations/{conversation.pk}/attachments", {"file": upload("lol k.pdf", PDF), "client_id": "a-1"}
    )

    # The name is not a reply: the composer rules (R10-R12, "lol", "k") do not judge it.
    assert response.status_code == 201
    answer = response.json()
    assert answer["message"]["sender"] == "agent" and answer["message"]["id"]
    assert answer["message"]["attachment"]["name"] == "lol k.pdf"
    conversation.refresh_from_db()
    assert conversation.first_response_at is not None and conversation.waiting_since is None


def test_another_agents_chat_is_forbidden(desk):
    conversation = claimed(desk)
    client = Client()
    client.force_login(desk.other_agent.user)

    response = client.post(
        f"/console/conversations/{conversation.pk}/attachments", {"file": upload("a.pdf", PDF), "client_id": "a-1"}
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_owner"
    assert Attachment.objects.count() == 0


def test_the_console_upload_needs_the_csrf_token(desk):
    conversation = claimed(desk)
    client = Client(enforce_csrf_checks=True)
    client.force_login(desk.agent.user)
    url = f"/console/conversations/{conversation.pk}/attachments"

    without = client.post(url, {"file": upload("a.pdf", PDF), "client_id": "a-1"})
    client.get("/accounts/login/")  # sets the csrftoken cookie, as every page with a form does
    token = client.cookies["csrftoken"].value
    with_token = client.post(url, {"file": upload("a.pdf", PDF), "client_id": "a-1"}, HTTP_X_CSRFTOKEN=token)

    assert without.status_code == 403
    assert with_token.status_code == 201


def test_logged_out_console_upload_is_refused(desk):
    conversation = claimed(desk)

    response = Client().post(
        f"/console/conversations/{conversation.pk}/attachments", {"file": upload("a.pdf", PDF), "client_id": "a-1"}
    )

    assert response.status_code == 403


def test_no_file_after_the_chat_ended(desk):
    conversation = claimed(desk)
    services.conversation_end(conversation_id=conversation.pk, ended_by=desk.agent)

    assert refused(lambda: visitor_post(conversation, "a.txt", b"late")) == ErrorCode.CONVERSATION_ENDED


# --- Downloads ---------------------------------------------------------------------------


def test_an_image_is_served_inline_with_no_way_to_run_anything(desk, client):
    conversation = make_conversation(site=desk.site)
    message, _ = visitor_post(conversation, "photo.png", image_bytes())
    url = download_url(message)

    response = client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == "inline; filename*=UTF-8''photo.png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Cache-Control"].startswith("private")
    assert b"".join(response.streaming_content) == message.attachment.file.open("rb").read()


def test_other_files_are_downloads_with_their_unicode_name(desk, client):
    conversation = make_conversation(site=desk.site)
    polyglot = PDF + b"<html><script>alert(1)</script></html>"
    message, _ = visitor_post(conversation, "Rechnung März.pdf", polyglot)
    url = download_url(message)

    response = client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == "attachment; filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_a_forged_or_swapped_signature_is_not_found(desk, client):
    conversation = make_conversation(site=desk.site)
    first, _ = visitor_post(conversation, "a.txt", b"first", client_id="f-1")
    second, _ = visitor_post(conversation, "b.txt", b"second", client_id="f-2")
    url = download_url(first)
    prefix, signature = url.rsplit("/", 1)

    forged = client.get(f"{prefix}/{signature[:-2]}xx")
    swapped = client.get(f"/attachments/{second.attachment.public_id}/{signature}")
    unsigned = client.get(f"{prefix}/")

    assert [forged.status_code, swapped.status_code, unsigned.status_code] == [404, 404, 404]
    assert client.get(url).status_code == 200


def test_an_expired_link_is_not_found(desk, client, settings):
    conversation = make_conversation(site=desk.site)
    message, _ = visitor_post(conversation, "a.txt", b"hello")
    url = download_url(message)
    settings.CHAT_ATTACHMENT_URL_SECONDS = -1  # every link is older than this

    assert client.get(url).status_code == 404


def test_an_erased_file_is_not_found_and_has_no_link(desk, client):
    conversation = make_conversation(site=desk.site)
    message, _ = visitor_post(conversation, "a.txt", b"hello")
    url = download_url(message)
    message.attachment.file.delete(save=True)

    assert client.get(url).status_code == 404
    message.refresh_from_db()
    assert message_payload(message)["attachment"] == {
        "name": "a.txt", "content_type": "text/plain", "size": 5, "is_image": False, "url": None,
    }  # fmt: skip


def test_a_file_gone_from_storage_is_not_found(desk, client):
    conversation = make_conversation(site=desk.site)
    message, _ = visitor_post(conversation, "a.txt", b"hello")
    url = download_url(message)
    Path(message.attachment.file.path).unlink()

    assert client.get(url).status_code == 404


# --- Payloads and the other side --------------------------------------------------------


def test_sync_gives_each_file_a_fresh_link(desk, client, settings):
    settings.CHAT_ATTACHMENT_URL_SECONDS = 2
    conversation = make_conversation(site=desk.site)
    message, _ = visitor_post(conversation, "a.png", image_bytes())
    old_url = download_url(message)
    time.sleep(2.2)

    messages, _ = messages_after(conversation=conversation, after_seq=0, with_notes=False)
    fresh = message_payload(messages[-1])["attachment"]["url"]
    assert client.get(old_url).status_code == 404
    assert client.get(fresh).status_code == 200


def test_sync_of_many_files_costs_one_query(desk, django_assert_max_num_queries):
    conversation = make_conversation(site=desk.site)
    for number in range(5):
        visitor_post(conversation, f"{number}.txt", b"x", client_id=f"f-{number}")
    services.message_post(conversation_id=conversation.pk, author=conversation.visitor, body="Text", client_id="t")
    with django_assert_max_num_queries(1):
        messages, _ = messages_after(conversation=conversation, after_seq=0, with_notes=True)
        payloads = [message_payload(message) for message in messages]

    assert [bool(p["attachment"]) for p in payloads] == [True] * 5 + [False]


async def test_the_agent_sees_the_visitors_file_live_and_the_visitor_gets_the_agents(desk):
    conversation = await database_sync_to_async(claimed)(desk)
    agent, _ = await open_agent(desk.agent)
    visitor_socket, _ = await open_visitor(desk.site)  # another visitor: only the chat's own hears
    client = Client()

    def visitor_sends():
        return attachment_post(
            conversation_id=conversation.pk,
            author=conversation.visitor,
            upload=upload("cat.png", image_bytes()),
            client_id="v-f",
        )

    message, _ = await database_sync_to_async(visitor_sends)()
    frame = await receive_message(agent, message.seq)

    attachment = frame["message"]["attachment"]
    assert attachment["name"] == "cat.png" and attachment["is_image"] and attachment["content_type"] == "image/png"
    response = await database_sync_to_async(client.get)(attachment["url"])
    assert response.status_code == 200
    assert frame["conversation"]["preview"] == "cat.png"
    await agent.disconnect()
    await visitor_socket.disconnect()


async def test_the_visitors_socket_gets_the_agents_file(desk):
    conversation, token = await database_sync_to_async(visitor_chat)(desk)

    def claim():
        services.message_post(conversation_id=conversation.pk, author=conversation.visitor, body="Hi", client_id="v-0")
        services.conversation_claim(conversation_id=conversation.pk, agent=desk.agent)

    await database_sync_to_async(claim)()
    visitor_socket, _ = await open_visitor(desk.site, token=token)
    client = Client()
    await database_sync_to_async(client.force_login)(desk.agent.user)

    response = await database_sync_to_async(client.post)(
        f"/console/conversations/{conversation.pk}/attachments", {"file": upload("guide.pdf", PDF), "client_id": "a-f"}
    )
    assert response.status_code == 201
    frame = await receive_message(visitor_socket, response.json()["seq"])

    assert frame["message"]["sender"] == "agent"
    assert frame["message"]["attachment"]["name"] == "guide.pdf"
    assert frame["message"]["attachment"]["is_image"] is False
    assert "id" not in frame["message"]  # the visitor's payload, not the agent's

    await visitor_socket.send_json_to({"type": "sync", "conversation_id": conversation.pk, "after_seq": 0})
    synced = await receive_until(visitor_socket, "sync.result")
    assert synced["messages"][-1]["attachment"]["url"].startswith("/attachments/")
    await visitor_socket.disconnect()


# --- Transcripts: a file by its name, never a link that expires ---------------------------


def test_the_transcript_email_names_the_file_without_a_link(desk):
    from chat.emails import transcript_render

    conversation = claimed(desk)
    visitor_post(conversation, "broken zip.png", image_bytes())

    _, text, html = transcript_render(conversation)

    assert "broken zip.png (a file sent in the chat)" in text
    assert "broken zip.png (a file sent in the chat)" in html
    assert "/attachments/" not in text + html


def test_the_admin_transcript_marks_files_in_constant_queries(desk, django_user_model, django_assert_max_num_queries):
    conversation = claimed(desk)
    for number in range(4):
        visitor_post(conversation, f"photo {number}.png", image_bytes(), client_id=f"f-{number}")
    boss = django_user_model.objects.create_superuser(username="boss", password="pw", email="boss@example.com")
    client = Client()
    client.force_login(boss)

    with django_assert_max_num_queries(12):
        response = client.get(f"/admin/chat/conversation/{conversation.pk}/change/")

    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('<span class="mark file">file</span>') == 4
    assert "/attachments/" not in page


def test_refusals_speak_the_widgets_language(desk, client):
    desk.site.language = "de"
    desk.site.save()
    conversation, _ = visitor_chat(desk)
    _, other_token = make_visitor(site=desk.site)

    response = widget_upload(client, conversation, other_token, "a.txt", b"hello")

    assert response.json()["error"]["message"] == "Diesen Chat gibt es nicht."


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"--xyz\r\nContent-Disposition: form-data; name=file\r\n\r\nunfinished", "multipart/form-data"),
        (b"not a form at all", "multipart/form-data; boundary=xyz"),
        (b'{"file": "a.txt", "client_id": "c"}', "application/json"),
    ],
    ids=["no-boundary", "garbage", "json"],
)
def test_a_broken_upload_is_a_clear_400(desk, client, body, content_type):
    conversation, token = visitor_chat(desk)

    response = client.post(
        f"/widget/{desk.site.key}/conversations/{conversation.pk}/attachments",
        data=body,
        content_type=content_type,
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Visitor {token}",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_field"
