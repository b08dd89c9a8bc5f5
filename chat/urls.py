from django.urls import path

from . import views, views_email
from .attachments import views as attachment_views

app_name = "chat"
urlpatterns = [
    path("demo/", views.demo_shop, name="demo_shop"),
    path("widget/<str:site_key>/config", views.widget_config, name="widget_config"),
    path("widget/i18n/<str:language>.json", views.widget_catalog_view, name="widget_catalog"),
    path("widget/<str:site_key>/firings", views.trigger_firing, name="trigger_firing"),
    path(
        "widget/<str:site_key>/conversations/<int:conversation_id>/attachments",
        attachment_views.widget_upload,
        name="widget_attachment_upload",
    ),
    path(
        "console/conversations/<int:conversation_id>/attachments",
        attachment_views.console_upload,
        name="console_attachment_upload",
    ),
    path("attachments/<uuid:public_id>/<str:signature>", attachment_views.download, name="attachment_download"),
    path("email/unsubscribe/<str:token>/", views_email.unsubscribe, name="unsubscribe"),
    path("email/last-transcript/", views_email.last_transcript, name="last_transcript"),
]
