from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from agents.models import Agent
from chat.models import Conversation, Message

from .errors import KbError, KbErrorCode
from .models import Article, ArticleUsage, Category, Tag
from .search import Match
from .selectors import article_search

SUGGESTION_LIMIT = 5


def _unique_slug(title: str) -> str:
    base = slugify(title)[:200] or "article"
    slug, n = base, 1
    while Article.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _tags(names: Iterable[str]) -> list[Tag]:
    slugs = {slugify(name)[:50] for name in names} - {""}
    return [Tag.objects.get_or_create(name=slug)[0] for slug in sorted(slugs)]


@transaction.atomic
def article_save(
    *,
    article: Article | None = None,
    title: str,
    body: str,
    category: Category | None = None,
    tags: Iterable[str] = (),
    status: str = Article.Status.DRAFT,
    author: User | None = None,
) -> Article:
    """Create an article (`article` None) or update one; the body is rendered and sanitised on save."""
    title = title.strip()
    if not title:
        raise KbError(KbErrorCode.INVALID_FIELD, _("An article needs a title."))
    if article is None:
        article = Article(author=author, slug=_unique_slug(title))
    article.title = title[:200]
    article.body = body
    article.category = category
    article.status = status
    article.save()
    article.tags.set(_tags(tags))
    return article


@transaction.atomic
def article_draft_from_conversation(*, conversation: Conversation, message_ids: Iterable[int], author: User) -> Article:
    """R21: a draft article from the agent answers picked in a chat.

    The title is the customer's question (their last message before the first picked answer),
    the body the answers as Markdown paragraphs; the chat is linked as the source.
    """
    answers = list(conversation.messages.filter(pk__in=list(message_ids), sender=Message.Sender.AGENT).order_by("seq"))
    if not answers:
        raise KbError(KbErrorCode.NO_ANSWER_SELECTED, _("Pick at least one of the agent's answers in this chat."))
    question = (
        conversation.messages.filter(sender=Message.Sender.VISITOR, seq__lt=answers[0].seq).order_by("-seq").first()
    )
    title = " ".join(question.body.split()) if question else f"Answer from chat #{conversation.pk}"
    body = "\n\n".join(answer.body.strip() for answer in answers)
    article = article_save(title=title, body=body, author=author, status=Article.Status.DRAFT)
    article.source_conversations.add(conversation)
    return article


def article_usage_record(
    *,
    kind: str,
    article: Article | None = None,
    conversation: Conversation | None = None,
    agent: Agent | None = None,
    question: str = "",
) -> ArticleUsage:
    return ArticleUsage.objects.create(
        kind=kind, article=article, conversation=conversation, agent=agent, question=question[:500]
    )


@transaction.atomic
def article_suggest_for_question(
    *, text: str, conversation: Conversation | None = None, agent: Agent | None = None, limit: int = SUGGESTION_LIMIT
) -> list[Article]:
    """R15: published articles for a customer's question, searched on any of its words.

    Each suggestion is counted, once per chat and question: the console asks again when it
    is reloaded or another agent looks on. A question with none is recorded as a miss, which
    is how the "questions without an article" list (R21) is built.
    """
    articles = article_search(text=text, match=Match.ANY, limit=limit)
    question = text[:500]
    counted: set[int | None] = set()
    if conversation is not None:
        counted = set(
            ArticleUsage.objects.filter(
                conversation=conversation,
                question=question,
                kind__in=[ArticleUsage.Kind.SUGGESTED, ArticleUsage.Kind.MISSED],
            ).values_list("article_id", flat=True)
        )
    if articles:
        ArticleUsage.objects.bulk_create(
            ArticleUsage(
                kind=ArticleUsage.Kind.SUGGESTED,
                article=article,
                conversation=conversation,
                agent=agent,
                question=question,
            )
            for article in articles
            if article.pk not in counted
        )
    elif question.strip() and None not in counted:
        article_usage_record(kind=ArticleUsage.Kind.MISSED, conversation=conversation, agent=agent, question=question)
    return articles
