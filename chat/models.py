import datetime as dt
import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def new_site_key() -> str:
    return secrets.token_urlsafe(12)


def new_identity_secret() -> str:
    return secrets.token_hex(32)


# Formats browsers show without running anything; SVG and HTML are left out on purpose.
DEFAULT_ATTACHMENT_TYPES = "\n".join(
    ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain", "text/csv"]
)


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
    time_zone = models.CharField(max_length=64, default="UTC", help_text="For business hours, e.g. Europe/Oslo.")
    invitation_delay_seconds = models.PositiveIntegerField(
        default=30, help_text="R1: seconds of browsing before the widget may invite; 0 never invites."
    )
    invitation_message = models.CharField(max_length=200, default="Questions? We're here to help.")
    # Emails to visitors: sent from DEFAULT_FROM_EMAIL (the domain that is allowed to send),
    # in the site's name, answered to the site's own support address.
    email_from_name = models.CharField(max_length=100, blank=True, help_text="Empty: the site's name.")
    email_reply_to = models.EmailField(blank=True, help_text="Where answers to emails go. Empty: DEFAULT_FROM_EMAIL.")
    # R19: where happy customers are asked to leave a review; empty sends no review requests.
    review_url = models.URLField(blank=True, help_text="R19: the review page. Empty: no review requests.")
    review_delay_hours = models.PositiveIntegerField(
        default=24, help_text="R19: hours after a well-rated chat ends before the review request goes."
    )
    review_min_rating = models.PositiveSmallIntegerField(
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="R19: the lowest rating (1-5) that counts as good.",
    )
    # Files in chats: both sides may send what this allows; anything else is refused.
    attachment_max_bytes = models.PositiveIntegerField(
        default=10 * 1024 * 1024, help_text="The largest file a visitor or agent may send, in bytes; 0 refuses files."
    )
    attachment_types = models.TextField(
        default=DEFAULT_ATTACHMENT_TYPES,
        help_text="Content types allowed in chats, one per line (e.g. image/png, application/pdf).",
    )
    language = models.CharField(
        max_length=10,
        blank=True,
        choices=settings.LANGUAGES,
        help_text="The widget's and emails' language. Empty: each visitor's browser language.",
    )
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Conversations ended longer ago than this are anonymised. Empty: kept until erased.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    def origin_allowed(self, origin: str) -> bool:
        allowed = {line.strip().rstrip("/").lower() for line in self.allowed_origins.splitlines()}
        return origin.rstrip("/").lower() in allowed


