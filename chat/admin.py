import csv

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import DurationField, Exists, ExpressionWrapper, F, OuterRef, Q
from django.http import Http404, HttpResponse

from agents.models import Agent, Team

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
    TrainingFlag,
    TranscriptView,
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


SUPERVISORS_GROUP = "Supervisors"
# R23: a customer message left this long without an agent's reply counts as a long silence.
LONG_WAIT_SECONDS = 45


def is_supervisor(request) -> bool:  # type: ignore[no-untyped-def]
    """Superusers and the "Supervisors" group review every chat; other staff only their own."""
    user = request.user
    if user.is_superuser:
        return True
    cached = getattr(request, "_chat_is_supervisor", None)
    if cached is None:
        cached = user.groups.filter(name=SUPERVISORS_GROUP).exists()
        request._chat_is_supervisor = cached
    return cached


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
        # canned / agent > 1/2  <=>  2 * canned > agent, in integers, in the database.
        queryset = queryset.alias(_canned_twice=F("canned_message_count") * 2)
        if self.value() == "yes":
            return queryset.filter(_canned_twice__gt=F("agent_message_count"))
        if self.value() == "no":
            return queryset.filter(_canned_twice__lte=F("agent_message_count"))
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
    """The chat's team: the one it was transferred to, else the teams serving its topic."""

    title = "team"
    parameter_name = "team"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return [(str(pk), name) for pk, name in Team.objects.values_list("pk", "name")]

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        value = self.value()
        if not value or not value.isdigit():
            return queryset
        served = Topic.objects.filter(teams=int(value)).values("pk")
        return queryset.filter(Q(team_id=int(value)) | Q(team__isnull=True, topic_id__in=served))


class TrainingFlagActionForm(ActionForm):
    note = forms.CharField(
        required=False, label="Training note", widget=forms.TextInput(attrs={"size": 40}),
        help_text='Used by "Flag for training".',
    )  # fmt: skip


def _csv_cell(value: object) -> object:
    """Keep spreadsheet formulas out of an export that carries customers' words."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _agent_name(user) -> str:  # type: ignore[no-untyped-def]
    if user is None:
        return ""
    try:
        return user.agent.display_name
    except Agent.DoesNotExist:
        return user.get_username()


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """R23: supervisors review transcripts; the transcript itself is read-only."""

    change_form_template = "admin/chat/conversation/change_form.html"
    list_display = [
        "pk", "visitor", "topic", "agent", "status", "created_at", "first_response", "longest_wait",
        "message_total", "canned_share", "rating", "flags",
    ]  # fmt: skip
    list_filter = [
        ("assigned_agent", admin.RelatedOnlyFieldListFilter), TeamFilter, "topic", "status", "rating",
        LongWaitFilter, CannedShareFilter, WarningsOverriddenFilter, "needs_follow_up", "site",
    ]  # fmt: skip
    list_select_related = ["visitor", "topic", "assigned_agent__agent"]
    date_hierarchy = "created_at"
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

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        delay = ExpressionWrapper(F("first_response_at") - F("created_at"), output_field=DurationField())
        queryset = (
            super()
            .get_queryset(request)
            .annotate(
                first_response_delay=delay,
                training_flagged=Exists(TrainingFlag.objects.filter(conversation=OuterRef("pk"))),
            )
        )
        if not is_supervisor(request):
            queryset = queryset.filter(assigned_agent=request.user)
        return queryset

    # -- list columns, all from stored columns and the annotations above --------------

    @admin.display(description="Agent", ordering="assigned_agent__agent__display_name")
    def agent(self, obj: Conversation) -> str:
        return _agent_name(obj.assigned_agent)

    @admin.display(description="First response (s)", ordering="first_response_delay")
    def first_response(self, obj: Conversation) -> int | None:
        if obj.first_response_at is None:
            return None
        return max(0, int((obj.first_response_at - obj.created_at).total_seconds()))

    @admin.display(description="Longest wait (s)", ordering="longest_wait_seconds")
    def longest_wait(self, obj: Conversation) -> int:
        return obj.longest_wait_seconds

    @admin.display(description="Messages", ordering="last_seq")
    def message_total(self, obj: Conversation) -> int:
        # Every message takes the next sequence number, so the last one is the count.
        return obj.last_seq

    @admin.display(description="Canned share")
    def canned_share(self, obj: Conversation) -> str:
        if not obj.agent_message_count:
            return "-"
        return f"{round(100 * obj.canned_message_count / obj.agent_message_count)} %"

    @admin.display(description="Flags")
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
            "transcript": self._transcript(conversation),
            "long_wait_seconds": LONG_WAIT_SECONDS,
            "review_flags": self._flags(conversation),
            "training_flags": list(conversation.training_flags.select_related("flagged_by")),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @staticmethod
    def _transcript(conversation: Conversation) -> list[dict]:
        """The chat as bubbles, in one query; a reply after a long silence is marked."""
        messages_ = Message.objects.filter(conversation=conversation).select_related("author__agent", "canned_response")
        rows = []
        waiting_since = None
        visitor_name = str(conversation.visitor)
        for message in messages_.order_by("seq"):
            wait = None
            if message.sender == Message.Sender.VISITOR:
                speaker = visitor_name
                if waiting_since is None:
                    waiting_since = message.created_at
            elif message.sender == Message.Sender.SYSTEM:
                speaker = "System"
            else:
                speaker = _agent_name(message.author) or "Agent"
                if message.sender == Message.Sender.AGENT and waiting_since is not None:
                    wait = int((message.created_at - waiting_since).total_seconds())
                    waiting_since = None
            rows.append(
                {
                    "message": message,
                    "speaker": speaker,
                    "wait_seconds": wait,
                    "long_wait": wait is not None and wait > LONG_WAIT_SECONDS,
                    "canned": message.canned_response,
                    "canned_used": message.canned_response_id is not None,
                    "warnings": list(message.warnings_overridden or []),
                }
            )
        return rows

    # -- actions -------------------------------------------------------------------------

    @admin.action(description="Flag for training (with the note above)")
    def flag_for_training(self, request, queryset):  # type: ignore[no-untyped-def]
        note = (request.POST.get("note") or "").strip()
        if not note:
            self.message_user(request, "Write a training note first; nothing was flagged.", messages.ERROR)
            return
        flags = [
            TrainingFlag(conversation=conversation, flagged_by=request.user, note=note)
            for conversation in queryset.select_related(None).only("pk")
        ]
        TrainingFlag.objects.bulk_create(flags)
        self.message_user(request, f"Flagged {len(flags)} conversation(s) for training.", messages.SUCCESS)

    @admin.action(description="Export metrics as CSV")
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
            writer.writerow([_csv_cell(value) for value in row])
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
class TranscriptViewAdmin(admin.ModelAdmin):
    """The access log of transcripts: read-only."""

    list_display = ["conversation", "viewer", "viewed_at"]
    list_filter = [("viewer", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["conversation__visitor", "viewer"]
    readonly_fields = ["conversation", "viewer", "viewed_at"]
    date_hierarchy = "viewed_at"

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
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
