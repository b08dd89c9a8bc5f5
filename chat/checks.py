"""Deploy checks of chat's own settings (`manage.py check --deploy`)."""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Warning

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


def check_public_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Emails are read far from any request, so their links (unsubscribe, back to the chat)
    are built from PUBLIC_URL; left at its local default, every link in production is dead."""
    if settings.DEBUG:
        return []
    url = urlsplit(settings.PUBLIC_URL)
    if url.scheme == "https" and url.hostname and url.hostname not in LOCAL_HOSTS:
        return []
    return [
        Warning(
            f"PUBLIC_URL is {settings.PUBLIC_URL!r}: links in emails (unsubscribe, back to the chat) "
            "would not reach this server.",
            hint="Set PUBLIC_URL to the https address customers reach, e.g. https://chat.example.com.",
            id="chat.W001",
        )
    ]