class OpeningHours(models.Model):
    """When agents answer (R3); a site with no rows is open around the clock."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name_plural = "opening hours"
        constraints = [models.CheckConstraint(condition=Q(closes__gt=models.F("opens")), name="hours_close_after_open")]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class Holiday(models.Model):
    """A day the site is closed whatever its hours say."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["site", "date"], name="holiday_unique_date")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class Trigger(models.Model):
    """A proactive message on matching pages (R2), shown at most once per visitor per window."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="triggers")
    name = models.CharField(max_length=100)
    url_pattern = models.CharField(
        max_length=300, help_text="Path with * wildcards, e.g. /products/*. Matched against the page's path."
    )
    delay_seconds = models.PositiveIntegerField(default=20, help_text="Seconds on the page before it shows.")
    message = models.CharField(max_length=300)
    active_from = models.TimeField(null=True, blank=True, help_text="Site time; empty: all day.")
    active_until = models.TimeField(
        null=True,
        blank=True,
        help_text="Site time; empty: until midnight. Before the start (22:00 to 06:00): across midnight.",
    )
    frequency_cap_hours = models.PositiveIntegerField(
        default=24, help_text="A visitor sees it at most once in this many hours, whichever page matches."
    )
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.active_from is not None and self.active_from == self.active_until:
            raise ValidationError({"active_until": "The hours end where they start: the trigger would never show."})

    def is_within_hours(self, local: dt.time) -> bool:
        """Within its hours at this site time; hours whose end comes before their start
        (22:00 to 06:00) run across midnight."""
        starts, ends = self.active_from, self.active_until
        if starts is not None and ends is not None and ends < starts:
            return local >= starts or local < ends
        return (starts is None or local >= starts) and (ends is None or local < ends)


class TriggerFiring(models.Model):
    """One showing of a trigger to one browser, and what the visitor did with it."""

    class Outcome(models.TextChoices):
        SHOWN = "shown", "Shown"
        OPENED = "opened", "Opened"
        REPLIED = "replied", "Replied"

    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="firings")
    # The widget's random browser id (localStorage): visitors without a chat have no row yet.
    browser_id = models.CharField(max_length=64)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SHOWN)
    page_url = models.CharField(max_length=500, blank=True)
    shown_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["trigger", "browser_id", "shown_at"])]

    def __str__(self) -> str:
        return f"{self.trigger} {self.outcome} {self.shown_at:%Y-%m-%d %H:%M}"


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
    # The browser's language when the visitor last said hello: emails are written in it.
    language = models.CharField(max_length=10, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    # Set when the visitor's personal data was erased (R4): the row stays so transcripts hold together.
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "external_id"], condition=~Q(external_id=""), name="visitor_unique_external_id"
            )
        ]

    def __str__(self) -> str:
        return self.name or self.email or _("Visitor %(id)s") % {"id": str(self.public_id)[:8]}


class Label(models.Model):
    """A tag on conversations (billing, bug, VIP), managed in admin and added from the console."""

    name = models.CharField(max_length=50, unique=True)
    colour = models.CharField(
        max_length=7,
        default="#6c757d",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour like #1a7f37.")],
    )
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        ACTIVE = "active", _("Active")
        ENDED = "ended", _("Ended")

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
    # Left while nobody was there to answer (R3): "leave a message".
    is_offline_message = models.BooleanField(default=False)
    transcript_requested = models.BooleanField(default=False, help_text="R18: email the transcript when it ends.")
    rating = models.PositiveSmallIntegerField(null=True, blank=True, help_text="R19: 1 (bad) to 5 (great).")
    rating_comment = models.TextField(blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
    # Read state: the highest seq each side has seen (only ever grows).
    agent_read_seq = models.PositiveIntegerField(default=0)
    visitor_read_seq = models.PositiveIntegerField(default=0)
    # R23: kept by message_insert as messages arrive, so review lists never compute them.
    longest_wait_seconds = models.PositiveIntegerField(
        default=0, help_text="The longest a customer message waited for an agent's reply."
    )
    agent_message_count = models.PositiveIntegerField(default=0)
    canned_message_count = models.PositiveIntegerField(default=0)
    warnings_overridden_count = models.PositiveIntegerField(default=0)
    # R24: nobody took it in time (it stays queued and owed: see needs_follow_up)...
    missed_at = models.DateTimeField(null=True, blank=True)
    # ...or both sides fell silent and it was closed for them.
    abandoned_at = models.DateTimeField(null=True, blank=True)
    preview = models.CharField(max_length=140, blank=True, help_text="First words of the latest customer message.")
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # The customer's oldest message no agent has answered yet (R9); null when answered.
    waiting_since = models.DateTimeField(null=True, blank=True)
    labels = models.ManyToManyField(Label, blank=True, related_name="conversations")
    # Set when its personal data was erased or its retention ran out: texts read "[erased]".
    anonymised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["assigned_agent", "status"]),
            # The review list's order: its newest 100 read from the index, not by sorting all.
            models.Index(fields=["-created_at", "-id"], name="conversation_newest_first"),
        ]
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


def attachment_upload_to(instance: "Attachment", filename: str) -> str:
    # A random name: the visitor's file name never reaches the file system or a URL path.
    return f"attachments/{instance.created_at:%Y/%m}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    """A file sent in a chat, stored through Django's storage API and served only to the
    conversation's visitor and agents, by signed, expiring URLs."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="attachments")
    # The message that carries it; one message, one file.
    message = models.OneToOneField(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="attachment")
    file = models.FileField(upload_to=attachment_upload_to, max_length=255)
    # The sender's file name, sanitised: shown, and given as the download name.
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    # Images are re-encoded on upload and shown inline; everything else is a download.
    is_image = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.name} in #{self.conversation_id}"


