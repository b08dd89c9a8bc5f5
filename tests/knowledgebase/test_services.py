import pytest

from chat.models import Message
from knowledgebase.errors import KbError
from knowledgebase.models import Article, ArticleUsage
from knowledgebase.selectors import questions_unanswered
from knowledgebase.services import article_draft_from_conversation, article_save, article_suggest_for_question

from ..chat.factories import make_conversation
from .factories import add_message, make_article

pytestmark = pytest.mark.django_db


def test_draft_from_chat_takes_the_question_as_title_and_the_picked_answers_as_body(desk):
    # given a chat with a question, two agent answers and a later question
    conversation = make_conversation(site=desk.site)
    user = desk.agent.user
    add_message(conversation, sender=Message.Sender.VISITOR, body="Can I   return sale items?")
    first = add_message(conversation, sender=Message.Sender.AGENT, body="Yes, within 14 days.", author=user)
    second = add_message(conversation, sender=Message.Sender.AGENT, body="Bring the receipt.", author=user)
    add_message(conversation, sender=Message.Sender.VISITOR, body="Thanks!")
    # when the agent drafts an article from both answers
    article = article_draft_from_conversation(conversation=conversation, message_ids=[second.pk, first.pk], author=user)
    # then it is a draft titled with the question, the answers in order, linked to the chat
    assert article.title == "Can I return sale items?"
    assert article.body == "Yes, within 14 days.\n\nBring the receipt."
    assert article.status == Article.Status.DRAFT
    assert article.author == user
    assert list(article.source_conversations.all()) == [conversation]
    assert "<p>Bring the receipt.</p>" in article.body_html


def test_draft_refuses_customer_messages_or_other_chats(desk):
    conversation = make_conversation(site=desk.site)
    question = add_message(conversation, sender=Message.Sender.VISITOR, body="Where is my order?")
    elsewhere = add_message(make_conversation(site=desk.site), sender=Message.Sender.AGENT, body="Elsewhere")
    with pytest.raises(KbError):
        article_draft_from_conversation(
            conversation=conversation, message_ids=[question.pk, elsewhere.pk], author=desk.agent.user
        )
    assert not Article.objects.exists()


def test_article_save_makes_unique_slugs_and_tags():
    first = article_save(title="Returns", body="a", tags=["Shipping", "returns", " "])
    second = article_save(title="Returns", body="b")
    assert first.slug == "returns" and second.slug == "returns-2"
    assert [tag.name for tag in first.tags.all()] == ["returns", "shipping"]


def test_suggestions_are_counted_and_misses_recorded(desk):
    # given one published article about refunds
    refund = make_article(title="Refunds", body="How refunds work.")
    conversation = make_conversation(site=desk.site)
    # when suggestions are asked for a refund question and for a question nothing answers
    found = article_suggest_for_question(text="When do I get my refund?", conversation=conversation, agent=desk.agent)
    missed = article_suggest_for_question(text="Do you sell gift cards?", conversation=conversation, agent=desk.agent)
    # then the first is suggested and counted, the second is a recorded miss
    assert found == [refund] and missed == []
    assert ArticleUsage.objects.filter(kind="suggested", article=refund, conversation=conversation).count() == 1
    miss = ArticleUsage.objects.get(kind="missed")
    assert miss.question == "Do you sell gift cards?" and miss.conversation == conversation


def test_unanswered_questions_list_one_per_chat_until_an_article_is_drafted(desk):
    # given two chats whose questions found nothing, one of them asked twice
    first = make_conversation(site=desk.site)
    second = make_conversation(site=desk.site)
    article_suggest_for_question(text="gift cards?", conversation=first)
    article_suggest_for_question(text="gift cards, really?", conversation=first)
    article_suggest_for_question(text="loyalty points?", conversation=second)
    # then both chats are listed once, newest first
    assert [u.question for u in questions_unanswered()] == ["loyalty points?", "gift cards, really?"]
    # when an article is drafted from the second chat
    answer = add_message(second, sender=Message.Sender.AGENT, body="We have none.")
    article_draft_from_conversation(conversation=second, message_ids=[answer.pk], author=desk.agent.user)
    # then it leaves the list
    assert [u.question for u in questions_unanswered()] == ["gift cards, really?"]


def test_asking_again_for_the_same_chat_question_counts_nothing_more(desk):
    # given a chat whose question was already answered with suggestions, and one with none
    refund = make_article(title="Refunds", body="How refunds work.")
    conversation = make_conversation(site=desk.site)
    article_suggest_for_question(text="Where is my refund?", conversation=conversation, agent=desk.agent)
    article_suggest_for_question(text="Gift cards?", conversation=conversation, agent=desk.agent)
    # when the console asks again for both (a reload, a second agent looking on)
    again = article_suggest_for_question(text="Where is my refund?", conversation=conversation, agent=desk.agent)
    article_suggest_for_question(text="Gift cards?", conversation=conversation, agent=desk.agent)
    # then the same articles come back, but each suggestion and miss is counted once
    assert again == [refund]
    assert ArticleUsage.objects.filter(kind="suggested").count() == 1
    assert ArticleUsage.objects.filter(kind="missed").count() == 1
    # and a new question in the chat counts again
    article_suggest_for_question(text="Refund for a gift?", conversation=conversation, agent=desk.agent)
    assert ArticleUsage.objects.filter(kind="suggested").count() == 2
