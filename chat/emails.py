"""Emails to visitors: the transcript (R18) and the follow-up answer (R16).

Every email is an `OutboundEmail` row, created in the transaction of the event that
causes it; `chat.tasks.send_email` is queued only after that commit and calls
`email_send`, which claims the row, sends it and marks it sent.

Delivery guarantee, honestly stated: at least once at the SMTP level, exactly once per
Message-ID. A claimed row is sent by one worker at a time; a worker that dies after
the claim leaves the row `sending`, and once the claim is older than the longest a
send may take (`claim_timeout`) the redelivered task claims it again. If the first
worker died after the SMTP server accepted the message but before the row was marked
sent, the resend carries the same Message-ID header, so the receiving side can drop
it as a duplicate. A worker killed before the server's reply to DATA delivered nothing
(an SMTP server takes a message only when it answers 250), so the resend is the one copy.
"""

import re
import smtplib
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import formataddr, make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from agents.models import Agent

from .models import Conversation, Message, OutboundEmail

# Seconds one SMTP operation may block; a send that hangs would hold its claim forever.
SMTP_TIMEOUT = 60
LINK_PATTERN = re.compile(r"https?://[^\s<>\"']+")
LINK_TRAILING_PUNCTUATION = ".,;:!?)]}'\""


def claim_timeout() -> timedelta:
    """How old a `sending` claim must be before another worker may take the row over:
    longer than a task may run (the hard time limit), so a live send is never doubled.
    `CHAT_EMAIL_CLAIM_TIMEOUT` (seconds) overrides it, e.g. in tests that kill workers."""
    seconds = getattr(settings, "CHAT_EMAIL_CLAIM_TIMEOUT", None)
    if seconds is None:
        seconds = (getattr(settings, "CELERY_TASK_TIME_LIMIT", None) or 300) + SMTP_TIMEOUT
    return timedelta(seconds=seconds)


# --- Rendering ------------------------------------------------------------------------


@dataclass(frozen=True)
class TranscriptLine:
    name: str
    at: datetime
    body: str
    is_system: bool


