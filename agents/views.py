from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chat.selectors import follow_ups_open

from .selectors import agent_for_user


@login_required
def console(request: HttpRequest) -> HttpResponse:
    """The agent console page; everything live in it comes over the agent socket."""
    agent = agent_for_user(request.user)
    if agent is None:
        return render(request, "agents/not_an_agent.html", status=403)
    return render(request, "agents/console.html", {"agent": agent})


@login_required
def follow_ups(request: HttpRequest) -> HttpResponse:
    """R16: every chat whose answer is still owed, until an agent clears the mark."""
    agent = agent_for_user(request.user)
    if agent is None:
        return render(request, "agents/not_an_agent.html", status=403)
    return render(request, "agents/follow_ups.html", {"agent": agent, "conversations": follow_ups_open()})
