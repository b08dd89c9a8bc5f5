"""Personal data (R4): the log of exports, erasures and retention runs, and the tool that
makes the first two. Only superusers and staff allowed to delete visitors see either."""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from ..errors import ChatError
from ..models import PersonalDataAction, Visitor
from ..privacy import personal_data_erase, personal_data_export, personal_data_find, personal_data_summary
from .access import LogAdminMixin

PERMISSION = "chat.delete_visitor"


def may_handle_personal_data(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and (user.is_superuser or user.has_perm(PERMISSION)))


class SubjectForm(forms.Form):
    subject = forms.CharField(
        label=gettext_lazy("Email address, visitor id or customer id"),
        max_length=255,
        widget=forms.TextInput(attrs={"size": 50, "autofocus": True}),
        help_text=gettext_lazy("Email addresses match in any case; ids must match exactly."),
    )


@admin.register(PersonalDataAction)
class PersonalDataActionAdmin(LogAdminMixin, admin.ModelAdmin):
    """The log is proof of what was done: nobody adds, edits or deletes an entry."""

    change_list_template = "admin/chat/privacy_change_list.html"
    list_display = ["created_at", "kind", "subject", "actor", "details"]
    list_filter = ["kind"]
    list_select_related = ["actor"]
    search_fields = ["subject"]
    readonly_fields = ["kind", "subject", "actor", "details", "created_at"]

    def has_module_permission(self, request):  # type: ignore[no-untyped-def]
        return may_handle_personal_data(request)

    def has_view_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return may_handle_personal_data(request)

    def get_urls(self):  # type: ignore[no-untyped-def]
        tool = path("tool/", self.admin_site.admin_view(self.tool_view), name="chat_personaldataaction_tool")
        return [tool, *super().get_urls()]

    def tool_view(self, request: HttpRequest) -> HttpResponse:
        """Find a subject (GET), then download its export or erase it after a confirmation (POST)."""
        if not may_handle_personal_data(request):
            raise PermissionDenied
        data = request.POST if request.method == "POST" else request.GET
        form = SubjectForm(data if "subject" in data else None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Export or erase personal data"),
            "form": form,
        }
        if not form.is_valid():
            return TemplateResponse(request, "admin/chat/privacy_tool.html", context)
        subject = form.cleaned_data["subject"]
        try:
            visitors = personal_data_find(subject=subject)
            action = request.POST.get("action") if request.method == "POST" else None
            if action == "export" and visitors:
                return self._export(request, visitors, subject)
            if action == "erase" and visitors:
                return self._erase(request, visitors, subject, context)
        except ChatError as error:
            form.add_error("subject", error.message)
            return TemplateResponse(request, "admin/chat/privacy_tool.html", context)
        context.update(subject=subject, visitors=visitors, summary=personal_data_summary(visitors=visitors))
        return TemplateResponse(request, "admin/chat/privacy_tool.html", context)

    def _export(self, request: HttpRequest, visitors: list[Visitor], subject: str) -> HttpResponse:
        export = personal_data_export(visitors=visitors, actor=request.user, subject=subject)
        response = HttpResponse(
            json.dumps(export, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
            content_type="application/json; charset=utf-8",
        )
        filename = f"personal-data-{timezone.now():%Y%m%d-%H%M%S}.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def _erase(
        self, request: HttpRequest, visitors: list[Visitor], subject: str, context: dict[str, Any]
    ) -> HttpResponse:
        found = ",".join(str(visitor.public_id) for visitor in visitors)
        if request.POST.get("confirmed") != found:
            # Shown first, and again if the matches changed since the page was shown: what
            # is erased is exactly what the person confirming saw.
            context.update(
                subject=subject,
                visitors=visitors,
                summary=personal_data_summary(visitors=visitors),
                found=found,
                changed="confirmed" in request.POST,
            )
            return TemplateResponse(request, "admin/chat/privacy_confirm.html", context)
        action = personal_data_erase(visitors=visitors, actor=request.user, subject=subject)
        messages.success(
            request,
            gettext("Erased the personal data of %(visitors)s visitor(s) in %(conversations)s conversation(s).")
            % {"visitors": len(visitors), "conversations": action.details.get("conversations", 0)},
        )
        return HttpResponseRedirect(reverse("admin:chat_personaldataaction_changelist"))
