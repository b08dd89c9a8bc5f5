from django.conf import settings
from django.db import models


class Team(models.Model):
    """A group of agents with a skill: the topics it serves (R5)."""

    name = models.CharField(max_length=100, unique=True)
    topics = models.ManyToManyField("chat.Topic", blank=True, related_name="teams")
    is_default = models.BooleanField(
        default=False, help_text="Receives the chats that have no topic, or a topic no team serves."
    )
    auto_assign = models.BooleanField(
        default=False, help_text="Give each queued chat to the least busy available agent of the team."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Agent(models.Model):
    """The agent profile of a Django user; without one a user cannot use the console."""

    class Status(models.TextChoices):
        ONLINE = "online", "Online"
        AWAY = "away", "Away"
        OFFLINE = "offline", "Offline"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent")
    display_name = models.CharField(max_length=100)
    teams = models.ManyToManyField(Team, blank=True, related_name="agents")
    is_supervisor = models.BooleanField(default=False, help_text="Sees every queue and every chat.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OFFLINE)
    max_chats = models.PositiveSmallIntegerField(default=3, help_text="Chats this agent carries at once (R8).")
    # Refreshed by the console socket's heartbeat; presence is "seen within the grace period".
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # When the agent last got a chat: auto-assignment breaks ties by the longest idle.
    last_assigned_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.display_name


class CannedResponse(models.Model):
    """A reply an agent inserts in one click (R13): shared by a team, or personal to its owner.

    The body may hold placeholders, `{visitor.name}` and `{agent.first_name}`, filled in per
    conversation by `agents.canned.canned_render`.
    """

    shortcut = models.SlugField(max_length=40, help_text='Typed after a slash in the composer, e.g. "refund".')
    title = models.CharField(max_length=120)
    body = models.TextField()
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="canned_responses")
    owner = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.CASCADE, related_name="canned_responses",
        help_text="Set for a personal response; leave empty and pick a team for a shared one.",
    )  # fmt: skip
    created_by = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    use_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["shortcut"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(team__isnull=False) ^ models.Q(owner__isnull=False),
                name="canned_team_xor_owner",
            )
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut} {self.title}"


class ComposerTerm(models.Model):
    """A word the composer flags (R11, R12), with what to say instead; editable per site."""

    class Kind(models.TextChoices):
        COLD = "cold", "Cold one-word reply"
        SLANG = "slang", "Slang or chat acronym"
        BLOCKED = "blocked", "Inappropriate for the brand"

    site = models.ForeignKey(
        "chat.Site", null=True, blank=True, on_delete=models.CASCADE, related_name="composer_terms",
        help_text="Empty: applies to every site.",
    )  # fmt: skip
    kind = models.CharField(max_length=10, choices=Kind.choices)
    term = models.CharField(max_length=60)
    suggestion = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["kind", "term"]
        constraints = [models.UniqueConstraint(fields=["site", "kind", "term"], name="composer_term_unique")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.term}"
