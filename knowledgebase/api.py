"""Read-only REST API of the public help centre search."""

from rest_framework import generics, permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from .models import Article
from .selectors import article_search


class ArticleHitSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    category = serializers.StringRelatedField()
    snippet = serializers.CharField(read_only=True)

    class Meta:
        model = Article
        fields = ["id", "title", "url", "category", "snippet", "updated_at"]

    def get_url(self, article: Article) -> str:
        return self.context["request"].build_absolute_uri(article.get_absolute_url())


class HelpSearch(generics.ListAPIView):
    """Published articles matching `q` (websearch syntax), best first, with highlighted snippets."""

    serializer_class = ArticleHitSerializer
    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    pagination_class = None

    def get_queryset(self):  # the schema generator asks for it; the list comes from the search
        return Article.objects.none()

    def list(self, request: Request, *args, **kwargs) -> Response:
        hits = article_search(text=request.query_params.get("q", ""))
        return Response(self.get_serializer(hits, many=True).data)
