import json

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from chat import payloads
from chat.errors import ChatError, ErrorCode
from chat.metrics import SILENCE_LIMIT_SECONDS
from chat.models import Label, TranscriptView
from chat.search import conversation_search, search_snippets
from chat.selectors import agent_can_label, conversation_for_agent, follow_ups_open, labels_all
from chat.services import conversation_label_add, conversation_label_remove
from chat.supervision.access import user_is_supervisor
from chat.supervision.transcript import transcript_rows
from knowledgebase.console import json_int
from knowledgebase.errors import KbError

from .forms import ConversationSearchForm
from .selectors import agent_for_user

SEARCH_PAGE_SIZE = 25


@login_required
def console(request: HttpRequest) -> HttpResponse:
    """The agent console page; everything live in it comes over the agent socket."""
    agent = agent_for_user(request.user)
    if agent is None:
        return render(request, "agents/not_an_agent.html", status=403)
    labels = [payloads.label_payload(label) for label in labels_all()]
    return render(request, "agents/console.html", {"agent": agent, "labels": labels})


@login_required
def follow_ups(request: HttpRequest) -> HttpResponse:
    """R16: every chat whose answer is still owed, until an agent clears the mark."""
    agent = agent_for_user(request.user)
    if agent is None:
        return render(request, "agents/not_an_agent.html", status=403)
    return render(request, "agents/follow_ups.html", {"agent": agent, "conversations": follow_ups_open()})


def _json_error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


@require_POST
def conversation_labels(request: HttpRequest, conversation_id: int) -> JsonResponse:
    """Put a label on a chat or take it off: `{"label_id": 3, "on": true}`, by the chat's
    owner or a supervisor. Answers with the conversation as the socket describes it."""
    agent = agent_for_user(request.user)
    if agent is None:
        return _json_error("not_an_agent", gettext("Only agents may do this."), 403)
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        data = None
    try:
        label_id = json_int(data, "label_id") if isinstance(data, dict) else None
    except KbError:
        label_id = None
    on = data.get("on") if isinstance(data, dict) else None
    if label_id is None or not isinstance(on, bool):
        return _json_error(ErrorCode.INVALID_FIELD, gettext('Send {"label_id": <number>, "on": true or false}.'), 400)
    try:
        conversation = conversation_for_agent(agent=agent, conversation_id=conversation_id)
    except ChatError as exc:
        return _json_error(exc.code, gettext("No such conversation."), 404)
    if not agent_can_label(agent=agent, conversation=conversation):
        return _json_error(
            ErrorCode.NOT_OWNER, gettext("Only the chat's agent or a supervisor can change its labels."), 403
        )
    label = Label.objects.filter(pk=label_id).first()
    if label is None:
        return _json_error(ErrorCode.NOT_FOUND, gettext("No such label."), 404)
    change = conversation_label_add if on else conversation_label_remove
    conversation = change(conversation=conversation, label=label, actor=agent.user)
    return JsonResponse({"conversation": payloads.conversation_for_agent(conversation)})


@login_required
def search(request: HttpRequest) -> HttpResponse:
    """Every conversation the viewer may see, by words, label, agent, status and date;
    25 a page, newest first, with the matching words marked."""
    supervisor = user_is_supervisor(request.user)
    if not supervisor and agent_for_user(request.user) is None:
        return render(request, "agents/not_an_agent.html", status=403)
    form = ConversationSearchForm(request.GET)
    page = None
    snippets: dict[int, SafeString] = {}
    status = 200
    if form.is_valid():
        try:
            found = conversation_search(viewer=request.user, **form.search_arguments())
        except ChatError as exc:
            form.add_error(None, exc.message)
            status = 400
        else:
            page = Paginator(found, SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
            snippets = search_snippets(conversations=list(page.object_list), text=form.cleaned_data["q"])
    else:
        status = 400
    rows = [
        {
            "conversation": conversation,
            "snippet": snippets.get(conversation.pk, ""),
            "labels": [payloads.label_payload(label) for label in conversation.labels.all()],
        }
        for conversation in (page.object_list if page else [])
    ]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "query": query.urlencode(),
        "is_supervisor": supervisor,
        "current": "search",
    }
    return render(request, "agents/search.html", context, status=status)


@login_required
def search_transcript(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """A chat found by search, read-only, for an agent who may see it (the console's rule);
    opening it is logged like an admin review: customers' words are personal data."""
    agent = agent_for_user(request.user)
    if agent is None:
        return render(request, "agents/not_an_agent.html", status=403)
    try:
        conversation = conversation_for_agent(agent=agent, conversation_id=conversation_id)
    except ChatError:
        raise Http404(gettext("No such conversation.")) from None
    TranscriptView.objects.create(conversation=conversation, viewer=request.user)  # type: ignore[misc]
    context = {
        "conversation": conversation,
        "labels": [payloads.label_payload(label) for label in conversation.labels.all()],
        "transcript": transcript_rows(conversation),
        "limit_seconds": SILENCE_LIMIT_SECONDS,
    }
    return render(request, "agents/search_transcript.html", context)
