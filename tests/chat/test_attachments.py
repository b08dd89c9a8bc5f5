"""Files in chats: what a file really is (judged from its bytes), how images are made safe,
size limits, names, and resends (chat.attachments, docs/protocol.md "Files")."""

import io
import struct
import zlib

import pytest
from PIL import Image

from chat.attachments.files import NAME_MAX_LENGTH, file_check, name_sanitise
from chat.errors import ChatError, ErrorCode
from chat.models import Attachment

from .attachment_helpers import (
    PDF,
    image_bytes,
    refused,
    stored_files,
    visitor_chat,
    visitor_post,
    widget_upload,
)
from .factories import make_conversation

# --- What a file is: from its bytes, never from its name or the client's type -------------


def test_a_png_named_pdf_is_stored_as_the_png_it_is(desk):
    conversation = make_conversation(site=desk.site)

    message, created = visitor_post(conversation, "invoice.pdf", image_bytes("PNG"), content_type="application/pdf")

    attachment = message.attachment
    assert created
    assert (attachment.content_type, attachment.is_image, attachment.name) == ("image/png", True, "invoice.png")
    assert message.body == "invoice.png"  # transcripts, previews and search read the name
    with attachment.file.open("rb") as stored:
        assert Image.open(stored).format == "PNG"


@pytest.mark.parametrize(
    "data",
    [
        b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>",
        b"  <script>alert(1)</script>",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    ],
    ids=["html", "script", "svg-with-xml-declaration", "svg"],
)
def test_markup_renamed_as_an_image_is_refused(desk, media_root, data):
    conversation = make_conversation(site=desk.site)

    code = refused(lambda: visitor_post(conversation, "cat.png", data, content_type="image/png"))

    assert code == ErrorCode.ATTACHMENT_TYPE_REFUSED
    assert Attachment.objects.count() == 0 and stored_files(media_root) == []


def test_a_polyglot_image_loses_its_script_when_re_encoded(desk):
    conversation = make_conversation(site=desk.site)
    polyglot = image_bytes("GIF") + b"<script>alert(1)</script>"

    message, _ = visitor_post(conversation, "fun.gif", polyglot)

    with message.attachment.file.open("rb") as stored:
        data = stored.read()
    assert message.attachment.content_type == "image/gif"
    assert b"<script>" not in data


def test_an_unknown_binary_is_refused_with_its_real_type_named(desk):
    conversation = make_conversation(site=desk.site)

    with pytest.raises(ChatError) as error:
        visitor_post(conversation, "setup.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", content_type="image/png")

    assert error.value.code == ErrorCode.ATTACHMENT_TYPE_REFUSED
    assert "application/octet-stream" in error.value.message


def test_text_and_csv_are_told_apart_by_name_and_pdf_by_its_magic(desk):
    conversation = make_conversation(site=desk.site)

    csv, _ = visitor_post(conversation, "orders.csv", "id;Größe\n1;M\n".encode(), client_id="f-1")
    text, _ = visitor_post(conversation, "notes", b"plain words", client_id="f-2")
    pdf, _ = visitor_post(conversation, "receipt.PDF", PDF, client_id="f-3")

    assert [m.attachment.content_type for m in (csv, text, pdf)] == ["text/csv", "text/plain", "application/pdf"]
    assert [m.attachment.name for m in (csv, text, pdf)] == ["orders.csv", "notes.txt", "receipt.pdf"]
    assert not any(m.attachment.is_image for m in (csv, text, pdf))


def test_text_with_nul_bytes_is_no_text(desk):
    conversation = make_conversation(site=desk.site)

    assert refused(lambda: visitor_post(conversation, "a.txt", b"abc\x00def")) == ErrorCode.ATTACHMENT_TYPE_REFUSED


def test_a_type_the_site_does_not_allow_is_refused(desk):
    desk.site.attachment_types = "image/png\nimage/jpeg"
    desk.site.save()
    conversation = make_conversation(site=desk.site)

    assert refused(lambda: visitor_post(conversation, "r.pdf", PDF)) == ErrorCode.ATTACHMENT_TYPE_REFUSED
    message, _ = visitor_post(conversation, "ok.png", image_bytes("PNG"), client_id="f-2")
    assert message.attachment.content_type == "image/png"


# --- Images are re-encoded: no metadata, no bombs ---------------------------------------


def test_exif_and_gps_metadata_are_stripped_from_photos(desk):
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Industries"  # Make
    exif[0x8825] = {1: "N", 2: (59.0, 54.0, 48.0), 3: "E", 4: (10.0, 45.0, 7.0)}  # GPSInfo
    photo = image_bytes("JPEG", size=(16, 16), exif=exif.tobytes())
    assert b"SpyCam" in photo
    conversation = make_conversation(site=desk.site)

    message, _ = visitor_post(conversation, "holiday.jpg", photo)

    with message.attachment.file.open("rb") as stored:
        data = stored.read()
    assert b"SpyCam" not in data
    assert dict(Image.open(io.BytesIO(data)).getexif()) == {}
    assert message.attachment.size == len(data)


