"""Signed, expiring download links: whoever was shown a message may fetch its file for a
while; a link copied elsewhere stops working (CHAT_ATTACHMENT_URL_SECONDS)."""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from ..models import Attachment

SALT = "chat.attachment"


def attachment_url(attachment: Attachment) -> str:
    """A path, freshly signed: the widget puts the chat server's origin in front."""
    public_id = str(attachment.public_id)
    signed = signing.TimestampSigner(salt=SALT).sign(public_id)
    signature = signed[len(public_id) + 1 :]
    return reverse("chat:attachment_download", kwargs={"public_id": attachment.public_id, "signature": signature})


def attachment_signature_valid(*, public_id: str, signature: str) -> bool:
    try:
        signing.TimestampSigner(salt=SALT).unsign(
            f"{public_id}:{signature}", max_age=settings.CHAT_ATTACHMENT_URL_SECONDS
        )
    except signing.BadSignature:  # SignatureExpired is one
        return False
    return True
