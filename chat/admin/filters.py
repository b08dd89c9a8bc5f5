"""List filters of the transcript review on the metrics stored on each conversation (R23)."""

from django.contrib import admin

from agents.models import Agent, Team

from ..metrics import GOOD_RATING, canned_over_half, of_team
from .access import LONG_WAIT_SECONDS, is_supervisor

# The filters below list their choices from small tables (agents, teams) or fixed values,
# never with a DISTINCT over the conversations: the sidebar costs the same at 100,000 chats.


class AgentFilter(admin.SimpleListFilter):
    """By agent, named as in the console; the parameter is the one Django's own filter used."""

    title = "agent"
    parameter_name = "assigned_agent__id__exact"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        agents = Agent.objects.order_by("display_name")
        if not is_supervisor(request):
            agents = agents.filter(user_id=request.user.pk)
        return [(str(user_id), name) for user_id, name in agents.values_list("user_id", "display_name")] + [
            ("none", "Nobody (never claimed)")
        ]

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        value = self.value()
        if value == "none":
            return queryset.filter(assigned_agent__isnull=True)
        if value and value.isdigit():
            return queryset.filter(assigned_agent_id=int(value))
        return queryset


class RatingFilter(admin.SimpleListFilter):
    title = "rating"
    parameter_name = "rating__exact"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return [(str(value), f"{value} of 5") for value in range(5, 0, -1)] + [
            ("good", f"{GOOD_RATING} or better"),
            ("none", "Not rated"),
        ]

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        value = self.value()
        if value == "none":
            return queryset.filter(rating__isnull=True)
        if value == "good":
            return queryset.filter(rating__gte=GOOD_RATING)
        if value and value.isdigit():
            return queryset.filter(rating=int(value))
        return queryset


class LongWaitFilter(admin.SimpleListFilter):
    title = f"longest wait over {LONG_WAIT_SECONDS} s"
    parameter_name = "long_wait"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        if self.value() == "yes":
            return queryset.filter(longest_wait_seconds__gt=LONG_WAIT_SECONDS)
        if self.value() == "no":
            return queryset.filter(longest_wait_seconds__lte=LONG_WAIT_SECONDS)
        return queryset


class CannedShareFilter(admin.SimpleListFilter):
    title = "canned share over 50 %"
    parameter_name = "canned_share"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        if self.value() == "yes":
            return queryset.filter(canned_over_half())
        if self.value() == "no":
            return queryset.exclude(canned_over_half())
        return queryset


class WarningsOverriddenFilter(admin.SimpleListFilter):
    title = "warnings overridden"
    parameter_name = "warnings_overridden"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        if self.value() == "yes":
            return queryset.filter(warnings_overridden_count__gt=0)
        if self.value() == "no":
            return queryset.filter(warnings_overridden_count=0)
        return queryset


class TeamFilter(admin.SimpleListFilter):
    """The chat's team, by the routing rule (chat.metrics.of_team)."""

    title = "team"
    parameter_name = "team"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return [(str(pk), name) for pk, name in Team.objects.values_list("pk", "name")]

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        value = self.value()
        if not value or not value.isdigit():
            return queryset
        return queryset.filter(of_team(int(value)))
