from django.contrib import admin

from .models import Agent, Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "is_default"]
    filter_horizontal = ["topics"]


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "status", "max_chats", "is_supervisor"]
    list_filter = ["status", "is_supervisor", "teams"]
    filter_horizontal = ["teams"]
    list_select_related = ["user"]
