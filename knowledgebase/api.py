"""Read-only REST API of the public help centre search."""

from typing import Any

from rest_framework import generics, pagination, permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.schemas.openapi import AutoSchema

from .models import Article
from .selectors import SEARCH_PAGE_SIZE, article_search_results


class ArticleHitSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    category = serializers.StringRelatedField()
    snippet = serializers.CharField(read_only=True)

    class Meta:
        model = Article
        fields = ["id", "title", "url", "category", "snippet", "updated_at"]

    def get_url(self, article: Article) -> str:
        return self.context["request"].build_absolute_uri(article.get_absolute_url())


class HelpSearchPagination(pagination.PageNumberPagination):
    page_size = SEARCH_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = 50


class HelpSearchSchema(AutoSchema):
    def get_filter_parameters(self, path: str, method: str) -> list[dict[str, Any]]:
        return [
            {
                "name": "q",
                "in": "query",
                "required": True,
                "description": 'The query, in websearch syntax: words, "a phrase", or, -word.',
                "schema": {"type": "string", "maxLength": 200},
            }
        ]


class HelpSearch(generics.ListAPIView):
    """Published articles matching `q`, best first, with highlighted snippets, a page at a time."""

    serializer_class = ArticleHitSerializer
    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    pagination_class = HelpSearchPagination
    schema = HelpSearchSchema()

    def get_queryset(self):  # the schema generator asks for it; the list comes from the search
        return Article.objects.none()

    def list(self, request: Request, *args, **kwargs) -> Response:
        results = article_search_results(text=request.query_params.get("q", ""))
        page = self.paginate_queryset(results)  # type: ignore[arg-type]
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
