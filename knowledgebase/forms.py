from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Article


class ArticleForm(forms.ModelForm):
    tags_text = forms.CharField(
        label=_("Tags"), required=False, max_length=300, help_text=_("Comma-separated, e.g. returns, shipping.")
    )

    class Meta:
        model = Article
        fields = ["title", "category", "status", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 16})}
        # Here, not as the model's verbose names: no migration for words on a page.
        labels = {"title": _("Title"), "category": _("Category"), "status": _("Status"), "body": _("Text")}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["tags_text"].initial = ", ".join(tag.name for tag in self.instance.tags.all())

    def tag_names(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data["tags_text"].split(",") if name.strip()]
