from django.urls import path

from . import views

app_name = "chat"
urlpatterns = [
    path("demo/", views.demo_shop, name="demo_shop"),
]
