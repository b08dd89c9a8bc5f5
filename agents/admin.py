from typing import Any

from django import forms
from django.contrib import admin

from .composer import term_is_matchable
from .models import Agent, CannedResponse, ComposerTerm, Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "is_default"]
    filter_horizontal = ["topics"]


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "status", "max_chats", "is_supervisor"]
    list_filter = ["status", "is_supervisor", "teams"]
    filter_horizontal = ["teams"]
    list_select_related = ["user"]


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ["shortcut", "title", "team", "owner", "use_count"]
    list_filter = ["team"]
    search_fields = ["shortcut", "title", "body"]
    list_select_related = ["team", "owner"]
    raw_id_fields = ["owner", "created_by"]
    readonly_fields = ["use_count", "created_at"]


class ComposerTermForm(forms.ModelForm):
    class Meta:
        model = ComposerTerm
        fields = ["site", "kind", "term", "suggestion"]

    def clean_term(self) -> str:
        # The composer matches case-insensitively with any spacing; store it the way it matches.
        term = " ".join(self.cleaned_data["term"].lower().split())
        if not term_is_matchable(term):
            raise forms.ValidationError(
                'Enter words only, e.g. "lol" or "shut up": punctuation around a word is ignored.'
            )
        return term

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # The unique constraint does not cover global terms (a NULL site never equals another).
        site, kind, term = cleaned.get("site"), cleaned.get("kind"), cleaned.get("term")
        if kind and term:
            same = ComposerTerm.objects.filter(site=site, kind=kind, term__iexact=term).exclude(pk=self.instance.pk)
            if same.exists():
                raise forms.ValidationError("This term is already listed for this kind and site.")
        return cleaned


@admin.register(ComposerTerm)
class ComposerTermAdmin(admin.ModelAdmin):
    form = ComposerTermForm
    list_display = ["term", "kind", "suggestion", "site"]
    list_filter = ["kind", "site"]
    search_fields = ["term"]
    list_select_related = ["site"]
