import hashlib
import secrets

from django.db import transaction

from ..errors import ChatError, ErrorCode
from ..models import Conversation, Site, Topic, Visitor
from ..selectors import conversation_open_for_visitor, conversations_with_people


def token_hash(token: str) -> str:
    """Only this is stored, so a database leak gives no way into a visitor's chats."""
    return hashlib.sha256(token.encode()).hexdigest()


def visitor_identify(*, site: Site, token: str | None) -> tuple[Visitor, str]:
    """The visitor holding `token` on this site, or a new one with a new token."""
    if token:
        visitor = Visitor.objects.filter(site=site, token_hash=token_hash(token)).first()
        if visitor is not None:
            return visitor, token
    token = secrets.token_urlsafe(32)
    return Visitor.objects.create(site=site, token_hash=token_hash(token)), token


def conversation_start(*, visitor: Visitor, topic_slug: str | None) -> Conversation:
    """Open a conversation, or return the visitor's open one (a second tab, a double click)."""
    topic = None
    if topic_slug:
        topic = Topic.objects.filter(site_id=visitor.site_id, slug=topic_slug).first()
        if topic is None:
            raise ChatError(ErrorCode.UNKNOWN_TOPIC)
    with transaction.atomic():
        # The visitor row lock serialises concurrent starts of the same visitor.
        Visitor.objects.select_for_update().filter(pk=visitor.pk).first()
        existing = conversation_open_for_visitor(visitor=visitor)
        if existing is not None:
            return existing
        conversation = Conversation.objects.create(site_id=visitor.site_id, visitor=visitor, topic=topic)
    # The queue learns of it with the first message, so agents never see empty chats.
    return conversations_with_people().get(pk=conversation.pk)
