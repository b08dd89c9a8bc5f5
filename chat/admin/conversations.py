"""Transcript review (R23): the conversation list and chat-style page, training flags, the view log."""

import csv

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Q
from django.http import Http404, HttpResponse
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext, gettext_lazy, ngettext

from ..metrics.definitions import FIRST_RESPONSE_DELAY
from ..models import Conversation, Message, TrainingFlag, TranscriptView
from ..spreadsheet import spreadsheet_safe
from ..supervision.transcript import person_name, transcript_rows
from .access import LONG_WAIT_SECONDS, LogAdminMixin, is_supervisor
from .filters import (
    AgentFilter,
    CannedShareFilter,
    LabelFilter,
    LongWaitFilter,
    RatingFilter,
    TeamFilter,
    WarningsOverriddenFilter,
)
from .labels import label_chips


class TrainingFlagActionForm(ActionForm):
    note = forms.CharField(
        required=False, label=gettext_lazy("Training note"), widget=forms.TextInput(attrs={"size": 40}),
        help_text=gettext_lazy('Used by "Flag for training".'),
    )  # fmt: skip


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """R23: supervisors review transcripts; the transcript itself is read-only."""

    change_form_template = "admin/chat/conversation/change_form.html"
    list_display = [
        "pk", "visitor", "topic", "agent", "status", "created_at", "first_response", "longest_wait",
        "message_total", "canned_share", "rating", "labels_shown", "flags",
    ]  # fmt: skip
    list_filter = [
        AgentFilter, TeamFilter, LabelFilter, "topic", "status", ("created_at", admin.DateFieldListFilter),
        RatingFilter, LongWaitFilter, CannedShareFilter, WarningsOverriddenFilter, "needs_follow_up", "site",
    ]  # fmt: skip
    list_select_related = ["visitor", "topic", "assigned_agent__agent"]
    # No date_hierarchy: it scans every conversation for the dates that have data. The
    # "created at" filter (today, past 7 days, this month, this year, or any
    # created_at__gte/__lt range in the URL) costs nothing.
    # A filtered list counts once: the total of all chats is a second full count.
    show_full_result_count = False
    search_fields = ["messages__body", "visitor__name", "visitor__email"]
    actions = ["flag_for_training", "export_csv"]
    action_form = TrainingFlagActionForm
    readonly_fields = [
        "site", "visitor", "topic", "status", "assigned_agent", "last_seq", "preview",
        "created_at", "claimed_at", "first_response_at", "ended_at", "waiting_since", "team", "last_public_seq",
        "needs_follow_up", "is_offline_message", "transcript_requested", "rating", "rating_comment", "rated_at",
        "longest_wait_seconds", "agent_message_count", "canned_message_count", "warnings_overridden_count",
        "missed_at", "abandoned_at",
    ]  # fmt: skip

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        # Nobody edits what a customer or an agent wrote, nor the metrics kept from it.
        return False

    def get_search_results(self, request, queryset, search_term):  # type: ignore[no-untyped-def]
        """Every word must be in one of the chat's messages or the visitor's name or email.

        One EXISTS per word instead of the admin's join on messages, which lists a chat
        once per matching message and then needs DISTINCT over whole rows (40 s on 2,000,000
        messages in bench/admin_list.py).
        """
        for word in smart_split(search_term):
            if word[:1] in ('"', "'") and word[-1:] == word[:1]:
                word = unescape_string_literal(word)
            in_messages = Exists(Message.objects.filter(conversation=OuterRef("pk"), body__icontains=word))
            queryset = queryset.filter(
                Q(visitor__name__icontains=word) | Q(visitor__email__icontains=word) | Q(in_messages)
            )
        return queryset, False

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        queryset = (
            super()
            .get_queryset(request)
            .annotate(
                first_response_delay=FIRST_RESPONSE_DELAY,
                training_flagged=Exists(TrainingFlag.objects.filter(conversation=OuterRef("pk"))),
            )
            .prefetch_related("labels")
        )
        if not is_supervisor(request):
            queryset = queryset.filter(assigned_agent=request.user)
        return queryset

    # -- list columns, all from stored columns and the annotations above --------------

    @admin.display(description=gettext_lazy("Agent"), ordering="assigned_agent__agent__display_name")
    def agent(self, obj: Conversation) -> str:
        return person_name(obj.assigned_agent)

    @admin.display(description=gettext_lazy("First response (s)"), ordering="first_response_delay")
    def first_response(self, obj: Conversation) -> int | None:
        if obj.first_response_at is None:
            return None
        return max(0, int((obj.first_response_at - obj.created_at).total_seconds()))

    @admin.display(description=gettext_lazy("Longest wait (s)"), ordering="longest_wait_seconds")
    def longest_wait(self, obj: Conversation) -> int:
        return obj.longest_wait_seconds

    @admin.display(description=gettext_lazy("Messages"), ordering="last_seq")
    def message_total(self, obj: Conversation) -> int:
        # Every message takes the next sequence number, so the last one is the count.
        return obj.last_seq

    @admin.display(description=gettext_lazy("Canned share"))
    def canned_share(self, obj: Conversation) -> str:
        if not obj.agent_message_count:
            return "-"
        return f"{round(100 * obj.canned_message_count / obj.agent_message_count)} %"

    @admin.display(description=gettext_lazy("Labels"))
    def labels_shown(self, obj: Conversation) -> str:
        return label_chips(list(obj.labels.all()))

    @admin.display(description=gettext_lazy("Flags"))
    def flags(self, obj: Conversation) -> str:
        return ", ".join(self._flags(obj))

    @staticmethod
    def _flags(obj: Conversation) -> list[str]:
        flags = []
        if getattr(obj, "training_flagged", False):
            flags.append("training")
        if obj.longest_wait_seconds > LONG_WAIT_SECONDS:
            flags.append("long wait")
        if obj.warnings_overridden_count:
            flags.append("warnings overridden")
        if obj.needs_follow_up:
            flags.append("follow-up")
        if obj.missed_at:
            flags.append("missed")
        if obj.abandoned_at:
            flags.append("abandoned")
        return flags

    # -- the transcript page ---------------------------------------------------------

    def get_object(self, request, object_id, from_field=None):  # type: ignore[no-untyped-def]
        # change_view and the admin's own view both ask: fetch once, with what the page shows.
        cached = getattr(request, "_review_conversation", None)
        if cached is not None and str(cached.pk) == str(object_id) and from_field is None:
            return cached
        queryset = self.get_queryset(request).select_related(
            "site", "visitor", "topic", "team", "assigned_agent__agent"
        )
        field = queryset.model._meta.pk if from_field is None else queryset.model._meta.get_field(from_field)
        try:
            obj = queryset.get(**{field.name: field.to_python(object_id)})
        except (queryset.model.DoesNotExist, ValidationError, ValueError):
            return None
        if from_field is None:
            request._review_conversation = obj
        return obj

    def change_view(self, request, object_id, form_url="", extra_context=None):  # type: ignore[no-untyped-def]
        conversation = self.get_object(request, unquote(object_id))
        if conversation is None:
            # Another agent's chat, or none at all: the same answer, so ids reveal nothing.
            raise Http404("No such conversation.")
        if not self.has_view_or_change_permission(request, conversation):
            raise PermissionDenied
        if request.method == "GET":
            TranscriptView.objects.create(conversation=conversation, viewer=request.user)
        extra_context = {
            **(extra_context or {}),
            "transcript": transcript_rows(conversation),
            "long_wait_seconds": LONG_WAIT_SECONDS,
            "review_flags": self._flags(conversation),
            "training_flags": list(conversation.training_flags.select_related("flagged_by")),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    # -- actions -------------------------------------------------------------------------

    @admin.action(description=gettext_lazy("Flag for training (with the note above)"))
    def flag_for_training(self, request, queryset):  # type: ignore[no-untyped-def]
        note = (request.POST.get("note") or "").strip()
        if not note:
            self.message_user(request, gettext("Write a training note first; nothing was flagged."), messages.ERROR)
            return
        flags = [
            TrainingFlag(conversation=conversation, flagged_by=request.user, note=note)
            for conversation in queryset.select_related(None).only("pk")
        ]
        TrainingFlag.objects.bulk_create(flags)
        flagged = ngettext(
            "Flagged %(count)s conversation for training.", "Flagged %(count)s conversations for training.", len(flags)
        )
        self.message_user(request, flagged % {"count": len(flags)}, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Export metrics as CSV"))
    def export_csv(self, request, queryset):  # type: ignore[no-untyped-def]
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="conversations.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                "id", "visitor", "topic", "agent", "status", "created_at", "first_response_seconds",
                "longest_wait_seconds", "messages", "agent_messages", "canned_messages", "canned_share_percent",
                "warnings_overridden", "rating", "flags",
            ]
        )  # fmt: skip
        for obj in queryset.select_related("visitor", "topic", "assigned_agent__agent").order_by("pk"):
            share = round(100 * obj.canned_message_count / obj.agent_message_count) if obj.agent_message_count else ""
            first = self.first_response(obj)
            row = [
                obj.pk, str(obj.visitor), obj.topic.name if obj.topic else "", self.agent(obj), obj.status,
                obj.created_at.isoformat(), "" if first is None else first, obj.longest_wait_seconds, obj.last_seq,
                obj.agent_message_count, obj.canned_message_count, share, obj.warnings_overridden_count,
                "" if obj.rating is None else obj.rating, " ".join(flag.replace(" ", "-") for flag in self._flags(obj)),
            ]  # fmt: skip
            writer.writerow([spreadsheet_safe(value) for value in row])
        return response


@admin.register(TrainingFlag)
class TrainingFlagAdmin(admin.ModelAdmin):
    list_display = ["conversation", "flagged_by", "note", "created_at"]
    list_select_related = ["conversation__visitor", "flagged_by"]
    readonly_fields = ["conversation", "flagged_by", "created_at"]
    search_fields = ["note"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(TranscriptView)
class TranscriptViewAdmin(LogAdminMixin, admin.ModelAdmin):
    """The access log of transcripts: read-only."""

    list_display = ["conversation", "viewer", "viewed_at"]
    list_filter = [("viewer", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["conversation__visitor", "viewer"]
    readonly_fields = ["conversation", "viewer", "viewed_at"]
    date_hierarchy = "viewed_at"
