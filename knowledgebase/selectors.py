from datetime import timedelta

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from chat.models import Conversation, Message

from .models import Article, ArticleUsage, Category
from .search import Match, SearchResults, text_search

ARTICLE_FIELDS = (("title", "A"), ("body", "B"))
# The help centre index lists this many articles per category; the category page has all.
INDEX_ARTICLES_PER_CATEGORY = 8
SEARCH_PAGE_SIZE = 10


def articles_published() -> QuerySet[Article]:
    return Article.objects.filter(status=Article.Status.PUBLISHED).select_related("category")


def article_search(*, text: str, match: Match = Match.ALL, limit: int = 20) -> list[Article]:
    """Published articles for a query, best first, each with `rank` and a `snippet`."""
    return text_search(
        articles_published(), text=text, fields=ARTICLE_FIELDS, match=match, snippet_field="body", limit=limit
    )


def article_search_results(*, text: str) -> SearchResults[Article]:
    """Every published article for a help-centre query, for a paginator: counted, then paged."""
    return SearchResults(articles_published(), text=text, fields=ARTICLE_FIELDS, snippet_field="body")


def article_search_page(*, text: str, page: int | str | None = 1) -> Page:
    """One page of the help centre's results; a page number out of range gives the nearest page."""
    return Paginator(article_search_results(text=text), SEARCH_PAGE_SIZE).get_page(page)


def categories_with_articles() -> list[Category]:
    """The help centre's shelves, each with its published articles (`published`), in two queries."""
    published = Article.objects.filter(status=Article.Status.PUBLISHED).only("id", "title", "slug", "category_id")
    return list(
        Category.objects.annotate(article_count=Count("articles", filter=Q(articles__status="published")))
        .filter(article_count__gt=0)
        .prefetch_related(
            Prefetch(
                "articles", queryset=published.order_by("title")[:INDEX_ARTICLES_PER_CATEGORY], to_attr="published"
            )
        )
    )


def articles_with_usage() -> QuerySet[Article]:
    """Articles for the staff list: how often each was suggested, inserted and clicked."""

    def count(kind: str) -> Count:
        return Count("usages", filter=Q(usages__kind=kind))

    return (
        Article.objects.select_related("category", "author")
        .annotate(
            suggested=count(ArticleUsage.Kind.SUGGESTED),
            inserted=count(ArticleUsage.Kind.INSERTED),
            clicked=count(ArticleUsage.Kind.CLICKED),
        )
        .order_by("status", "-updated_at")
    )


def conversation_latest_question(*, conversation: Conversation) -> Message | None:
    """The customer's latest message in a chat: what the suggestions answer."""
    return conversation.messages.filter(sender=Message.Sender.VISITOR).order_by("-seq").first()


def questions_unanswered(*, days: int = 30, limit: int = 50) -> QuerySet[ArticleUsage]:
    """R21: recent chat questions the suggestions found no article for, newest first, one per
    chat, leaving out chats an article has since been drafted from."""
    since = timezone.now() - timedelta(days=days)
    drafted = Article.source_conversations.through.objects.filter(conversation_id=OuterRef("conversation_id"))
    newer_same_chat = ArticleUsage.objects.filter(
        kind=ArticleUsage.Kind.MISSED, conversation_id=OuterRef("conversation_id"), pk__gt=OuterRef("pk")
    )
    return (
        ArticleUsage.objects.filter(kind=ArticleUsage.Kind.MISSED, created_at__gte=since)
        .exclude(Exists(drafted))
        .exclude(Q(conversation__isnull=False) & Exists(newer_same_chat))
        .select_related("conversation__visitor")
        .order_by("-created_at")[:limit]
    )
