from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog
from rest_framework.renderers import JSONOpenAPIRenderer
from rest_framework.schemas import get_schema_view

from chat.api.schema import HelpdeskSchemaGenerator
from config import health

urlpatterns = [
    # Probes for load balancers and supervisors (docs/deploy.md): no login, no slash.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", RedirectView.as_view(pattern_name="chat:demo_shop"), name="home"),
    path("", include("chat.urls")),
    path("console/kb/", include("knowledgebase.console_urls")),
    path("console/", include("feedback.urls")),
    path("console/", include("chat.supervision.urls")),
    path("console/", include("agents.urls")),
    path("help/", include("knowledgebase.urls")),
    path("api/help/", include("knowledgebase.api_urls")),
    path("api/backlog/", include("feedback.api_urls")),
    path("api/v1/", include("chat.api.urls")),
    path(
        "api/schema/",
        get_schema_view(
            title="Helpdesk API",
            version="1",
            public=True,
            renderer_classes=[JSONOpenAPIRenderer],
            generator_class=HelpdeskSchemaGenerator,
        ),
        name="api-schema",
    ),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # The console's and floor's strings (djangojs) in the page's language; same origin.
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
]
