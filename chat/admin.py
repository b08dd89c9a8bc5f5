from django.contrib import admin, messages

from .emails import email_retry
from .models import (
    ConsentRecord,
    Conversation,
    Holiday,
    Message,
    OpeningHours,
    OutboundEmail,
    Site,
    Topic,
    Trigger,
    TriggerFiring,
    Visitor,
)


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


@admin.register(ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin):
    """Proof of consent (R4): read-only, never edited after the fact."""

    list_display = ["email", "kind", "given", "recorded_at"]
    list_filter = ["kind", "given"]
    search_fields = ["email"]
    readonly_fields = ["visitor", "email", "kind", "given", "wording", "recorded_at"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin):
    list_display = ["__str__", "site", "email", "created_at", "last_seen_at"]
    list_filter = ["site", "is_customer"]
    search_fields = ["name", "email", "public_id", "external_id"]
    exclude = ["token_hash"]
    readonly_fields = ["public_id", "created_at", "last_seen_at"]


class MessageInline(admin.TabularInline):
    """Read-only: nobody edits what a customer or an agent wrote."""

    model = Message
    fields = ["seq", "sender", "author", "body", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["seq"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = [
        "pk", "visitor", "topic", "status", "assigned_agent", "created_at", "first_response_at", "longest_wait_seconds",
        "agent_message_count", "canned_message_count", "rating",
    ]  # fmt: skip
    list_filter = ["status", "site", "topic", "needs_follow_up", "is_offline_message", "rating"]
    list_select_related = ["visitor", "topic", "assigned_agent"]
    readonly_fields = [
        "site", "visitor", "topic", "status", "assigned_agent", "last_seq", "preview",
        "created_at", "claimed_at", "first_response_at", "ended_at", "waiting_since", "team", "last_public_seq",
        "needs_follow_up", "is_offline_message", "transcript_requested", "rating", "rating_comment", "rated_at",
        "longest_wait_seconds", "agent_message_count", "canned_message_count", "warnings_overridden_count",
        "missed_at", "abandoned_at",
    ]  # fmt: skip
    inlines = [MessageInline]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    """Emails to visitors (R16, R18) and how their sending went; failed ones can be retried."""

    list_display = ["pk", "kind", "to_address", "state", "attempts", "created_at", "sent_at", "last_error"]
    list_filter = ["state", "kind"]
    list_select_related = ["conversation"]
    search_fields = ["to_address", "message_id_header"]
    readonly_fields = [
        "kind", "conversation", "message", "to_address", "subject", "state", "attempts", "last_error",
        "message_id_header", "created_at", "claimed_at", "sent_at",
    ]  # fmt: skip
    actions = ["retry_sending"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    @admin.action(description="Retry sending")
    def retry_sending(self, request, queryset):  # type: ignore[no-untyped-def]
        count = email_retry(email_ids=list(queryset.values_list("pk", flat=True)))
        skipped = queryset.count() - count
        self.message_user(request, f"Queued {count} email(s) again.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} email(s) were not failed and were left alone.", messages.WARNING)
