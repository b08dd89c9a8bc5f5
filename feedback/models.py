import secrets
from typing import Any

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Source(models.TextChoices):
    """R22: who asked. R20 routes prospects to the CRM, customers to the product backlog."""

    PROSPECT = "prospect", _("Prospect (visitor)")
    CUSTOMER = "customer", _("Customer")


class FeedbackItem(models.Model):
    """One request, complaint or gap in the backlog; repeats are mentions of it (R20).

    On PostgreSQL the table also has a generated `search_vector` column (summary, weight A)
    with a GIN index, searched by knowledgebase/search.py like the articles.
    """

    class Kind(models.TextChoices):
        FEATURE = "feature", _("Feature request")
        COMPLAINT = "complaint", _("Complaint")
        BUG = "bug", _("Bug")
        POLICY_GAP = "policy_gap", _("Policy gap")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        REVIEWING = "reviewing", _("Reviewing")
        PLANNED = "planned", _("Planned")
        DONE = "done", _("Done")
        DECLINED = "declined", _("Declined")

    OPEN_STATUSES = (Status.NEW, Status.REVIEWING, Status.PLANNED)

    kind = models.CharField(max_length=12, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    # From the chat it was first logged from.
    source = models.CharField(max_length=10, choices=Source.choices)
    summary = models.CharField(max_length=200)
    created_by = models.ForeignKey("agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary}"


class Mention(models.Model):
    """One chat in which the item came up, with the customer's own words."""

    item = models.ForeignKey(FeedbackItem, on_delete=models.CASCADE, related_name="mentions")
    conversation = models.ForeignKey("chat.Conversation", on_delete=models.CASCADE, related_name="feedback_mentions")
    agent = models.ForeignKey("agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(max_length=10, choices=Source.choices)
    quote = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["item", "created_at"])]
        constraints = [
            # Logging the same chat against the same item twice counts once.
            models.UniqueConstraint(fields=["item", "conversation"], name="mention_one_per_conversation")
        ]

    def __str__(self) -> str:
        return f"{self.item_id} in #{self.conversation_id}"


def new_webhook_secret() -> str:
    return secrets.token_hex(32)


def _subscriptions_changed() -> None:
    from .webhooks import webhook_subscriptions_forget  # webhooks imports this module

    # Now, for this transaction's own events, and after the commit, in case another
    # request refilled the cache from the rows as they were before it.
    webhook_subscriptions_forget()
    transaction.on_commit(webhook_subscriptions_forget)


class WebhookEndpoint(models.Model):
    """Where events go. R20: feedback items and mentions by `audience` (prospects' to the CRM,
    customers' to the product backlog); conversation events by the names in `events`."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    # Which feedback it receives: items whose source is this audience; blank: none.
    audience = models.CharField(
        max_length=10,
        choices=Source.choices,
        blank=True,
        help_text=_("Feedback items from this audience; blank: none."),
    )
    # Which conversation events it receives (WebhookDelivery.CONVERSATION_EVENTS names).
    events = models.JSONField(default=list, blank=True, help_text=_("Conversation events sent to this endpoint."))
    # Signs every body (X-Helpdesk-Signature); the receiver holds a copy.
    secret = models.CharField(max_length=64, default=new_webhook_secret, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_audience_display() or ', '.join(self.events)})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        _subscriptions_changed()

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        deleted = super().delete(*args, **kwargs)
        _subscriptions_changed()
        return deleted

    def receives(self, *, event: str, audience: str = "") -> bool:
        """Feedback events go by audience, every other event by subscription."""
        if event in WebhookDelivery.FEEDBACK_EVENTS:
            return bool(self.audience) and self.audience == audience
        return event in self.events


class WebhookDelivery(models.Model):
    """One event owed to one endpoint, written in the transaction of the event and sent by
    `feedback.tasks.deliver_webhook`; once `delivered` it is never sent again."""

    class Event(models.TextChoices):
        ITEM_CREATED = "item.created", "Item created"
        MENTION_CREATED = "mention.created", "Mention created"
        CONVERSATION_CREATED = "conversation.created", _("Conversation created")
        CONVERSATION_CLAIMED = "conversation.claimed", _("Conversation claimed")
        MESSAGE_CREATED = "message.created", _("Message created")
        CONVERSATION_ENDED = "conversation.ended", _("Conversation ended")
        CONVERSATION_RATED = "conversation.rated", _("Conversation rated")

    class State(models.TextChoices):
        READY = "ready", "Ready"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    FEEDBACK_EVENTS = (Event.ITEM_CREATED, Event.MENTION_CREATED)
    CONVERSATION_EVENTS = (
        Event.CONVERSATION_CREATED,
        Event.CONVERSATION_CLAIMED,
        Event.MESSAGE_CREATED,
        Event.CONVERSATION_ENDED,
        Event.CONVERSATION_RATED,
    )

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, choices=Event.choices)
    payload = models.JSONField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.READY)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["state", "created_at"])]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk} to {self.endpoint_id}"


class WebhookAttempt(models.Model):
    """One POST of a delivery and how it went."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.at:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error[:40]}"
