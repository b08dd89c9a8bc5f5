"""Sending one email row: claim it, build the message, hand it to SMTP, mark it sent."""

import smtplib
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import F, Q
from django.utils import timezone

from ..models import OutboundEmail
from .consent import unsubscribe_url
from .rendering import (
    Rendered,
    follow_up_render,
    review_request_render,
    site_from_header,
    site_reply_to,
    transcript_render,
)

# Seconds one SMTP operation may block; a send that hangs would hold its claim forever.
SMTP_TIMEOUT = 60


def claim_timeout() -> timedelta:
    """How old a `sending` claim must be before another worker may take the row over:
    longer than a task may run (the hard time limit), so a live send is never doubled.
    `CHAT_EMAIL_CLAIM_TIMEOUT` (seconds) overrides it, e.g. in tests that kill workers."""
    seconds = getattr(settings, "CHAT_EMAIL_CLAIM_TIMEOUT", None)
    if seconds is None:
        seconds = (getattr(settings, "CELERY_TASK_TIME_LIMIT", None) or 300) + SMTP_TIMEOUT
    return timedelta(seconds=seconds)


def _unsubscribe_link(email: OutboundEmail) -> str:
    return unsubscribe_url(visitor_id=email.conversation.visitor_id, address=email.to_address)


def email_render(email: OutboundEmail, *, link: str | None = None) -> Rendered:
    """What the email says, rendered now (a resend after a crash says the same)."""
    link = link if link is not None else _unsubscribe_link(email)
    if email.kind == OutboundEmail.Kind.TRANSCRIPT:
        return transcript_render(email.conversation, unsubscribe_url=link)
    if email.kind == OutboundEmail.Kind.REVIEW_REQUEST:
        return review_request_render(email.conversation, unsubscribe_url=link)
    return follow_up_render(email, unsubscribe_url=link)


def email_build(email: OutboundEmail) -> EmailMultiAlternatives:
    """The message as it goes out: both parts, the site's name and reply-to, and the
    RFC 8058 headers that let a mail client unsubscribe in one click (a POST to the link)."""
    link = _unsubscribe_link(email)
    rendered = email_render(email, link=link)
    site = email.conversation.site
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=site_from_header(site),
        to=[email.to_address],
        reply_to=[site_reply_to(site)],
        headers={
            "Message-ID": email.message_id_header,
            "Auto-Submitted": "auto-generated",
            "List-Unsubscribe": f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


def _is_permanent(exc: BaseException) -> bool:
    """A 5xx answer (bad address, refused sender) will not change on a retry."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False


def _not_wanted(email: OutboundEmail) -> str:
    """Why a claimed optional email must not go after all ("" when it may)."""
    if email.kind != OutboundEmail.Kind.REVIEW_REQUEST:
        return ""
    from .reviews import review_request_refusal  # reviews queue rows, so it imports this module's package

    return review_request_refusal(conversation=email.conversation, address=email.to_address, exclude_pk=email.pk)


def email_send(*, email_id: int, final_attempt: bool = False) -> OutboundEmail:
    """Claim the email, send it, mark it sent; a row already sent (or being sent by a
    live worker, or not due yet) is left alone, so running this twice sends one email.

    A temporary SMTP or network failure puts the row back to `ready` with the error and
    re-raises, for the task to retry later; on the `final_attempt`, and for a permanent
    refusal, the row ends `failed` (visible in the admin, which can retry it). A review
    request that is no longer wanted when its time comes ends `cancelled`, unsent.
    """
    now = timezone.now()
    claimable = Q(state=OutboundEmail.State.READY, send_after__lte=now) | Q(
        state=OutboundEmail.State.SENDING, claimed_at__lt=now - claim_timeout()
    )
    # One conditional UPDATE, committed before any SMTP traffic: of two workers one wins,
    # and the claim survives the worker that made it.
    claimed = OutboundEmail.objects.filter(claimable, pk=email_id).update(
        state=OutboundEmail.State.SENDING, attempts=F("attempts") + 1, claimed_at=now
    )
    email = OutboundEmail.objects.select_related("conversation__site", "conversation__visitor", "message").get(
        pk=email_id
    )
    if not claimed:
        return email
    try:
        reason = _not_wanted(email)
        if reason:
            OutboundEmail.objects.filter(pk=email.pk, state=OutboundEmail.State.SENDING, claimed_at=now).update(
                state=OutboundEmail.State.CANCELLED, last_error=f"Not sent: {reason}."
            )
            email.refresh_from_db()
            return email
        message = email_build(email)
        with get_connection(timeout=SMTP_TIMEOUT) as connection:
            connection.send_messages([message])
    except (smtplib.SMTPException, OSError) as exc:
        permanent = _is_permanent(exc)
        _record_failure(email, exc, claimed_at=now, final=final_attempt or permanent)
        if permanent:
            email.refresh_from_db()
            return email
        raise
    except Exception as exc:
        # Not a delivery problem (a template, the database): retrying would not help.
        _record_failure(email, exc, claimed_at=now, final=True)
        raise
    # The server answered 250 (Django raises on anything else): record it in the same
    # UPDATE that ends the claim.
    OutboundEmail.objects.filter(pk=email.pk, state=OutboundEmail.State.SENDING).update(
        state=OutboundEmail.State.SENT, sent_at=timezone.now(), last_error=""
    )
    email.refresh_from_db()
    return email


def _record_failure(email: OutboundEmail, exc: BaseException, *, claimed_at: datetime, final: bool) -> None:
    state = OutboundEmail.State.FAILED if final else OutboundEmail.State.READY
    # Only while the claim is still ours: a worker that took over a stale claim decides.
    OutboundEmail.objects.filter(pk=email.pk, state=OutboundEmail.State.SENDING, claimed_at=claimed_at).update(
        state=state, last_error=f"{type(exc).__name__}: {exc}"[:2000]
    )
