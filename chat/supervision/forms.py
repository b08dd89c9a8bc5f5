"""The charts page's filters: a date range, per day or week, one team, agent, site or label."""

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agents.forms import AgentChoiceField
from agents.models import Agent, Team

from ..metrics import Period, Scope
from ..models import Label, Site

DEFAULT_DAYS = 14
MAX_DAYS = 366  # a year, per day or per week: enough to compare seasons, bounded


class ReportFilterForm(forms.Form):
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))
    period = forms.ChoiceField(label=_("Per"), choices=[("day", _("Day")), ("week", _("Week"))], initial="day")
    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.order_by("name"), required=False, empty_label=_("All teams")
    )
    agent = AgentChoiceField(
        label=_("Agent"), queryset=Agent.objects.order_by("display_name"), required=False,
        empty_label=_("All agents"), to_field_name="user_id",
    )  # fmt: skip
    site = forms.ModelChoiceField(
        label=_("Site"), queryset=Site.objects.order_by("name"), required=False, empty_label=_("All sites")
    )
    label = forms.ModelChoiceField(
        label=_("Label"), queryset=Label.objects.order_by("name"), required=False, empty_label=_("All labels")
    )

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        today = timezone.localdate()
        defaults = {"start": today - timedelta(days=DEFAULT_DAYS - 1), "end": today, "period": "day"}
        # The page opens with the last two weeks; a filter changes only what it names.
        super().__init__({**{k: str(v) for k, v in defaults.items()}, **(data.dict() if data else {})}, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError(_("The end date comes before the start date."))
            if (end - start).days >= MAX_DAYS:
                raise forms.ValidationError(_("Pick at most %(days)s days.") % {"days": MAX_DAYS})
        return cleaned

    def scope(self) -> tuple[Scope, Period]:
        """The scope the form asks for; call after is_valid()."""
        data = self.cleaned_data
        agent = data.get("agent")
        site = data.get("site")
        team = data.get("team")
        scope = Scope(
            start=data["start"],
            end=data["end"],
            tz=report_time_zone(site),
            team_id=team.pk if team else None,
            agent_id=agent.user_id if agent else None,
            site_id=site.pk if site else None,
            label_id=data["label"].pk if data.get("label") else None,
        )
        return scope, data["period"]


def report_time_zone(site: Site | None) -> Any:
    """Hours of day and days in the site's time zone: the one chosen, or the only one;
    with several sites, the server's (settings.TIME_ZONE)."""
    if site is None:
        zones = list(Site.objects.values_list("time_zone", flat=True).distinct()[:2])
        if len(zones) != 1:
            return timezone.get_current_timezone()
        zone = zones[0]
    else:
        zone = site.time_zone
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.get_current_timezone()


def default_scope() -> tuple[Scope, Period]:
    today = timezone.localdate()
    return Scope(start=today - timedelta(days=DEFAULT_DAYS - 1), end=today, tz=report_time_zone(None)), "day"
