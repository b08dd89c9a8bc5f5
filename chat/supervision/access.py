"""Who is a supervisor: one rule for the admin's transcript review and the console's pages."""

from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied

from agents.models import Agent

SUPERVISORS_GROUP = "Supervisors"


def user_is_supervisor(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Superusers, members of the "Supervisors" group and agents marked supervisor."""
    if not user.is_authenticated or not user.is_active:
        return False
    if getattr(user, "is_superuser", False):
        return True
    if Agent.objects.filter(user_id=user.pk, is_supervisor=True).exists():
        return True
    return user.groups.filter(name=SUPERVISORS_GROUP).exists()  # type: ignore[attr-defined]


def supervisor_required(view: Any) -> Any:
    """Log in first; then supervisors only, everyone else gets 403."""

    @login_required
    @wraps(view)
    def wrapped(request: Any, *args: Any, **kwargs: Any) -> Any:
        if not user_is_supervisor(request.user):
            raise PermissionDenied("Supervisors only.")
        return view(request, *args, **kwargs)

    return wrapped
