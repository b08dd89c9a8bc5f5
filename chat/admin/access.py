"""Who may review which transcripts in admin (R23)."""

from ..metrics import SILENCE_LIMIT_SECONDS
from ..supervision.access import SUPERVISORS_GROUP, user_is_supervisor

__all__ = ["LONG_WAIT_SECONDS", "SUPERVISORS_GROUP", "LogAdminMixin", "is_supervisor"]

# R23: a customer message left this long without an agent's reply counts as a long silence.
LONG_WAIT_SECONDS = SILENCE_LIMIT_SECONDS


def is_supervisor(request) -> bool:  # type: ignore[no-untyped-def]
    """Supervisors review every chat; other staff only their own. Asked once per request."""
    cached = getattr(request, "_chat_is_supervisor", None)
    if cached is None:
        cached = user_is_supervisor(request.user)
        request._chat_is_supervisor = cached
    return cached


class LogAdminMixin:
    """For logs kept as proof (who read a transcript, what personal data was handled):
    shown, never added, edited or deleted through admin."""

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
