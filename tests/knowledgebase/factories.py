import itertools

from chat.models import Conversation, Message
from knowledgebase.models import Article, Category

_numbers = itertools.count(1)


def make_category(*, name: str = "Orders") -> Category:
    number = next(_numbers)
    return Category.objects.create(name=name, slug=f"{name.lower()}-{number}")


def make_article(
    *, title: str, body: str = "", status: str = Article.Status.PUBLISHED, category: Category | None = None
) -> Article:
    return Article.objects.create(
        title=title, body=body, status=status, category=category, slug=f"article-{next(_numbers)}"
    )


def add_message(conversation: Conversation, *, sender: str, body: str, author=None) -> Message:
    seq = conversation.messages.count() + 1
    return Message.objects.create(conversation=conversation, seq=seq, sender=sender, body=body, author=author)
