"""Supervisors' console pages: thin views over `chat.metrics` (supervisors only, else 403),
and the training list supervisors leave each agent."""

import csv

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from agents.selectors import agent_for_user

from ..metrics import SILENCE_LIMIT_SECONDS, floor_snapshot, report
from ..models import Conversation, TranscriptView
from ..selectors import conversations_with_people, training_flags_for_agent
from ..spreadsheet import spreadsheet_safe
from .access import supervisor_required
from .forms import ReportFilterForm, default_scope
from .reports import agent_columns, agent_rows, report_charts
from .transcript import transcript_rows

# The agent socket the floor listens on (the supervisors group tells it what changed),
# watching only: it neither makes the supervisor present nor takes chats.
SOCKET_PATH = "/ws/agent/?watch=1"


@supervisor_required
def floor(request: HttpRequest) -> HttpResponse:
    """R8, R9: every open chat, the queue per team, the agents; live over the socket."""
    context = {
        "snapshot": floor_snapshot(),
        "agent": agent_for_user(request.user),
        "socket_path": SOCKET_PATH,
        "limit_seconds": SILENCE_LIMIT_SECONDS,
    }
    return render(request, "chat/floor.html", context)


@supervisor_required
def floor_snapshot_json(request: HttpRequest) -> JsonResponse:
    """The floor as JSON: what the page fetches when the socket says something changed."""
    response = JsonResponse(floor_snapshot().as_json())
    response["Cache-Control"] = "no-store"
    return response


@supervisor_required
def floor_chat(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Any chat, read-only, live while it lasts. Opening it is logged like an admin review:
    customers' words are personal data. `?part=transcript` is the page's live refresh."""
    conversation = conversations_with_people().filter(pk=conversation_id).first()
    if conversation is None:
        raise Http404("No such conversation.")
    context = {
        "conversation": conversation,
        "transcript": transcript_rows(conversation),
        "limit_seconds": SILENCE_LIMIT_SECONDS,
        "socket_path": SOCKET_PATH,
        "is_open": conversation.status != Conversation.Status.ENDED,
        "now": timezone.now(),
    }
    if request.GET.get("part") == "transcript":
        return render(request, "chat/_floor_transcript.html", context)
    # supervisor_required let only a logged-in user this far, never AnonymousUser.
    TranscriptView.objects.create(conversation=conversation, viewer=request.user)  # type: ignore[misc]
    return render(request, "chat/floor_chat.html", context)


@login_required
def training(request: HttpRequest) -> HttpResponse:
    """R23: an agent's own chats that supervisors flagged for training, with their notes
    and the transcript as the supervisor saw it."""
    agent = agent_for_user(request.user)
    if agent is None:
        return render(request, "agents/not_an_agent.html", status=403)
    flags = training_flags_for_agent(user_id=agent.user_id)
    items = [{"flag": flag, "transcript": transcript_rows(flag.conversation)} for flag in flags]
    return render(
        request, "chat/training.html", {"agent": agent, "items": items, "limit_seconds": SILENCE_LIMIT_SECONDS}
    )


def _report_context(request: HttpRequest) -> dict:
    form = ReportFilterForm(request.GET or None)
    scope, period = form.scope() if form.is_valid() else default_scope()
    result = report(scope, period=period)
    return {
        "form": form,
        "report": result,
        "charts": report_charts(result),
        "agent_columns": agent_columns(),
        "agent_rows": agent_rows(result),
        "time_zone": str(scope.tz),
    }


@supervisor_required
def reports(request: HttpRequest) -> HttpResponse:
    """Charts that teach: when chats come and are missed, first replies against the target,
    long silences, satisfaction, canned share and follow-ups, per day or week."""
    context = _report_context(request)
    context["query"] = request.GET.urlencode()
    return render(request, "chat/reports.html", context)


@supervisor_required
def report_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """One chart's numbers as CSV, for the filters in the query string."""
    context = _report_context(request)
    if slug == "agents":
        rows = [agent_columns(), *agent_rows(context["report"])]
    else:
        chart = next((chart for chart in context["charts"] if chart.slug == slug), None)
        if chart is None:
            raise Http404("No such chart.")
        rows = chart.csv_rows()
    scope = context["report"].scope
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slug}_{scope.start}_{scope.end}.csv"'
    writer = csv.writer(response)
    # Agent and team names come from staff; still, no cell may start a spreadsheet formula.
    writer.writerows([[spreadsheet_safe(cell) for cell in row] for row in rows])
    return response
