from django.db import models
from django.utils import timezone


class Source(models.TextChoices):
    """R22: who asked. R20 routes prospects to the CRM, customers to the product backlog."""

    PROSPECT = "prospect", "Prospect (visitor)"
    CUSTOMER = "customer", "Customer"


class FeedbackItem(models.Model):
    """One request, complaint or gap in the backlog; repeats are mentions of it (R20).

    On PostgreSQL the table also has a generated `search_vector` column (summary, weight A)
    with a GIN index, searched by knowledgebase/search.py like the articles.
    """

    class Kind(models.TextChoices):
        FEATURE = "feature", "Feature request"
        COMPLAINT = "complaint", "Complaint"
        BUG = "bug", "Bug"
        POLICY_GAP = "policy_gap", "Policy gap"

    class Status(models.TextChoices):
        NEW = "new", "New"
        REVIEWING = "reviewing", "Reviewing"
        PLANNED = "planned", "Planned"
        DONE = "done", "Done"
        DECLINED = "declined", "Declined"

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
