"""The console's conversation search form (a plain GET form, so its pages work without
JavaScript), and the agent field the supervisors' report filters share."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from chat.models import Conversation, Label
from chat.search import MAX_TEXT_LENGTH

from .models import Agent


class AgentChoiceField(forms.ModelChoiceField):
    """Agents listed by the name customers see."""

    def label_from_instance(self, obj: Any) -> str:
        return obj.display_name


class ConversationSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Words"),
        required=False,
        max_length=MAX_TEXT_LENGTH,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Message text, visitor name or email")}),
    )
    label = forms.ModelChoiceField(
        label=_("Label"), queryset=Label.objects.order_by("name"), required=False, empty_label=_("Any label")
    )
    agent = AgentChoiceField(
        label=_("Agent"), queryset=Agent.objects.order_by("display_name"), required=False,
        empty_label=_("Any agent"), to_field_name="user_id",
    )  # fmt: skip
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *Conversation.Status.choices]
    )
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            select = isinstance(field.widget, forms.Select)
            field.widget.attrs.setdefault("class", "form-select" if select else "form-control")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            raise forms.ValidationError(_("The end date comes before the start date."))
        return cleaned

    def search_arguments(self) -> dict[str, Any]:
        """The keyword arguments of `chat.search.conversation_search`; call after is_valid()."""
        data = self.cleaned_data
        return {
            "text": data["q"],
            "label_ids": [data["label"].pk] if data["label"] else [],
            "agent_id": data["agent"].user_id if data["agent"] else None,
            "status": data["status"],
            "date_from": data["start"],
            "date_to": data["end"],
        }
