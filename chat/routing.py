from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from .consumers import AgentConsumer, VisitorConsumer

websocket_urlpatterns = [
    # The widget runs on customers' sites; VisitorConsumer checks the origin against the site.
    path("ws/visitor/<str:site_key>/", VisitorConsumer.as_asgi()),
    path("ws/agent/", AllowedHostsOriginValidator(AuthMiddlewareStack(AgentConsumer.as_asgi()))),
]
