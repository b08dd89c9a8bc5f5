from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from .models import FeedbackItem, Mention


class MentionInline(admin.TabularInline):
    model = Mention
    extra = 0
    raw_id_fields = ["conversation", "agent"]
    readonly_fields = ["created_at"]


@admin.register(FeedbackItem)
class FeedbackItemAdmin(admin.ModelAdmin):
    list_display = ["summary", "kind", "status", "source", "mention_count", "created_at"]
    list_filter = ["kind", "status", "source"]
    list_editable = ["status"]
    search_fields = ["summary", "mentions__quote"]
    raw_id_fields = ["created_by"]
    inlines = [MentionInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[FeedbackItem]:
        return super().get_queryset(request).annotate(mentions_total=Count("mentions"))

    @admin.display(ordering="mentions_total", description="Mentions")
    def mention_count(self, obj: FeedbackItem) -> int:
        return obj.mentions_total  # type: ignore[attr-defined]
