"""CORS for the widget's HTTP endpoints: the widget runs on the customer's site, another
origin, which each site allows by name (Site.allowed_origins); callers check that first."""

from django.http import HttpResponse


def cors_allow(response: HttpResponse, origin: str, *, methods: str, headers: str) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Allow-Methods"] = methods
    response["Access-Control-Allow-Headers"] = headers
    response["Access-Control-Max-Age"] = "600"
    response["Vary"] = "Origin"
    return response
