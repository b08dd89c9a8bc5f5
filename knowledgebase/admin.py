from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from .models import Article, ArticleUsage, Category, Tag


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "status", "category", "author", "updated_at", "suggested", "inserted", "clicked"]
    list_filter = ["status", "category"]
    list_select_related = ["category", "author"]
    search_fields = ["title", "body"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["tags"]
    raw_id_fields = ["author", "source_conversations"]
    readonly_fields = ["created_at", "updated_at", "published_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Article]:
        def count(kind: str) -> Count:
            return Count("usages", filter=Q(usages__kind=kind))

        return (
            super()
            .get_queryset(request)
            .annotate(
                suggested_count=count(ArticleUsage.Kind.SUGGESTED),
                inserted_count=count(ArticleUsage.Kind.INSERTED),
                clicked_count=count(ArticleUsage.Kind.CLICKED),
            )
        )

    @admin.display(ordering="suggested_count")
    def suggested(self, obj: Article) -> int:
        return obj.suggested_count  # type: ignore[attr-defined]

    @admin.display(ordering="inserted_count")
    def inserted(self, obj: Article) -> int:
        return obj.inserted_count  # type: ignore[attr-defined]

    @admin.display(ordering="clicked_count")
    def clicked(self, obj: Article) -> int:
        return obj.clicked_count  # type: ignore[attr-defined]


@admin.register(ArticleUsage)
class ArticleUsageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "article", "conversation", "question"]
    list_filter = ["kind"]
    list_select_related = ["article", "conversation"]
    raw_id_fields = ["article", "conversation", "agent"]
    date_hierarchy = "created_at"
