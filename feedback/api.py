"""REST API of the feedback backlog, for signed-in staff."""

from typing import Any

from rest_framework import pagination, permissions, serializers, viewsets
from rest_framework.request import Request
from rest_framework.schemas.openapi import AutoSchema
from rest_framework.views import APIView

from agents.selectors import agent_for_user

from .models import FeedbackItem, Source
from .selectors import backlog_ranked


class FeedbackItemSerializer(serializers.ModelSerializer):
    mentions_30 = serializers.IntegerField(read_only=True)
    mentions_90 = serializers.IntegerField(read_only=True)
    mentions_total = serializers.IntegerField(read_only=True)

    class Meta:
        model = FeedbackItem
        fields = [
            "id",
            "kind",
            "status",
            "source",
            "summary",
            "created_at",
            "mentions_30",
            "mentions_90",
            "mentions_total",
        ]


class IsAgent(permissions.BasePermission):
    message = "Only agents may read the backlog."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return agent_for_user(request.user) is not None


class BacklogSchema(AutoSchema):
    """Documents the list's filters, so clients (and schemathesis) know and exercise them."""

    def get_filter_parameters(self, path: str, method: str) -> list[dict[str, Any]]:
        if getattr(self.view, "action", None) != "list":
            return []
        choices = {
            "kind": FeedbackItem.Kind.values,
            "status": FeedbackItem.Status.values,
            "source": Source.values,
            "window": ["30", "90"],
        }
        return [
            {"name": name, "in": "query", "required": False, "schema": {"type": "string", "enum": values}}
            for name, values in choices.items()
        ]


class BacklogPagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class FeedbackItemViewSet(viewsets.ReadOnlyModelViewSet):
    """Backlog items ranked by mentions; filter with `kind`, `status`, `source`, `window` (30 or 90)."""

    serializer_class = FeedbackItemSerializer
    permission_classes = [permissions.IsAuthenticated, IsAgent]
    pagination_class = BacklogPagination
    schema = BacklogSchema()

    def get_queryset(self):
        params = self.request.query_params

        def choice(name: str, values: list[str]) -> str:
            value = params.get(name, "")
            return value if value in values else ""

        return backlog_ranked(
            window_days=90 if params.get("window") == "90" else 30,
            kind=choice("kind", FeedbackItem.Kind.values),
            status=choice("status", FeedbackItem.Status.values),
            source=choice("source", Source.values),
        )