class PersonalDataAction(models.Model):
    """R4: every export, erasure and retention run of personal data, kept as proof."""

    class Kind(models.TextChoices):
        EXPORT = "export", "Export"
        ERASE = "erase", "Erasure"
        RETENTION = "retention", "Retention (anonymised by age)"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    # What was asked for: an email address or a visitor id, as typed.
    subject = models.CharField(max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Counts and ids of what was found or changed, never the personal data itself.
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.subject} {self.created_at:%Y-%m-%d %H:%M}"


class ConsentRecord(models.Model):
    """R4: proof of what a visitor agreed to (or withdrew), in the exact wording shown."""

    class Kind(models.TextChoices):
        MARKETING = "marketing", "Marketing email"

    class Source(models.TextChoices):
        WIDGET = "widget", "Chat widget"
        UNSUBSCRIBE_PAGE = "unsubscribe_page", "Unsubscribe link"
        ONE_CLICK = "one_click", "One-click unsubscribe (mail client)"

    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="consents")
    email = models.EmailField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    given = models.BooleanField()
    wording = models.TextField()
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.WIDGET)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-recorded_at"]

    def __str__(self) -> str:
        return f"{self.email} {self.kind} {'given' if self.given else 'withdrawn'}"


class OutboundEmail(models.Model):
    """One email owed to a visitor (R16 follow-up answer, R18 transcript, R19 review request), written in the
    same transaction as the event that causes it and sent by `chat.tasks.send_email`.

    The state says who may send it: a worker claims a `ready` row (or a `sending` row
    whose worker died, see `chat.emails.email_send`), and only a claimed row is sent.
    """

    class Kind(models.TextChoices):
        TRANSCRIPT = "transcript", "Transcript"
        FOLLOW_UP = "follow_up", "Follow-up answer"
        REVIEW_REQUEST = "review_request", "Review request"

    class State(models.TextChoices):
        READY = "ready", "Ready"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        # No longer wanted when its time came (consent withdrawn, rating lowered): never sent.
        CANCELLED = "cancelled", "Cancelled"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="emails")
    # A follow-up email carries the agent's answers from this message up to `up_to_seq`:
    # answers given before the email is claimed join it instead of making another one.
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="emails")
    up_to_seq = models.PositiveIntegerField(null=True, blank=True)
    to_address = models.EmailField()
    subject = models.CharField(max_length=200)
    state = models.CharField(max_length=10, choices=State.choices, default=State.READY)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # Fixed when the row is made, so every attempt carries the same header and a
    # receiver can tell a resend after a worker crash from a new email.
    message_id_header = models.CharField("Message-ID", max_length=255, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Not sent before this (a review request's delay, a follow-up's batching window).
    send_after = models.DateTimeField(default=timezone.now)
    # When the last task queued for it was due to run; null: none queued yet (a review
    # request waits for the sweep). A `ready` row whose task is long overdue was lost.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "created_at"]), models.Index(fields=["state", "send_after"])]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"], condition=Q(kind="transcript"), name="outbound_email_one_transcript"
            ),
            models.UniqueConstraint(
                fields=["conversation"], condition=Q(kind="review_request"), name="outbound_email_one_review_request"
            ),
            models.UniqueConstraint(
                fields=["message"], condition=Q(kind="follow_up"), name="outbound_email_one_follow_up"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.to_address} ({self.state})"


class TrainingFlag(models.Model):
    """R23: a supervisor marks a chat as a training example (good or bad), with why."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="training_flags")
    flagged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="training_flags"
    )
    note = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"#{self.conversation_id} flagged {self.created_at:%Y-%m-%d %H:%M}"


class TranscriptView(models.Model):
    """Who opened which transcript when: customers' words are personal data."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="transcript_views")
    viewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="transcript_views"
    )
    viewed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-viewed_at"]
        indexes = [models.Index(fields=["conversation", "viewed_at"])]

    def __str__(self) -> str:
        return f"#{self.conversation_id} viewed {self.viewed_at:%Y-%m-%d %H:%M}"
