from django.urls import path

from . import views

app_name = "agents"
urlpatterns = [
    path("", views.console, name="console"),
    path("follow-ups/", views.follow_ups, name="follow_ups"),
    path("conversations/<int:conversation_id>/labels", views.conversation_labels, name="conversation_labels"),
    path("search/", views.search, name="search"),
    path("search/chats/<int:conversation_id>/", views.search_transcript, name="search_transcript"),
]
