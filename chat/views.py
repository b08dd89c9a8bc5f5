from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from .models import Site


def demo_shop(request: HttpRequest) -> HttpResponse:
    """A pretend customer website with the widget's one script tag on it."""
    site = get_object_or_404(Site, name="Demo Shop")
    return render(request, "chat/demo_shop.html", {"site": site})
