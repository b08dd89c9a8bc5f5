"""An agent's own language and time zone on the pages they see (console, floor, reports, admin)."""

import contextlib
import zoneinfo
from collections.abc import Callable

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from .models import LOCALE_CACHE_SECONDS, Agent, locale_cache_key


def agent_locale(user_id: int) -> tuple[str, str]:
    """The (language, time zone) a user chose as an agent, "" for "not set" or "not an agent".

    From the cache, which Agent.save() keeps current: pages with a bounded number of queries
    stay that way, and a change shows on the agent's next page.
    """
    key = locale_cache_key(user_id)
    found = cache.get(key)
    if found is None:
        row = Agent.objects.filter(user_id=user_id).values_list("language", "time_zone").first()
        found = list(row) if row else ["", ""]
        cache.set(key, found, LOCALE_CACHE_SECONDS)
    return found[0], found[1]


class AgentLocaleMiddleware:
    """Activates the signed-in agent's language and time zone for the request.

    Sits after LocaleMiddleware (which picked the browser's language) and AuthenticationMiddleware:
    a language set on the agent wins over the browser; an empty one keeps the browser's choice. An
    empty time zone keeps the default (settings.TIME_ZONE); times drawn by JavaScript use the
    browser's zone anyway. The zone is deactivated afterwards so a worker thread never carries one
    agent's zone into the next request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        language, zone = agent_locale(user.pk)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        if zone:
            # The model validates the name; a zone removed from tzdata since falls back to the default.
            with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.activate(zoneinfo.ZoneInfo(zone))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
