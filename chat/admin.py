from django.contrib import admin

from .models import Conversation, Message, Site, Topic, Visitor


class TopicInline(admin.TabularInline):
    model = Topic
    extra = 1
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "created_at"]
    readonly_fields = ["key", "identity_secret"]
    inlines = [TopicInline]


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
    list_display = ["pk", "visitor", "topic", "status", "assigned_agent", "created_at", "first_response_at", "ended_at"]
    list_filter = ["status", "site", "topic"]
    list_select_related = ["visitor", "topic", "assigned_agent"]
    readonly_fields = [
        "site", "visitor", "topic", "status", "assigned_agent", "last_seq", "preview",
        "created_at", "claimed_at", "first_response_at", "ended_at", "waiting_since",
    ]  # fmt: skip
    inlines = [MessageInline]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
