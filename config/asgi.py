import os

from channels.routing import ProtocolTypeRouter, URLRouter
from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Django must be set up before the routing imports models.
django_asgi_app = get_asgi_application()

from chat.consumers.layer_watch import leave_groups_at_shutdown  # noqa: E402
from chat.routing import websocket_urlpatterns  # noqa: E402
from config.collector import collector_tune  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

leave_groups_at_shutdown()

# Last: what was imported up to here is frozen out of the garbage collector's walks.
if settings.ASGI_FULL_COLLECTION_SECONDS:
    collector_tune(
        full_collection_seconds=settings.ASGI_FULL_COLLECTION_SECONDS,
        young_collection_seconds=settings.ASGI_YOUNG_COLLECTION_SECONDS,
    )
