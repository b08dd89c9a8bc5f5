"""Admin actions the apps' ModelAdmins share."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages


def retry_action(retry: Callable[[list[int]], int], *, noun: str, description: str) -> Callable[..., None]:
    """An admin action handing the selected rows' ids to `retry` (which queues the failed
    ones again and returns how many) and telling how many it queued and left alone.
    Assign it to a ModelAdmin attribute named in `actions`."""

    @admin.action(description=description)
    def action(modeladmin: admin.ModelAdmin, request: Any, queryset: Any) -> None:
        count = retry(list(queryset.values_list("pk", flat=True)))
        skipped = queryset.count() - count
        modeladmin.message_user(request, f"Queued {count} {noun} again.", messages.SUCCESS)
        if skipped:
            modeladmin.message_user(request, f"{skipped} {noun} were not failed and were left alone.", messages.WARNING)

    return action
