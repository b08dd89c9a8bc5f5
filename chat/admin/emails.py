"""Emails to visitors and the consent they rest on (R4, R16, R18)."""

from django.contrib import admin

from ..emails import email_retry
from ..models import ConsentRecord, OutboundEmail
from .actions import retry_action


@admin.register(ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin):
    """Proof of consent (R4): read-only, never edited after the fact."""

    list_display = ["email", "kind", "given", "source", "recorded_at"]
    list_filter = ["kind", "given", "source"]
    search_fields = ["email"]
    readonly_fields = ["visitor", "email", "kind", "given", "source", "wording", "recorded_at"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    """Emails to visitors (R16, R18, R19) and how their sending went; failed ones can be retried."""

    list_display = ["pk", "kind", "to_address", "state", "attempts", "send_after", "sent_at", "last_error"]
    list_filter = ["state", "kind"]
    list_select_related = ["conversation"]
    search_fields = ["to_address", "message_id_header"]
    readonly_fields = [
        "kind", "conversation", "message", "up_to_seq", "to_address", "subject", "state", "attempts", "last_error",
        "message_id_header", "created_at", "send_after", "enqueued_at", "claimed_at", "sent_at",
    ]  # fmt: skip
    actions = ["retry_sending"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    retry_sending = retry_action(lambda ids: email_retry(email_ids=ids), noun="email(s)", description="Retry sending")
