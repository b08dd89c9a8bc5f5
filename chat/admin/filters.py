"""List filters of the transcript review on the metrics stored on each conversation (R23)."""

from django.contrib import admin
from django.utils.functional import lazy
from django.utils.translation import gettext, gettext_lazy

from agents.models import Agent, Team

from ..metrics import GOOD_RATING, canned_over_half, of_team
from ..models import Conversation, Label
from .access import LONG_WAIT_SECONDS, is_supervisor

# The filters below list their choices from small tables (agents, teams) or fixed values,
# never with a DISTINCT over the conversations: the sidebar costs the same at 100,000 chats.


class AgentFilter(admin.SimpleListFilter):
    """By agent, named as in the console; the parameter is the one Django's own filter used."""

    title = gettext_lazy("agent")
    parameter_name = "assigned_agent__id__exact"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        agents = Agent.objects.order_by("display_name")
        if not is_supervisor(request):
            agents = agents.filter(user_id=request.user.pk)
        return [(str(user_id), name) for user_id, name in agents.values_list("user_id", "display_name")] + [
            ("none", gettext_lazy("Nobody (never claimed)"))
        ]

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        value = self.value()
        if value == "none":
            return queryset.filter(assigned_agent__isnull=True)
        if value and value.isdigit():
            return queryset.filter(assigned_agent_id=int(value))
        return queryset


class LabelFilter(admin.SimpleListFilter):
    title = gettext_lazy("label")
    parameter_name = "label"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return [(str(pk), name) for pk, name in Label.objects.order_by("name").values_list("pk", "name")]

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        value = self.value()
        if value and value.isdigit():
            # A subquery, not a join on labels: a chat stays one row, with no DISTINCT.
            labelled = Conversation.labels.through.objects.filter(label_id=int(value)).values("conversation_id")
            return queryset.filter(pk__in=labelled)
        return queryset


class RatingFilter(admin.SimpleListFilter):
    title = gettext_lazy("rating")
    parameter_name = "rating__exact"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return [(str(value), f"{value} of 5") for value in range(5, 0, -1)] + [
            ("good", f"{GOOD_RATING} or better"),
            ("none", gettext_lazy("Not rated")),
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
    # Lazy as a whole: the number is filled in when the page renders, in the page's language.
    title = lazy(lambda: gettext("longest wait over %(seconds)s s") % {"seconds": LONG_WAIT_SECONDS}, str)()
    parameter_name = "long_wait"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return [("yes", gettext_lazy("Yes")), ("no", gettext_lazy("No"))]

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        if self.value() == "yes":
            return queryset.filter(longest_wait_seconds__gt=LONG_WAIT_SECONDS)
        if self.value() == "no":
            return queryset.filter(longest_wait_seconds__lte=LONG_WAIT_SECONDS)
        return queryset


class CannedShareFilter(admin.SimpleListFilter):
    title = gettext_lazy("canned share over 50 %")
    parameter_name = "canned_share"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return [("yes", gettext_lazy("Yes")), ("no", gettext_lazy("No"))]

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        if self.value() == "yes":
            return queryset.filter(canned_over_half())
        if self.value() == "no":
            return queryset.exclude(canned_over_half())
        return queryset


class WarningsOverriddenFilter(admin.SimpleListFilter):
    title = gettext_lazy("warnings overridden")
    parameter_name = "warnings_overridden"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return [("yes", gettext_lazy("Yes")), ("no", gettext_lazy("No"))]

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        if self.value() == "yes":
            return queryset.filter(warnings_overridden_count__gt=0)
        if self.value() == "no":
            return queryset.filter(warnings_overridden_count=0)
        return queryset


class TeamFilter(admin.SimpleListFilter):
    """The chat's team, by the routing rule (chat.metrics.of_team)."""

    title = gettext_lazy("team")
    parameter_name = "team"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return [(str(pk), name) for pk, name in Team.objects.values_list("pk", "name")]

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        value = self.value()
        if not value or not value.isdigit():
            return queryset
        return queryset.filter(of_team(int(value)))
