"""What each email says: subject, plain text and HTML, in the site's name and time zone, and in
the visitor's language (chat.languages.visitor_language: the site's fixed one, else the browser's)."""

import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from email.utils import formataddr, parseaddr
from typing import NamedTuple

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from agents.models import Agent

from ..languages import visitor_language
from ..models import Conversation, Message, OutboundEmail, Site

LINK_PATTERN = re.compile(r"https?://[^\s<>\"']+")
LINK_TRAILING_PUNCTUATION = ".,;:!?)]}'\""


class Rendered(NamedTuple):
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class TranscriptLine:
    name: str
    at: datetime
    body: str
    is_system: bool


def one_line(text: str) -> str:
    # A header may not contain a line break (Django refuses it), and a site name is free text.
    return " ".join(text.split())


def sender_address() -> str:
    """The address mail is sent from: the one domain the deployment may send for (SPF, DKIM)."""
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL


def site_reply_to(site: Site) -> str:
    """Where a visitor's answer to an email goes: the site's support address, else the default."""
    return site.email_reply_to or sender_address()


def site_from_header(site: Site) -> str:
    return formataddr((one_line(site.email_from_name or site.name), sender_address()))


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


def _line_body(message: Message) -> str:
    """A file shows as its name, never as a link: links expire, an email is kept for years."""
    if getattr(message, "attachment", None) is None:
        return message.body
    return _("%(name)s (a file sent in the chat)") % {"name": message.body}


def _agent_names(user_ids: set[int]) -> dict[int, str]:
    return dict(Agent.objects.filter(user_id__in=user_ids).values_list("user_id", "display_name"))


def _speaking_to(conversation: Conversation) -> translation.override:
    return translation.override(visitor_language(site=conversation.site, visitor=conversation.visitor))


def _render(name: str, subject: str, context: dict[str, object], zone: zoneinfo.ZoneInfo) -> Rendered:
    # The date filters convert to the active time zone, so that must be the site's; the caller
    # has activated the visitor's language.
    with timezone.override(zone):
        return Rendered(
            subject=one_line(subject),
            text=render_to_string(f"chat/email/{name}.txt", context),
            html=render_to_string(f"chat/email/{name}.html", context),
        )


def _base_context(conversation: Conversation, unsubscribe_url: str) -> dict[str, object]:
    site = conversation.site
    return {
        "site_name": site.email_from_name or site.name,
        "visitor_name": conversation.visitor.name,
        "reply_to": site_reply_to(site),
        "unsubscribe_url": unsubscribe_url,
    }


def transcript_render(conversation: Conversation, *, unsubscribe_url: str = "") -> Rendered:
    """A conversation's transcript, as its visitor saw it: private notes are never in it.
    Times are in the site's time zone."""
    with _speaking_to(conversation):
        return _transcript_render(conversation, unsubscribe_url=unsubscribe_url)


def _transcript_render(conversation: Conversation, *, unsubscribe_url: str) -> Rendered:
    site = conversation.site
    zone = _site_zone(site.time_zone)
    messages = list(
        conversation.messages.exclude(sender=Message.Sender.NOTE).select_related("attachment").order_by("seq")
    )
    agents = _agent_names({m.author_id for m in messages if m.author_id is not None})
    visitor_name = conversation.visitor.name or _("You")
    lines = []
    for message in messages:
        if message.sender == Message.Sender.VISITOR:
            name = visitor_name
        elif message.sender == Message.Sender.AGENT:
            name = agents.get(message.author_id or 0, _("Support"))
        else:
            name = site.name
        lines.append(
            TranscriptLine(
                name=name,
                at=message.created_at.astimezone(zone),
                body=_line_body(message),
                is_system=message.sender == Message.Sender.SYSTEM,
            )
        )
    started = conversation.created_at.astimezone(zone)
    context = _base_context(conversation, unsubscribe_url) | {
        "lines": lines,
        "started": started,
        "time_zone": str(zone),
        "links": _links([m.body for m in messages if m.sender == Message.Sender.AGENT]),
    }
    subject = _("Your chat with %(site)s on %(date)s") % {
        "site": site.name,
        "date": formats.date_format(started, pgettext("email date", "j F Y")),
    }
    return _render("transcript", subject, context, zone)


def chat_link(conversation: Conversation) -> str:
    """Where the visitor finds the chat again: the last page it was on (the widget is
    there, keeps the visitor's token and shows the chat with its late answer), else the
    site's first allowed origin."""
    pages = conversation.visitor.recent_pages or []
    if pages and isinstance(pages[-1], dict) and pages[-1].get("url"):
        return str(pages[-1]["url"])
    origins = [line.strip() for line in conversation.site.allowed_origins.splitlines() if line.strip()]
    return origins[0] if origins else ""


def follow_up_answers(email: OutboundEmail) -> list[Message]:
    """The agent's answers a follow-up email carries: from its first message up to the
    last one given before the email was claimed (notes and system lines left out)."""
    assert email.message is not None
    last = email.up_to_seq if email.up_to_seq is not None else email.message.seq
    return list(
        email.conversation.messages.filter(sender=Message.Sender.AGENT, seq__gte=email.message.seq, seq__lte=last)
        .select_related("attachment")
        .order_by("seq")
    )


def follow_up_render(email: OutboundEmail, *, unsubscribe_url: str = "") -> Rendered:
    """An agent's later answer(s) to a follow-up chat, with the way back to the chat."""
    with _speaking_to(email.conversation):
        return _follow_up_render(email, unsubscribe_url=unsubscribe_url)


def _follow_up_render(email: OutboundEmail, *, unsubscribe_url: str) -> Rendered:
    conversation = email.conversation
    site = conversation.site
    zone = _site_zone(site.time_zone)
    answers = follow_up_answers(email)
    names = _agent_names({m.author_id for m in answers if m.author_id is not None})
    context = _base_context(conversation, unsubscribe_url) | {
        "answers": [
            TranscriptLine(
                name=names.get(m.author_id or 0, _("Support")), at=m.created_at.astimezone(zone), body=_line_body(m),
                is_system=False,
            )
            for m in answers
        ],
        "links": _links([m.body for m in answers]),
        "chat_link": chat_link(conversation),
    }  # fmt: skip
    return _render("follow_up", _("An answer to your question from %(site)s") % {"site": site.name}, context, zone)


def review_request_render(conversation: Conversation, *, unsubscribe_url: str = "") -> Rendered:
    """R19: one short, polite request to review the site on the page it chose."""
    with _speaking_to(conversation):
        return _review_request_render(conversation, unsubscribe_url=unsubscribe_url)


def _review_request_render(conversation: Conversation, *, unsubscribe_url: str) -> Rendered:
    site = conversation.site
    zone = _site_zone(site.time_zone)
    agent_name = ""
    if conversation.assigned_agent_id is not None:
        agent_name = _agent_names({conversation.assigned_agent_id}).get(conversation.assigned_agent_id, "")
    context = _base_context(conversation, unsubscribe_url) | {
        "review_url": site.review_url,
        "agent_name": agent_name,
        "chat_date": (conversation.ended_at or conversation.created_at).astimezone(zone),
    }
    subject = _("How did we do? A quick review for %(site)s") % {"site": site.name}
    return _render("review_request", subject, context, zone)
