import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from feedback.conversation_events import Event, conversation_event_queue

from ..emails import email_queue_review_request, email_queue_transcript
from ..errors import ChatError, ErrorCode
from ..languages import language_best_match
from ..models import ConsentRecord, Conversation, Site, Topic, Visitor
from ..selectors import conversation_for_visitor, conversation_open_for_visitor, conversations_with_people

CONTACT_PURPOSES = {"transcript", "follow_up", "offline"}


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
    *,
    site: Site,
    token: str | None,
    identity: Identity | None = None,
    pages: list[object] | None = None,
    language: str | None = None,
) -> tuple[Visitor, str]:
    visitor, token = _visitor_identify(site=site, token=token, identity=identity)
    if pages:
        visitor = visitor_pages_record(visitor=visitor, pages=pages)
    # The browser's language as LANGUAGES knows it: emails and system messages are written in it.
    best = language_best_match(language)
    if best and best != visitor.language:
        visitor.language = best
        visitor.save(update_fields=["language"])
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
        # As bytes: compare_digest refuses str with non-ASCII characters, which a forger may send.
        if hmac.compare_digest(expected.encode(), identity.signature.encode()):
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


def conversation_start(*, visitor: Visitor, topic_slug: str | None, offline: bool = False) -> Conversation:
    """Open a conversation, or return the visitor's open one (a second tab, a double click).

    `offline`: a message left while nobody can answer live (R3); it queues like any chat."""
    topic = None
    if topic_slug:
        topic = Topic.objects.filter(site_id=visitor.site_id, slug=topic_slug).first()
        if topic is None:
            raise ChatError(ErrorCode.UNKNOWN_TOPIC)
    with transaction.atomic():
        # The visitor row lock serialises concurrent starts of the same visitor.
        locked = Visitor.objects.select_for_update().only("erased_at").get(pk=visitor.pk)
        if locked.erased_at is not None:
            # A socket that said hello before an erasure (chat.privacy) is being closed.
            raise ChatError(ErrorCode.HELLO_REQUIRED, gettext("Please reload the page to start a new chat."))
        existing = conversation_open_for_visitor(visitor=visitor)
        if existing is not None:
            return existing
        recent = Conversation.objects.filter(visitor=visitor, created_at__gte=timezone.now() - timedelta(minutes=1))
        if recent.count() >= settings.CHAT_VISITOR_CONVERSATIONS_PER_MINUTE:
            raise ChatError(
                ErrorCode.RATE_LIMITED, "You started several chats just now; wait a minute.", retry_after=60
            )
        conversation = Conversation.objects.create(
            site_id=visitor.site_id, visitor=visitor, topic=topic, is_offline_message=offline
        )
        conversation_event_queue(event=Event.CONVERSATION_CREATED, conversation=conversation)
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


def visitor_contact_set(
    *,
    visitor: Visitor,
    email: str,
    purpose: str,
    conversation_id: int | None = None,
    marketing_consent: bool = False,
    consent_wording: str = "",
) -> Visitor:
    """R4: the email a visitor chose to give, for a transcript, a follow-up answer or an
    offline message, never for marketing unless the separate box was ticked. Every
    change of marketing consent is logged with its time and the exact wording shown."""
    try:
        validate_email(email)
    except ValidationError:
        raise ChatError(ErrorCode.INVALID_FIELD, "That email address does not look right.") from None
    if purpose not in CONTACT_PURPOSES:
        raise ChatError(ErrorCode.INVALID_FIELD, f"'purpose' must be one of {', '.join(sorted(CONTACT_PURPOSES))}.")
    if marketing_consent and not consent_wording.strip():
        raise ChatError(ErrorCode.INVALID_FIELD, "Consent needs the exact wording the visitor agreed to.")
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().get(pk=visitor.pk)
        visitor.email = email
        visitor.save(update_fields=["email"])
        if conversation_id is not None:
            conversation = conversation_for_visitor(visitor=visitor, conversation_id=conversation_id)
            if purpose == "transcript":
                # Locked, so a chat ending at the same moment either sees the request or is seen ended here.
                conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
                conversation.transcript_requested = True
                conversation.save(update_fields=["transcript_requested"])
                if conversation.status == Conversation.Status.ENDED:
                    email_queue_transcript(conversation=conversation)
        last = visitor.consents.filter(kind=ConsentRecord.Kind.MARKETING).order_by("-recorded_at").first()
        if marketing_consent or (last is not None and last.given):
            ConsentRecord.objects.create(
                visitor=visitor,
                email=email,
                kind=ConsentRecord.Kind.MARKETING,
                given=marketing_consent,
                wording=consent_wording.strip() or (last.wording if last else ""),
            )
    return visitor


def conversation_rate(*, conversation_id: int, visitor: Visitor, rating: int, comment: str = "") -> Conversation:
    """R19: the visitor's 1-5 rating of its chat, with an optional comment; a later rating
    replaces an earlier one. A good rating of an ended chat may owe a review request."""
    if not 1 <= rating <= 5:
        raise ChatError(ErrorCode.INVALID_FIELD, "'rating' must be 1 to 5.")
    if len(comment) > 2000:
        raise ChatError(ErrorCode.INVALID_FIELD, "The comment can be at most 2000 characters.")
    with transaction.atomic():
        conversation = conversation_for_visitor(visitor=visitor, conversation_id=conversation_id)
        if conversation.assigned_agent_id is None:
            raise ChatError(ErrorCode.INVALID_FIELD, "A chat can be rated once an agent has answered.")
        conversation.rating = rating
        conversation.rating_comment = comment.strip()
        conversation.rated_at = timezone.now()
        conversation.save(update_fields=["rating", "rating_comment", "rated_at"])
        conversation_event_queue(event=Event.CONVERSATION_RATED, conversation=conversation)
        if conversation.status == Conversation.Status.ENDED:
            email_queue_review_request(conversation=conversation)
    return conversation
