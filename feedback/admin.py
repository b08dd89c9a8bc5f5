from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from chat.admin.actions import retry_action

from .models import FeedbackItem, Mention, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .webhooks import webhook_retry


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


class WebhookEndpointForm(forms.ModelForm):
    events = forms.TypedMultipleChoiceField(
        label=_("Conversation events"),
        choices=[(event.value, event.label) for event in WebhookDelivery.CONVERSATION_EVENTS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Sent to this endpoint as they happen (docs/api.md)."),
    )

    class Meta:
        model = WebhookEndpoint
        # The admin adds the other fields, with its URL field overrides.
        fields = ["events"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("audience") and not cleaned.get("events"):
            raise forms.ValidationError(_("Pick an audience for feedback, some conversation events, or both."))
        return cleaned


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """R20: where new items and mentions are sent, and conversation events; the receiver
    verifies bodies with the secret."""

    form = WebhookEndpointForm
    fields = ["name", "url", "audience", "events", "is_active", "secret", "created_at"]
    list_display = ["name", "url", "audience", "event_list", "is_active", "created_at"]
    list_filter = ["audience", "is_active"]
    readonly_fields = ["secret", "created_at"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description=_("Conversation events"))
    def event_list(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.events)


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["at", "status_code", "error", "duration_ms"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Every webhook owed and how its attempts went; failed ones can be retried."""

    list_display = ["pk", "event", "endpoint", "state", "attempts", "last_status_code", "created_at", "delivered_at"]
    list_filter = ["state", "event", "endpoint"]
    list_select_related = ["endpoint"]
    readonly_fields = [
        "endpoint", "event", "payload", "state", "attempts", "last_status_code", "last_error",
        "created_at", "claimed_at", "delivered_at",
    ]  # fmt: skip
    inlines = [WebhookAttemptInline]
    actions = ["retry_delivery"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    retry_delivery = retry_action(
        lambda ids: webhook_retry(delivery_ids=ids), noun="delivery(ies)", description="Retry"
    )
