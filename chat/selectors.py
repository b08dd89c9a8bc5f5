from datetime import datetime, timedelta

from django.db.models import Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from agents.models import Agent
from agents.selectors import agent_team_ids, routed_team_ids, routing_filter_for_agent

from .availability import site_local_now
from .errors import ChatError, ErrorCode
from .models import Conversation, Label, Message, Site, TrainingFlag, Trigger, TriggerFiring, Visitor

SYNC_PAGE_SIZE = 500


def conversations_with_people() -> QuerySet[Conversation]:
    """Conversations with what every payload shows, fetched in the same query."""
    return Conversation.objects.select_related("topic", "visitor", "assigned_agent__agent", "team")


def site_for_widget(*, key: str, origin: str | None) -> Site | None:
    """The site a widget socket may open for, or None when the key or origin is wrong."""
    site = Site.objects.filter(key=key).first()
    if site is None or not origin or not site.origin_allowed(origin):
        return None
    return site


def site_topics(*, site: Site) -> list[dict[str, str]]:
    return [{"slug": topic.slug, "name": topic.name} for topic in site.topics.all()]


def conversation_open_for_visitor(*, visitor: Visitor) -> Conversation | None:
    return conversations_with_people().filter(visitor=visitor).exclude(status=Conversation.Status.ENDED).first()


def conversation_for_visitor(*, visitor: Visitor, conversation_id: int) -> Conversation:
    """The visitor's own conversation; anyone else's is reported as not found."""
    conversation = conversations_with_people().filter(pk=conversation_id, visitor=visitor).first()
    if conversation is None:
        raise ChatError(ErrorCode.NOT_FOUND)
    return conversation


def agent_can_see(*, agent: Agent, conversation: Conversation) -> bool:
    if agent.is_supervisor or conversation.assigned_agent_id == agent.user_id:
        return True
    routed = routed_team_ids(team_id=conversation.team_id, topic_id=conversation.topic_id)
    return bool(set(routed) & set(agent_team_ids(agent)))


def labels_all() -> list[Label]:
    return list(Label.objects.order_by("name"))


def agent_can_label(*, agent: Agent, conversation: Conversation) -> bool:
    """Labels are put on by the chat's owner or a supervisor, as with ending or transferring it."""
    return agent.is_supervisor or conversation.assigned_agent_id == agent.user_id


def conversation_for_agent(*, agent: Agent, conversation_id: int) -> Conversation:
    """A conversation routed to the agent's teams, owned by it, or any for a supervisor."""
    conversation = conversations_with_people().filter(pk=conversation_id).first()
    if conversation is None or not agent_can_see(agent=agent, conversation=conversation):
        raise ChatError(ErrorCode.NOT_FOUND)
    return conversation


def messages_after(*, conversation: Conversation, after_seq: int, with_notes: bool) -> tuple[list[Message], bool]:
    """The next page of messages after `after_seq`, and whether more follow it.

    Private notes only `with_notes`: visitors never get them.
    """
    messages = Message.objects.filter(conversation=conversation, seq__gt=after_seq)
    if not with_notes:
        messages = messages.exclude(sender=Message.Sender.NOTE)
    rows = list(messages.select_related("author__agent", "attachment").order_by("seq")[: SYNC_PAGE_SIZE + 1])
    return rows[:SYNC_PAGE_SIZE], len(rows) > SYNC_PAGE_SIZE


def queue_for_agent(*, agent: Agent) -> list[Conversation]:
    """Queued chats the agent may claim, oldest first; empty ones wait for a first message."""
    queued = (
        conversations_with_people().filter(status=Conversation.Status.QUEUED, last_seq__gt=0).prefetch_related("labels")
    )
    if not agent.is_supervisor:
        queued = queued.filter(routing_filter_for_agent(agent)).distinct()
    return list(queued.order_by("created_at"))


def follow_ups_open() -> QuerySet[Conversation]:
    """Chats whose answer is still owed (R16), oldest first."""
    return conversations_with_people().filter(needs_follow_up=True).order_by("created_at")


def visitor_past_conversations(*, conversation: Conversation, limit: int = 10) -> list[Conversation]:
    """The visitor's other conversations, newest first, for the console's customer panel."""
    return list(
        conversations_with_people()
        .filter(visitor_id=conversation.visitor_id)
        .exclude(pk=conversation.pk)
        .prefetch_related("labels")
        .order_by("-created_at")[:limit]
    )


def chats_for_agent(*, agent: Agent) -> list[Conversation]:
    return list(
        conversations_with_people()
        .filter(assigned_agent_id=agent.user_id, status=Conversation.Status.ACTIVE)
        .prefetch_related("labels")
        .order_by("claimed_at")
    )


def triggers_for_browser(*, site: Site, browser_id: str, at: datetime | None = None) -> list[Trigger]:
    """The site's triggers that may still fire for this browser now (R2): active, within
    their hours (site time) and not shown to it within their frequency cap."""
    now = at or timezone.now()
    local = site_local_now(site, now).time()
    shown = dict(
        TriggerFiring.objects.filter(trigger__site=site, browser_id=browser_id)
        .values("trigger_id")
        .annotate(last=Max("shown_at"))
        .values_list("trigger_id", "last")
    )
    due = []
    for trigger in site.triggers.filter(is_active=True).order_by("pk"):
        if not trigger.is_within_hours(local):
            continue
        last = shown.get(trigger.pk)
        if last is not None and last > now - timedelta(hours=trigger.frequency_cap_hours):
            continue
        due.append(trigger)
    return due


def training_flags_for_agent(*, user_id: int, limit: int = 50) -> list[TrainingFlag]:
    """R23: the newest training flags on chats the agent owned or wrote in (a chat
    transferred away still teaches the agent who began it)."""
    wrote_in = Exists(Message.objects.filter(conversation=OuterRef("conversation"), author_id=user_id))
    flags = TrainingFlag.objects.filter(Q(conversation__assigned_agent_id=user_id) | wrote_in)
    return list(flags.select_related("conversation__visitor", "conversation__topic", "flagged_by__agent")[:limit])
