"""Site setup in admin: the site with its topics and hours, triggers and their firings, visitors."""

from django.contrib import admin
from django.db import models

from ..models import Holiday, OpeningHours, Site, Topic, Trigger, TriggerFiring, Visitor


class TopicInline(admin.TabularInline):
    model = Topic
    extra = 1
    prepopulated_fields = {"slug": ("name",)}


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "time_zone", "invitation_delay_seconds", "created_at"]
    readonly_fields = ["key", "identity_secret"]
    inlines = [TopicInline, OpeningHoursInline, HolidayInline]
    # The review page (R19): a bare "reviews.example.com" means https.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Trigger)
class TriggerAdmin(admin.ModelAdmin):
    list_display = ["name", "site", "url_pattern", "delay_seconds", "frequency_cap_hours", "is_active"]
    list_filter = ["site", "is_active"]


@admin.register(TriggerFiring)
class TriggerFiringAdmin(admin.ModelAdmin):
    list_display = ["trigger", "outcome", "page_url", "shown_at"]
    list_filter = ["trigger", "outcome"]
    readonly_fields = ["trigger", "browser_id", "outcome", "page_url", "shown_at"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin):
    list_display = ["__str__", "site", "email", "created_at", "last_seen_at"]
    list_filter = ["site", "is_customer"]
    search_fields = ["name", "email", "public_id", "external_id"]
    exclude = ["token_hash"]
    readonly_fields = ["public_id", "created_at", "last_seen_at"]
