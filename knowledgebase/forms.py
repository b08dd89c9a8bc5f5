from django import forms

from .models import Article


class ArticleForm(forms.ModelForm):
    tags_text = forms.CharField(
        label="Tags", required=False, max_length=300, help_text="Comma-separated, e.g. returns, shipping."
    )

    class Meta:
        model = Article
        fields = ["title", "category", "status", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 16})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["tags_text"].initial = ", ".join(tag.name for tag in self.instance.tags.all())

    def tag_names(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data["tags_text"].split(",") if name.strip()]
