from django.urls import path

from . import views

app_name = "knowledgebase"
urlpatterns = [
    path("", views.help_index, name="index"),
    path("c/<slug:slug>/", views.help_category, name="category"),
    path("a/<int:pk>/go", views.help_article_go, name="go"),
    path("<slug:slug>/", views.help_article, name="article"),
]
