import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


def new_site_key() -> str:
    return secrets.token_urlsafe(12)


def new_identity_secret() -> str:
    return secrets.token_hex(32)


class Site(models.Model):
    """A website that embeds the widget."""

    name = models.CharField(max_length=200)
    key = models.CharField(max_length=64, unique=True, default=new_site_key)
    allowed_origins = models.TextField(
        blank=True,
        help_text="One origin per line, e.g. https://shop.example.com. The widget is refused elsewhere.",
    )
    identity_secret = models.CharField(
        max_length=64,
        default=new_identity_secret,
        help_text="Signs logged-in customers: the site's server sends HMAC-SHA256(secret, customer id) "
        "with the id, so nobody can claim to be a customer (docs/protocol.md, hello).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    def origin_allowed(self, origin: str) -> bool:
        allowed = {line.strip().rstrip("/").lower() for line in self.allowed_origins.splitlines()}
        return origin.rstrip("/").lower() in allowed


class Topic(models.Model):
    """What a visitor may pick before chatting (R5); teams serve topics."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="topics")
    slug = models.SlugField(max_length=50)
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        constraints = [models.UniqueConstraint(fields=["site", "slug"], name="topic_unique_slug_per_site")]

    def __str__(self) -> str:
        return self.name


class Visitor(models.Model):
    """An anonymous person on a site, known by a secret token the widget keeps.

    Only a SHA-256 of the token is stored, so a database leak gives no way in.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="visitors")
    token_hash = models.CharField(max_length=64, unique=True)
    # The site's own id of a logged-in customer, verified by signature (R22).
    external_id = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    # R22: a customer (has an account with the company) wants the right answer; a visitor
    # (a prospect) is a chance for a sign-up. The console shows which.
    is_customer = models.BooleanField(default=False)
    # The last pages the visitor opened on the site, as the widget reports them, newest
    # last: [{"url", "title", "at"}]. Kept short; the agent sees where the question came from.
    recent_pages = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "external_id"], condition=~Q(external_id=""), name="visitor_unique_external_id"
            )
        ]

    def __str__(self) -> str:
        return self.name or self.email or f"Visitor {str(self.public_id)[:8]}"


class Conversation(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="conversations")
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="conversations")
    topic = models.ForeignKey(Topic, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    assigned_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    # Set by a transfer to a team; otherwise the topic decides the team (agents.selectors).
    team = models.ForeignKey("agents.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The last sequence number handed out; message_post increments it under the row lock.
    last_seq = models.PositiveIntegerField(default=0)
    # The last one the visitor may see: private notes take numbers the visitor never gets.
    last_public_seq = models.PositiveIntegerField(default=0)
    needs_follow_up = models.BooleanField(default=False, help_text="R16: the answer is owed later, by email.")
    preview = models.CharField(max_length=140, blank=True, help_text="First words of the latest customer message.")
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # The customer's oldest message no agent has answered yet (R9); null when answered.
    waiting_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"]), models.Index(fields=["assigned_agent", "status"])]
        constraints = [
            # One open chat per visitor: a second tab or a double click returns the same one.
            models.UniqueConstraint(
                fields=["visitor"], condition=~Q(status="ended"), name="conversation_one_open_per_visitor"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.visitor}"


class Message(models.Model):
    class Sender(models.TextChoices):
        VISITOR = "visitor", "Visitor"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"
        NOTE = "note", "Private note"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField()
    sender = models.CharField(max_length=10, choices=Sender.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    # NULL (not "") for system messages, so the unique constraint below ignores them.
    client_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    # Set by message_post, so the conversation's timing columns carry the same instant.
    created_at = models.DateTimeField(default=timezone.now)
    # R13: the canned response it started from, and how much of it the agent changed (0-1).
    canned_response = models.ForeignKey(
        "agents.CannedResponse", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    canned_edit_ratio = models.FloatField(null=True, blank=True)
    # R10-R12: the composer warnings the agent chose to send anyway (codes).
    warnings_overridden = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_unique_seq"),
            # A resend of the same client message is stored once.
            models.UniqueConstraint(
                fields=["conversation", "sender", "client_id"],
                condition=Q(client_id__isnull=False),
                name="message_unique_client_id",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.conversation_id}.{self.seq} {self.sender}"
