"""Who may use the API, and how often: agents, seeing what their console shows
(`chat.selectors.agent_can_see`)."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from agents.models import Agent
from agents.selectors import agent_for_user

from ..supervision.access import user_is_supervisor


def request_agent(request: Request) -> Agent | None:
    """The agent profile of the caller, looked up once per request."""
    if not hasattr(request, "_api_agent"):
        request._api_agent = agent_for_user(request.user)  # type: ignore[attr-defined]
    return request._api_agent  # type: ignore[attr-defined]


class IsAgent(permissions.BasePermission):
    message = _("Only agents may use this API; the user of this token has no agent profile.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request_agent(request) is not None


class SupervisorWrites(permissions.BasePermission):
    """Every agent reads; only supervisors create and change (labels)."""

    message = _("Only supervisors may create or change this.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.method in permissions.SAFE_METHODS or user_is_supervisor(request.user)


class ApiRateThrottle(UserRateThrottle):
    """settings.API_RATE per user, counted in the shared cache (Redis on the real stack, so
    across every server process)."""

    scope = "api"

    def get_rate(self) -> str:
        # Read per request, not once at import like DRF's DEFAULT_THROTTLE_RATES.
        return settings.API_RATE
