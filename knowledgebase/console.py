"""Guards shared by the console pages and JSON endpoints of the knowledge base and the backlog."""

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from agents.selectors import agent_for_user
from chat.errors import ChatError

from .errors import KbError, KbErrorCode


def agent_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        agent = agent_for_user(request.user)
        if agent is None:
            return render(request, "agents/not_an_agent.html", status=403)
        return view(request, agent, *args, **kwargs)

    return wrapped


def _error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def agent_json(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """POST with a JSON object body, from a logged-in agent; errors come back as JSON."""

    @require_POST
    @wraps(view)
    def wrapped(request: HttpRequest) -> JsonResponse:
        if not request.user.is_authenticated:
            return _error("not_authenticated", "Log in first.", 401)
        agent = agent_for_user(request.user)
        if agent is None:
            return _error("not_an_agent", "Only agents may do this.", 403)
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return _error(KbErrorCode.INVALID_FIELD, "The body must be a JSON object.", 400)
        try:
            return view(request, agent, data)
        except ChatError as exc:
            return _error(exc.code, "No such conversation.", 404)
        except KbError as exc:
            return _error(exc.code, exc.message, 404 if exc.code == KbErrorCode.NOT_FOUND else 400)

    return wrapped


# Ids are bigint columns: a larger number would make PostgreSQL raise, a server error.
_ID_LIMIT = 2**63


def json_int(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not -_ID_LIMIT <= value < _ID_LIMIT:
        raise KbError(KbErrorCode.INVALID_FIELD, f"{name} must be an integer id.")
    return value
