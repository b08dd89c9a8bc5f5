from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .markdown import markdown_render


class Category(models.Model):
    """A shelf of the help centre."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("knowledgebase:category", args=[self.slug])


class Tag(models.Model):
    name = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    """A help-centre article. On PostgreSQL its table also has a generated `search_vector`
    column (title weight A, body weight B) with a GIN index: see knowledgebase/search.py."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="articles")
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    body = models.TextField(blank=True, help_text="Markdown. Raw HTML is reduced to a small safe set.")
    # Rendered and sanitised on every save, so pages never render Markdown.
    body_html = models.TextField(blank=True, editable=False)
    tags = models.ManyToManyField(Tag, blank=True, related_name="articles")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="kb_articles"
    )
    # R21: the chats it was written from.
    source_conversations = models.ManyToManyField("chat.Conversation", blank=True, related_name="kb_articles")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["status", "category"])]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        self.body_html = markdown_render(self.body)
        if self.status == self.Status.PUBLISHED and self.published_at is None:
            self.published_at = timezone.now()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "body_html", "published_at"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("knowledgebase:article", args=[self.slug])

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


class ArticleUsage(models.Model):
    """One use of the knowledge base from the console or the help centre (R15, R21).

    `missed` rows have no article: a chat question the suggestions found nothing for.
    """

    class Kind(models.TextChoices):
        SUGGESTED = "suggested", "Suggested"
        INSERTED = "inserted", "Inserted"
        CLICKED = "clicked", "Clicked"
        MISSED = "missed", "Missed (no article found)"

    article = models.ForeignKey(Article, null=True, blank=True, on_delete=models.CASCADE, related_name="usages")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    conversation = models.ForeignKey(
        "chat.Conversation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    agent = models.ForeignKey("agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    question = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["article", "kind"]), models.Index(fields=["kind", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.article_id or '-'} {self.created_at:%Y-%m-%d %H:%M}"
