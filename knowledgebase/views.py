from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from agents.models import Agent
from agents.selectors import agent_for_user
from chat.selectors import conversation_for_agent

from .console import agent_json, agent_page, json_int
from .errors import KbError, KbErrorCode
from .forms import ArticleForm
from .models import Article, ArticleUsage, Category
from .selectors import (
    article_search_page,
    articles_published,
    articles_with_usage,
    categories_with_articles,
    conversation_latest_question,
    questions_unanswered,
)
from .services import article_draft_from_conversation, article_save, article_suggest_for_question, article_usage_record

# --- Public help centre (no JavaScript anywhere) -------------------------------------


def help_index(request: HttpRequest) -> HttpResponse:
    """The shelves, or with `q` one page (`page`) of search results; plain links page through them."""
    query = request.GET.get("q", "").strip()
    if not query:
        return render(request, "knowledgebase/help_index.html", {"query": "", "categories": categories_with_articles()})
    page = article_search_page(text=query, page=request.GET.get("page"))
    return render(request, "knowledgebase/help_index.html", {"query": query, "page": page})


def help_category(request: HttpRequest, slug: str) -> HttpResponse:
    category = get_object_or_404(Category, slug=slug)
    articles = Article.objects.filter(status=Article.Status.PUBLISHED, category=category).only("title", "slug")
    articles = articles.order_by("title")
    return render(request, "knowledgebase/help_category.html", {"category": category, "articles": articles})


def help_article(request: HttpRequest, slug: str) -> HttpResponse:
    article = get_object_or_404(Article.objects.select_related("category").prefetch_related("tags"), slug=slug)
    # Agents preview drafts where customers will read them; to everyone else a draft does not exist.
    if not article.is_published and agent_for_user(request.user) is None:
        raise Http404
    return render(request, "knowledgebase/help_article.html", {"article": article})


def help_article_go(request: HttpRequest, pk: int) -> HttpResponse:
    """The link agents insert into chats (R15): counts the click, then shows the article."""
    article = get_object_or_404(Article.objects.only("slug"), pk=pk, status=Article.Status.PUBLISHED)
    article_usage_record(kind=ArticleUsage.Kind.CLICKED, article=article)
    return HttpResponseRedirect(article.get_absolute_url())


# --- Console pages -------------------------------------------------------------------


@agent_page
def kb_articles(request: HttpRequest, agent: Agent) -> HttpResponse:
    return render(request, "knowledgebase/console_articles.html", {"articles": articles_with_usage()[:200]})


@agent_page
def kb_article_edit(request: HttpRequest, agent: Agent, pk: int | None = None) -> HttpResponse:
    article = get_object_or_404(Article, pk=pk) if pk is not None else None
    form = ArticleForm(request.POST or None, instance=article)
    if request.method == "POST" and form.is_valid():
        article = article_save(
            article=article,
            title=form.cleaned_data["title"],
            body=form.cleaned_data["body"],
            category=form.cleaned_data["category"],
            status=form.cleaned_data["status"],
            tags=form.tag_names(),
            author=request.user,
        )
        return redirect("kb:article_edit", pk=article.pk)
    return render(request, "knowledgebase/console_article_form.html", {"form": form, "article": article})


@agent_page
def kb_unanswered(request: HttpRequest, agent: Agent) -> HttpResponse:
    return render(request, "knowledgebase/console_unanswered.html", {"questions": questions_unanswered()})


# --- JSON endpoints for the console ----------------------------------------------------


def _article_payload(request: HttpRequest, article: Article) -> dict[str, Any]:
    return {
        "id": article.pk,
        "title": article.title,
        "url": request.build_absolute_uri(reverse("knowledgebase:go", args=[article.pk])),
        "snippet": getattr(article, "snippet", ""),
    }


@agent_json
def kb_suggest(request: HttpRequest, agent: Agent, data: dict[str, Any]) -> JsonResponse:
    """Suggestions for the customer's latest question in a chat."""
    conversation = conversation_for_agent(agent=agent, conversation_id=json_int(data, "conversation_id"))
    question = conversation_latest_question(conversation=conversation)
    if question is None:
        return JsonResponse({"question": None, "articles": []})
    articles = article_suggest_for_question(text=question.body, conversation=conversation, agent=agent)
    return JsonResponse(
        {
            "question": {"id": question.pk, "body": question.body},
            "articles": [_article_payload(request, a) for a in articles],
        }
    )


@agent_json
def kb_insert(request: HttpRequest, agent: Agent, data: dict[str, Any]) -> JsonResponse:
    """Counts an insertion and gives the composer the text to insert: the title and its link."""
    conversation = conversation_for_agent(agent=agent, conversation_id=json_int(data, "conversation_id"))
    article = articles_published().filter(pk=json_int(data, "article_id")).first()
    if article is None:
        raise KbError(KbErrorCode.NOT_FOUND, _("No such published article."))
    article_usage_record(kind=ArticleUsage.Kind.INSERTED, article=article, conversation=conversation, agent=agent)
    payload = _article_payload(request, article)
    return JsonResponse({**payload, "text": f"{article.title}: {payload['url']}"})


@agent_json
def kb_draft(request: HttpRequest, agent: Agent, data: dict[str, Any]) -> JsonResponse:
    """R21: "Draft an article from this chat" with the picked agent answers."""
    conversation = conversation_for_agent(agent=agent, conversation_id=json_int(data, "conversation_id"))
    ids = data.get("message_ids")
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise KbError(KbErrorCode.INVALID_FIELD, "message_ids must be a list of integers.")
    article = article_draft_from_conversation(conversation=conversation, message_ids=ids, author=request.user)
    return JsonResponse(
        {"id": article.pk, "title": article.title, "edit_url": reverse("kb:article_edit", args=[article.pk])},
        status=201,
    )
