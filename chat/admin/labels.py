"""Labels (billing, bug, VIP): admins manage them; agents put them on chats from the console."""

from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy

from ..models import Label
from ..payloads import label_text_colour


def label_chips(labels: list[Label]) -> str:
    """Labels as coloured chips, their text black or white for contrast; escaped."""
    return format_html_join(
        " ",
        '<span style="background-color: {}; color: {}; padding: 0 6px; border-radius: 9px">{}</span>',
        ((label.colour, label_text_colour(label.colour), label.name) for label in labels),
    )


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["name", "swatch", "description", "chats"]
    search_fields = ["name", "description"]
    fields = ["name", "colour", "description"]

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).annotate(chat_count=Count("conversations"))

    @admin.display(description=gettext_lazy("Colour"))
    def swatch(self, obj: Label) -> str:
        return format_html(
            '<span style="display: inline-block; width: 1.2em; height: 1.2em; border-radius: 3px; '
            'border: 1px solid #0003; vertical-align: middle; background-color: {}"></span> {}',
            obj.colour,
            obj.colour,
        )

    @admin.display(description=gettext_lazy("Chats"), ordering="chat_count")
    def chats(self, obj: Label) -> int:
        return obj.chat_count  # type: ignore[attr-defined]
