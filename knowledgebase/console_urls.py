from django.urls import path

from . import views

app_name = "kb"
urlpatterns = [
    path("articles/", views.kb_articles, name="articles"),
    path("articles/new/", views.kb_article_edit, name="article_new"),
    path("articles/<int:pk>/edit/", views.kb_article_edit, name="article_edit"),
    path("unanswered/", views.kb_unanswered, name="unanswered"),
    path("suggest", views.kb_suggest, name="suggest"),
    path("insert", views.kb_insert, name="insert"),
    path("draft", views.kb_draft, name="draft"),
]
