from django.urls import path

from . import views

app_name = "supervision"
urlpatterns = [
    path("floor/", views.floor, name="floor"),
    path("floor/snapshot/", views.floor_snapshot_json, name="floor_snapshot"),
    path("floor/chats/<int:conversation_id>/", views.floor_chat, name="floor_chat"),
    path("reports/", views.reports, name="reports"),
    path("training/", views.training, name="training"),
    path("reports/<slug:slug>.csv", views.report_csv, name="report_csv"),
]
