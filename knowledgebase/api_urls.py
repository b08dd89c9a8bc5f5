from django.urls import path

from .api import HelpSearch

urlpatterns = [path("search/", HelpSearch.as_view(), name="api-help-search")]
