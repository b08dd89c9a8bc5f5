import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from django.db import transaction

from ..errors import ChatError, ErrorCode
from ..models import Conversation, Site, Topic, Visitor
from ..selectors import conversation_open_for_visitor, conversations_with_people


def token_hash(token: str) -> str:
    """Only this is stored, so a database leak gives no way into a visitor's chats."""
    return hashlib.sha256(token.encode()).hexdigest()


logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """A logged-in customer as the site vouches for them (docs/protocol.md, `hello`)."""

    external_id: str
    signature: str
    name: str = ""
    email: str = ""


def identity_signature(*, site: Site, external_id: str) -> str:
    """What the site's server computes: HMAC-SHA256 of the customer id with the site's secret."""
    return hmac.new(site.identity_secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()


def visitor_identify(
    *, site: Site, token: str | None, identity: Identity | None = None, pages: list[object] | None = None
) -> tuple[Visitor, str]:
    visitor, token = _visitor_identify(site=site, token=token, identity=identity)
    if pages:
        visitor = visitor_pages_record(visitor=visitor, pages=pages)
    return visitor, token


def _visitor_identify(*, site: Site, token: str | None, identity: Identity | None) -> tuple[Visitor, str]:
    """The visitor holding `token` on this site, or a new one with a new token.

    With a correctly signed `identity` it is the site's customer instead, the same on
    every device (R22), named when the site gave a name (R14). A bad signature is logged
    and the visitor stays anonymous rather than losing the chat.
    """
    known = Visitor.objects.filter(site=site, token_hash=token_hash(token)).first() if token else None
    if identity is not None:
        expected = identity_signature(site=site, external_id=identity.external_id)
        if hmac.compare_digest(expected, identity.signature):
            return _customer_identify(site=site, known=known, token=token, identity=identity)
        logger.warning("Rejected a customer identity with a bad signature on site %s", site.pk)
    if known is not None and token is not None:
        return known, token
    token = secrets.token_urlsafe(32)
    return Visitor.objects.create(site=site, token_hash=token_hash(token)), token


def _customer_identify(
    *, site: Site, known: Visitor | None, token: str | None, identity: Identity
) -> tuple[Visitor, str]:
    with transaction.atomic():
        customer = Visitor.objects.select_for_update().filter(site=site, external_id=identity.external_id).first()
        if customer is None:
            # An anonymous visitor who logs in keeps the chat it already had.
            customer = known if known is not None and not known.external_id else Visitor(site=site)
        customer.external_id = identity.external_id
        customer.is_customer = True
        customer.name = identity.name or customer.name
        customer.email = identity.email or customer.email
        if token is None or customer.token_hash != token_hash(token):
            # Another device: a fresh token for this one; the signature re-admits the others.
            token = secrets.token_urlsafe(32)
            customer.token_hash = token_hash(token)
        customer.save()
    return customer, token


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


RECENT_PAGES_KEPT = 20


def _clean_page(page: object) -> dict[str, str] | None:
    if not isinstance(page, dict):
        return None
    url, title, at = page.get("url"), page.get("title", ""), page.get("at", "")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    return {
        "url": url[:500],
        "title": title[:200] if isinstance(title, str) else "",
        "at": at[:40] if isinstance(at, str) else "",
    }


def visitor_pages_record(*, visitor: Visitor, pages: list[object]) -> Visitor:
    """Keep the pages the widget reports (at hello, then as the visitor browses), so the
    agent sees where the question came from. Malformed entries are dropped."""
    cleaned = [page for page in map(_clean_page, pages) if page is not None]
    if not cleaned:
        return visitor
    with transaction.atomic():
        locked = Visitor.objects.select_for_update().get(pk=visitor.pk)
        known = {(page["url"], page["at"]) for page in locked.recent_pages}
        fresh = [page for page in cleaned if (page["url"], page["at"]) not in known]
        locked.recent_pages = (locked.recent_pages + fresh)[-RECENT_PAGES_KEPT:]
        locked.save(update_fields=["recent_pages"])
    return locked
