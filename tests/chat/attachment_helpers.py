"""What the attachment tests share: sample files, uploads as each side sends them, chats."""

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from chat import services
from chat.attachments.services import attachment_post
from chat.errors import ChatError, ErrorCode
from chat.models import Conversation
from chat.payloads import message_payload

from .factories import ORIGIN, make_conversation, make_visitor

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def image_bytes(image_format: str = "PNG", size: tuple[int, int] = (8, 6), **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=image_format, **options)
    return buffer.getvalue()


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def claimed(desk) -> Conversation:
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    services.message_post(conversation_id=conversation.pk, author=conversation.visitor, body="Hi", client_id="v-0")
    services.conversation_claim(conversation_id=conversation.pk, agent=desk.agent)
    return conversation


def visitor_post(conversation: Conversation, name: str, data: bytes, client_id: str = "f-1", **kwargs):
    return attachment_post(
        conversation_id=conversation.pk,
        author=conversation.visitor,
        upload=upload(name, data, **kwargs),
        client_id=client_id,
    )


def widget_upload(
    client: Client, conversation: Conversation, token: str, name: str, data: bytes, client_id: str = "f-1"
):
    return client.post(
        f"/widget/{conversation.site.key}/conversations/{conversation.pk}/attachments",
        {"file": upload(name, data), "client_id": client_id},
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Visitor {token}",
    )


def visitor_chat(desk) -> tuple[Conversation, str]:
    visitor, token = make_visitor(site=desk.site)
    return make_conversation(site=desk.site, visitor=visitor, topic=desk.topic), token


def refused(call) -> ErrorCode:
    with pytest.raises(ChatError) as error:
        call()
    return error.value.code


def download_url(message) -> str:
    return message_payload(message)["attachment"]["url"]