def _site_zone(time_zone: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _links(bodies: list[str]) -> list[str]:
    """The links agents shared (help-centre articles, pages), once each, in order."""
    found: list[str] = []
    for body in bodies:
        for match in LINK_PATTERN.findall(body):
            link = match.rstrip(LINK_TRAILING_PUNCTUATION)
            if link not in found:
                found.append(link)
    return found


def _agent_names(user_ids: set[int]) -> dict[int, str]:
    return dict(Agent.objects.filter(user_id__in=user_ids).values_list("user_id", "display_name"))


def _one_line(text: str) -> str:
    # A header may not contain a line break (Django refuses it), and a site name is free text.
    return " ".join(text.split())


def transcript_render(conversation: Conversation) -> tuple[str, str, str]:
    """Subject, plain text and HTML of a conversation's transcript, as its visitor saw it:
    private notes are never in it. Times are in the site's time zone."""
    site = conversation.site
    zone = _site_zone(site.time_zone)
    messages = list(conversation.messages.exclude(sender=Message.Sender.NOTE).order_by("seq"))
    agents = _agent_names({m.author_id for m in messages if m.author_id is not None})
    visitor_name = conversation.visitor.name or "You"
    lines = []
    for message in messages:
        if message.sender == Message.Sender.VISITOR:
            name = visitor_name
        elif message.sender == Message.Sender.AGENT:
            name = agents.get(message.author_id or 0, "Support")
        else:
            name = site.name
        lines.append(
            TranscriptLine(
                name=name,
                at=message.created_at.astimezone(zone),
                body=message.body,
                is_system=message.sender == Message.Sender.SYSTEM,
            )
        )
    started = conversation.created_at.astimezone(zone)
    context = {
        "site_name": site.name,
        "visitor_name": conversation.visitor.name,
        "lines": lines,
        "started": started,
        "time_zone": str(zone),
        "links": _links([m.body for m in messages if m.sender == Message.Sender.AGENT]),
        "reply_to": _reply_to(),
    }
    subject = _one_line(f"Your chat with {site.name} on {started:%d %b %Y}")
    # The date filters convert to the active time zone, so that must be the site's.
    with timezone.override(zone):
        return (
            subject,
            render_to_string("chat/email/transcript.txt", context),
            render_to_string("chat/email/transcript.html", context),
        )


def _chat_link(conversation: Conversation) -> str:
    """Where the visitor finds the chat again: the last page it was on (the widget is
    there and keeps the visitor's token), else the site's first allowed origin."""
    pages = conversation.visitor.recent_pages or []
    if pages and isinstance(pages[-1], dict) and pages[-1].get("url"):
        return str(pages[-1]["url"])
    origins = [line.strip() for line in conversation.site.allowed_origins.splitlines() if line.strip()]
    return origins[0] if origins else ""


def follow_up_render(message: Message) -> tuple[str, str, str]:
    """Subject, plain text and HTML of an agent's later answer to a follow-up chat."""
    conversation = message.conversation
    site = conversation.site
    context = {
        "site_name": site.name,
        "visitor_name": conversation.visitor.name,
        "agent_name": _agent_names({message.author_id}).get(message.author_id, "Support")
        if message.author_id is not None
        else "Support",
        "body": message.body,
        "at": message.created_at.astimezone(_site_zone(site.time_zone)),
        "chat_link": _chat_link(conversation),
        "reply_to": _reply_to(),
    }
    subject = _one_line(f"An answer to your question from {site.name}")
    with timezone.override(_site_zone(site.time_zone)):
        return (
            subject,
            render_to_string("chat/email/follow_up.txt", context),
            render_to_string("chat/email/follow_up.html", context),
        )


# --- Queueing ---------------------------------------------------------------------------


def _reply_to() -> str:
    # One support address for now; a per-site reply-to needs a Site field.
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL


def _new_message_id() -> str:
    domain = _reply_to().rpartition("@")[2] or "localhost"
    return make_msgid(domain=domain)


def _send_on_commit(email: OutboundEmail) -> None:
    from .tasks import send_email  # the tasks module imports the services, which import this one

    # robust: a broker that is down must not undo or fail the chat event; the row stays `ready`.
    email_id = email.pk

    def queue_send() -> None:
        send_email.delay(email_id)

    transaction.on_commit(queue_send, robust=True)


def email_queue_transcript(*, conversation: Conversation) -> OutboundEmail | None:
    """R18: owe the visitor its transcript, once per conversation however often this runs.
    Called inside the transaction that ends the chat (or records the request after it
    ended); the task is queued only when that commits. None without an address."""
    address = conversation.visitor.email
    if not address:
        return None
    email, created = OutboundEmail.objects.get_or_create(
        kind=OutboundEmail.Kind.TRANSCRIPT,
        conversation=conversation,
        defaults={
            "to_address": address,
            "subject": _one_line(f"Your chat with {conversation.site.name}"),
            "message_id_header": _new_message_id(),
        },
    )
    if created:
        _send_on_commit(email)
    return email


def email_queue_follow_up(*, message: Message) -> OutboundEmail | None:
    """R16: email an agent's later answer in a follow-up chat, once per message."""
    conversation = message.conversation
    address = conversation.visitor.email
    if not address:
        return None
    email, created = OutboundEmail.objects.get_or_create(
        kind=OutboundEmail.Kind.FOLLOW_UP,
        message=message,
        defaults={
            "conversation": conversation,
            "to_address": address,
            "subject": _one_line(f"An answer to your question from {conversation.site.name}"),
            "message_id_header": _new_message_id(),
        },
    )
    if created:
        _send_on_commit(email)
    return email


def email_retry(*, email_ids: list[int]) -> int:
    """Send failed emails again (the admin's "Retry sending"); returns how many."""
    with transaction.atomic():
        emails = list(
            OutboundEmail.objects.select_for_update().filter(pk__in=email_ids, state=OutboundEmail.State.FAILED)
        )
        for email in emails:
            email.state = OutboundEmail.State.READY
            email.save(update_fields=["state"])
            _send_on_commit(email)
    return len(emails)


# --- Sending ------------------------------------------------------------------------------


def _build(email: OutboundEmail) -> EmailMultiAlternatives:
    conversation = email.conversation
    if email.kind == OutboundEmail.Kind.TRANSCRIPT:
        subject, text, html = transcript_render(conversation)
    else:
        assert email.message is not None
        subject, text, html = follow_up_render(email.message)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=formataddr((_one_line(conversation.site.name), _reply_to())),
        to=[email.to_address],
        reply_to=[_reply_to()],
        headers={"Message-ID": email.message_id_header, "Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(html, "text/html")
    return message


def _is_permanent(exc: BaseException) -> bool:
    """A 5xx answer (bad address, refused sender) will not change on a retry."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False


def email_send(*, email_id: int, final_attempt: bool = False) -> OutboundEmail:
    """Claim the email, send it, mark it sent; a row already sent (or being sent by a
    live worker) is left alone, so running this twice sends one email.

    A temporary SMTP or network failure puts the row back to `ready` with the error and
    re-raises, for the task to retry later; on the `final_attempt`, and for a permanent
    refusal, the row ends `failed` (visible in the admin, which can retry it).
    """
    now = timezone.now()
    claimable = Q(state=OutboundEmail.State.READY) | Q(
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
        message = _build(email)
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
