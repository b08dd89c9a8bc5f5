"""REST API of the feedback backlog, for signed-in staff."""

from rest_framework import permissions, serializers, viewsets
from rest_framework.request import Request
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


class FeedbackItemViewSet(viewsets.ReadOnlyModelViewSet):
    """Backlog items ranked by mentions; filter with `kind`, `status`, `source`, `window` (30 or 90)."""

    serializer_class = FeedbackItemSerializer
    permission_classes = [permissions.IsAuthenticated, IsAgent]

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
