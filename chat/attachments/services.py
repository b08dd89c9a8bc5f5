"""Sending a file in a chat: checked, stored through Django's storage API, and posted as a
message whose body is the file's name, so transcripts, emails, search and previews read
naturally."""

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from agents.models import Agent

from ..errors import ChatError, ErrorCode
from ..models import Attachment, Conversation, Message, Site, Visitor
from ..selectors import conversation_for_agent, conversation_for_visitor
from ..services import message_post
from .files import file_check, name_sanitise


def site_attachment_types(site: Site) -> set[str]:
    return {line.strip().lower() for line in site.attachment_types.splitlines() if line.strip()}


def _limit(site: Site) -> int:
    return min(site.attachment_max_bytes, settings.CHAT_ATTACHMENT_MAX_BYTES)


def _read(upload: UploadedFile, site: Site) -> bytes:
    limit = _limit(site)
    if limit == 0:
        raise ChatError(ErrorCode.ATTACHMENT_TOO_LARGE, _("This chat does not accept files."))
    too_large = ChatError(
        ErrorCode.ATTACHMENT_TOO_LARGE,
        _("The file is too large: at most %(size)s.") % {"size": filesizeformat(limit)},
        max_bytes=limit,
    )
    if upload.size is not None and upload.size > limit:
        raise too_large
    # One byte more than allowed is enough to know, whatever size the client declared.
    upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise too_large
    if not data:
        raise ChatError(ErrorCode.ATTACHMENT_EMPTY)
    return data


def _conversation(conversation_id: int, author: Visitor | Agent) -> tuple[Conversation, Message.Sender]:
    """Who may send here, checked before any work on the file (and again under the lock)."""
    if isinstance(author, Visitor):
        return conversation_for_visitor(visitor=author, conversation_id=conversation_id), Message.Sender.VISITOR
    conversation = conversation_for_agent(agent=author, conversation_id=conversation_id)
    if conversation.assigned_agent_id != author.user_id:
        raise ChatError(ErrorCode.NOT_OWNER)
    return conversation, Message.Sender.AGENT


def _stored(conversation: Conversation, sender: Message.Sender, client_id: str) -> Message | None:
    return (
        Message.objects.filter(conversation=conversation, sender=sender, client_id=client_id)
        .select_related("attachment", "author__agent")
        .first()
    )


def attachment_post(
    *, conversation_id: int, author: Visitor | Agent, upload: UploadedFile, client_id: str
) -> tuple[Message, bool]:
    """Send `upload` in the conversation as the visitor or its owning agent; returns the
    message and whether it is new. A resend of `client_id` returns the stored one and
    stores no second file.

    The type is judged from the bytes only and must be in the site's list; images are
    re-encoded without their metadata. The message and the attachment row are written in
    one transaction (message_post), and go out like any message after the commit.
    """
    conversation, sender = _conversation(conversation_id, author)
    existing = _stored(conversation, sender, client_id)
    if existing is not None:
        return existing, False
    data = _read(upload, conversation.site)
    checked = file_check(data=data, name=upload.name or "")
    if checked.content_type not in site_attachment_types(conversation.site):
        raise ChatError(
            ErrorCode.ATTACHMENT_TYPE_REFUSED,
            _("Files of this type (%(type)s) cannot be sent here.") % {"type": checked.content_type},
        )
    name = name_sanitise(name=upload.name or "", content_type=checked.content_type)
    attachment = Attachment(
        conversation=conversation,
        name=name,
        content_type=checked.content_type,
        size=len(checked.data),
        is_image=checked.is_image,
    )
    # Stored before the transaction, so no row lock is held while a remote storage uploads;
    # removed again if nothing refers to it.
    attachment.file.save(name, ContentFile(checked.data), save=False)
    try:
        message, created = message_post(
            conversation_id=conversation.pk, author=author, body=name, client_id=client_id, attachment=attachment
        )
    except BaseException:
        attachment.file.delete(save=False)
        raise
    if not created:  # a resend that raced this one stored the file first
        attachment.file.delete(save=False)
    return message, created
