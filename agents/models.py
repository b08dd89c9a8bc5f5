from django.conf import settings
from django.db import models


class Team(models.Model):
    """A group of agents with a skill: the topics it serves (R5)."""

    name = models.CharField(max_length=100, unique=True)
    topics = models.ManyToManyField("chat.Topic", blank=True, related_name="teams")
    is_default = models.BooleanField(
        default=False, help_text="Receives the chats that have no topic, or a topic no team serves."
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
    max_chats = models.PositiveSmallIntegerField(default=3)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.display_name
