"""R19: after a well-rated chat, a customer may be asked once for a review.

Who is asked: a customer (a visitor the site vouched for, R22; first-time visitors are
never asked) whose chat ended with a rating at or above the site's "good" mark, on a
site with a review page, at an address that opted in to optional mail (R4: a review
request is not transactional) and has not unsubscribed, and was not asked by this site
in the last 30 days. All of it is checked again when the email's time comes, so a
rating lowered or consent withdrawn in the meantime cancels it.

Timing: the row is written at once with `send_after` = the end (or rating) + the site's
delay, and the requeue sweep (beat, every minute) queues it once it is due. A Celery
`eta`/countdown of hours would not survive as well: the Redis transport keeps such a
task unacknowledged in one worker's memory, hands it to another after the visibility
timeout (so it runs more than once), and loses it with a purged queue. The row survives
any restart, and `email_send`'s claim sends it exactly once.
"""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from ..models import Conversation, OutboundEmail, Site
from .consent import optional_mail_allowed
from .queueing import owe_once

REVIEW_REQUEST_INTERVAL = timedelta(days=30)


def review_request_refusal(*, conversation: Conversation, address: str, exclude_pk: int | None = None) -> str:
    """Why this conversation's visitor must not be asked for a review ("" when it may)."""
    site = conversation.site
    if not site.review_url:
        return "the site has no review page"
    if not conversation.visitor.is_customer:
        return "not a known customer (first-time visitors are never asked)"
    if conversation.status != Conversation.Status.ENDED:
        return "the chat has not ended"
    if conversation.rating is None or conversation.rating < site.review_min_rating:
        return "the chat was not rated well"
    if not address:
        return "no email address"
    if not optional_mail_allowed(site_id=site.pk, address=address):
        return "no consent to optional email (never given, or unsubscribed)"
    asked = OutboundEmail.objects.filter(
        kind=OutboundEmail.Kind.REVIEW_REQUEST, conversation__site_id=site.pk, to_address__iexact=address
    ).filter(
        Q(state__in=[OutboundEmail.State.READY, OutboundEmail.State.SENDING])
        | Q(state=OutboundEmail.State.SENT, sent_at__gte=timezone.now() - REVIEW_REQUEST_INTERVAL)
    )
    if exclude_pk is not None:
        asked = asked.exclude(pk=exclude_pk)
    if asked.exists():
        return "already asked for a review in the last 30 days"
    return ""


def email_queue_review_request(*, conversation: Conversation) -> OutboundEmail | None:
    """Owe the visitor a review request if it qualifies now; called when a chat ends
    rated, or is rated after it ended, inside that transaction. None when it does not."""
    existing = OutboundEmail.objects.filter(kind=OutboundEmail.Kind.REVIEW_REQUEST, conversation=conversation).first()
    if existing is not None:
        return existing
    # Serialises the 30-day check across this site's chats ending at the same moment.
    site = Site.objects.select_for_update().get(pk=conversation.site_id)
    address = conversation.visitor.email
    if review_request_refusal(conversation=conversation, address=address):
        return None
    email, _ = owe_once(
        kind=OutboundEmail.Kind.REVIEW_REQUEST,
        conversation=conversation,
        address=address,
        subject=f"How did we do? A quick review for {site.name}",
        # Now is the later of the end and the rating: the question is addressed.
        send_after=timezone.now() + timedelta(hours=site.review_delay_hours),
        enqueued_at=None,  # the requeue sweep queues it when it is due
    )
    return email
