from django.apps import AppConfig
from django.core import checks


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from .checks import check_public_url

        checks.register(check_public_url, checks.Tags.security, deploy=True)