def test_transparency_survives_re_encoding():
    image = Image.new("P", (4, 4), 0)
    image.putpalette([255, 0, 0, 0, 255, 0])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=0)

    checked = file_check(data=buffer.getvalue(), name="logo.png")

    assert Image.open(io.BytesIO(checked.data)).info.get("transparency") == 0


def png_header_only(width: int, height: int) -> bytes:
    """A few bytes that claim a huge image: what a decompression bomb looks like to a header reader."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_a_decompression_bomb_is_refused_before_it_is_decoded(desk, media_root):
    conversation = make_conversation(site=desk.site)
    bomb = png_header_only(30_000, 30_000)
    assert len(bomb) < 200

    with pytest.raises(ChatError) as error:
        visitor_post(conversation, "bomb.png", bomb)

    assert error.value.code == ErrorCode.ATTACHMENT_TOO_LARGE
    assert "pixels" in error.value.message
    assert stored_files(media_root) == []


def test_a_truncated_image_is_refused(desk):
    conversation = make_conversation(site=desk.site)

    truncated = image_bytes("PNG", size=(64, 64))[:60]

    assert refused(lambda: visitor_post(conversation, "half.png", truncated)) == ErrorCode.ATTACHMENT_TYPE_REFUSED


# --- Sizes -------------------------------------------------------------------------------


def test_a_file_over_the_sites_limit_is_refused_with_413(desk, client):
    desk.site.attachment_max_bytes = 100
    desk.site.save()
    conversation, token = visitor_chat(desk)

    response = widget_upload(client, conversation, token, "big.txt", b"x" * 101)

    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "attachment_too_large" and error["max_bytes"] == 100
    assert "100" in error["message"]


def test_a_site_with_a_limit_of_0_accepts_no_files(desk, client):
    desk.site.attachment_max_bytes = 0
    desk.site.save()
    conversation, token = visitor_chat(desk)

    response = widget_upload(client, conversation, token, "a.txt", b"x")

    assert response.status_code == 413
    assert response.json()["error"]["message"] == "This chat does not accept files."


def test_the_global_ceiling_caps_every_sites_limit(desk, settings):
    settings.CHAT_ATTACHMENT_MAX_BYTES = 10
    conversation = make_conversation(site=desk.site)

    assert refused(lambda: visitor_post(conversation, "a.txt", b"x" * 11)) == ErrorCode.ATTACHMENT_TOO_LARGE


def test_an_empty_file_is_refused(desk, client):
    conversation, token = visitor_chat(desk)

    response = widget_upload(client, conversation, token, "empty.txt", b"")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "attachment_empty"


# --- Names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "content_type", "expected"),
    [
        ("../../etc/passwd", "text/plain", "passwd.txt"),
        ("C:\\Users\\ann\\report.csv", "text/csv", "report.csv"),
        (".htaccess", "text/plain", "htaccess.txt"),
        ("Re\u0301sume\u0301 Ünïcødé.pdf", "application/pdf", "Résumé Ünïcødé.pdf"),
        ("photo\u202egnp.exe", "image/png", "photognp.png"),  # shown as "photoexe.png" with the override
        ("a\x00b\x1f\nc.png", "image/png", "abc.png"),
        ('what?<>|:*".txt', "text/plain", "what_______.txt"),
        ("...", "text/plain", "file.txt"),
        ("cat.png.exe", "image/png", "cat.png.png"),
    ],
)
def test_names_are_sanitised(given, content_type, expected):
    assert name_sanitise(name=given, content_type=content_type) == expected


def test_a_very_long_name_is_capped_and_keeps_its_real_extension():
    name = name_sanitise(name="ä" * 500 + ".pdf", content_type="application/pdf")

    assert len(name) == NAME_MAX_LENGTH and name.endswith("ä.pdf")


def test_the_stored_file_name_is_random_not_the_senders(desk):
    conversation = make_conversation(site=desk.site)

    message, _ = visitor_post(conversation, "../../secret plans.txt", b"hello")

    assert "secret" not in message.attachment.file.name and ".." not in message.attachment.file.name
    assert message.attachment.name == "secret plans.txt"


# --- Resends -----------------------------------------------------------------------------


def test_a_resend_of_the_same_client_id_stores_one_file(desk, media_root, client):
    conversation, token = visitor_chat(desk)

    first = widget_upload(client, conversation, token, "a.png", image_bytes(), client_id="same")
    again = widget_upload(client, conversation, token, "a.png", image_bytes(), client_id="same")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["seq"] == again.json()["seq"]
    assert Attachment.objects.count() == 1
    assert len(stored_files(media_root)) == 1
