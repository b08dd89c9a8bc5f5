import zoneinfo
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

# A day: the cache is refreshed whenever an agent is saved, so this only bounds stale entries.
LOCALE_CACHE_SECONDS = 24 * 3600


def locale_cache_key(user_id: int) -> str:
    return f"agents:locale:{user_id}"


def validate_time_zone(value: str) -> None:
    if value and value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("Unknown time zone: %(zone)s. Use an IANA name such as Europe/Berlin."), params={"zone": value}
        )


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
        ONLINE = "online", _("Online")
        AWAY = "away", _("Away")
        OFFLINE = "offline", _("Offline")

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
    language = models.CharField(
        max_length=10, blank=True, choices=settings.LANGUAGES,
        help_text=_("Language of the console and admin; empty follows the browser."),
    )  # fmt: skip
    time_zone = models.CharField(
        max_length=64, blank=True, validators=[validate_time_zone],
        help_text=_(
            "Time zone of times shown on console and admin pages, e.g. Europe/Berlin; empty uses the "
            "server's default zone. Times drawn in the browser always use the browser's zone."
        ),
    )  # fmt: skip

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        # agents.middleware reads these on every page from the cache, never the database.
        cache.set(locale_cache_key(self.user_id), [self.language, self.time_zone], LOCALE_CACHE_SECONDS)


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
