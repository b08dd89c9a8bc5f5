from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from agents.models import Agent
from chat.selectors import conversation_for_agent
from knowledgebase.console import agent_json, agent_page, json_int
from knowledgebase.errors import KbError, KbErrorCode

from .models import FeedbackItem, Source
from .selectors import WINDOWS, backlog_ranked, feedback_similar
from .services import feedback_log

BACKLOG_PAGE_SIZE = 100


def _choice(value: str, choices: list[str]) -> str:
    return value if value in choices else ""


@agent_page
def backlog(request: HttpRequest, agent: Agent) -> HttpResponse:
    """R20: the backlog, most asked first, filtered by kind, status and source (a plain GET form)."""
    kind = _choice(request.GET.get("kind", ""), FeedbackItem.Kind.values)
    status = _choice(request.GET.get("status", ""), FeedbackItem.Status.values)
    source = _choice(request.GET.get("source", ""), Source.values)
    window = 90 if request.GET.get("window") == "90" else 30
    items = backlog_ranked(window_days=window, kind=kind, status=status, source=source)[:BACKLOG_PAGE_SIZE]
    context = {
        "items": items,
        "filters": {"kind": kind, "status": status, "source": source, "window": window},
        "kinds": FeedbackItem.Kind.choices,
        "statuses": FeedbackItem.Status.choices,
        "sources": Source.choices,
        "windows": WINDOWS,
    }
    return render(request, "feedback/backlog.html", context)


def _item_payload(item: FeedbackItem) -> dict[str, Any]:
    return {
        "id": item.pk,
        "kind": item.kind,
        "status": item.status,
        "source": item.source,
        "summary": item.summary,
    }


@agent_json
def feedback_similar_view(request: HttpRequest, agent: Agent, data: dict[str, Any]) -> JsonResponse:
    text = data.get("text")
    if not isinstance(text, str):
        raise KbError(KbErrorCode.INVALID_FIELD, "text must be a string.")
    return JsonResponse({"items": [_item_payload(item) for item in feedback_similar(text=text)]})


@agent_json
def feedback_log_view(request: HttpRequest, agent: Agent, data: dict[str, Any]) -> JsonResponse:
    conversation = conversation_for_agent(agent=agent, conversation_id=json_int(data, "conversation_id"))
    merge_into = None
    if data.get("merge_into") is not None:
        merge_into = FeedbackItem.objects.filter(pk=json_int(data, "merge_into")).first()
        if merge_into is None:
            raise KbError(KbErrorCode.NOT_FOUND, _("No such feedback item."))
    mention = feedback_log(
        conversation=conversation,
        agent=agent,
        kind=str(data.get("kind", "")),
        summary=str(data.get("summary", "")),
        quote=str(data.get("quote", "")),
        merge_into=merge_into,
    )
    return JsonResponse({"mention_id": mention.pk, "item": _item_payload(mention.item)}, status=201)
