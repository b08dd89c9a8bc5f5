from django.urls import path

from . import views

app_name = "feedback"
urlpatterns = [
    path("backlog/", views.backlog, name="backlog"),
    path("feedback/similar", views.feedback_similar_view, name="similar"),
    path("feedback/log", views.feedback_log_view, name="log"),
]
