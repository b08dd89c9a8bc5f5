from django.urls import path

from . import views, views_email

app_name = "chat"
urlpatterns = [
    path("demo/", views.demo_shop, name="demo_shop"),
    path("widget/<str:site_key>/config", views.widget_config, name="widget_config"),
    path("widget/<str:site_key>/firings", views.trigger_firing, name="trigger_firing"),
    path("email/unsubscribe/<str:token>/", views_email.unsubscribe, name="unsubscribe"),
    path("email/last-transcript/", views_email.last_transcript, name="last_transcript"),
]
