from django.urls import path

from . import views

app_name = "agents"
urlpatterns = [
    path("", views.console, name="console"),
    path("follow-ups/", views.follow_ups, name="follow_ups"),
]
