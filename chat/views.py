import json
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from . import selectors, services
from .availability import site_availability
from .cors import cors_allow
from .errors import ChatError, ErrorCode
from .languages import catalog_version, widget_catalog, widget_language
from .models import Site

BROWSER_ID_MAX_LENGTH = 64
# navigator.languages, most preferred first; a few are plenty to find one we offer.
BROWSER_LANGUAGES_ACCEPTED = 8
# The widget's msgids are English: an English widget needs no catalogue.
SOURCE_LANGUAGE = "en"


def demo_shop(request: HttpRequest) -> HttpResponse:
    """A pretend customer website with the widget's one script tag on it."""
    site = get_object_or_404(Site, name="Demo Shop")
    return render(request, "chat/demo_shop.html", {"site": site})


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    return cors_allow(response, origin, methods="GET, POST, OPTIONS", headers="Content-Type")


def _error(error: ChatError, status: int) -> JsonResponse:
    return JsonResponse({"code": error.code, "message": error.message, **error.extra}, status=status)


def _site_for_origin(request: HttpRequest, site_key: str) -> tuple[Site | None, str]:
    origin = request.headers.get("Origin", "")
    if not origin:
        # Browsers leave Origin out of same-origin GETs; the Referer then names the page.
        referer = urlsplit(request.headers.get("Referer", ""))
        origin = f"{referer.scheme}://{referer.netloc}" if referer.scheme and referer.netloc else ""
    return selectors.site_for_widget(key=site_key, origin=origin), origin


@require_http_methods(["GET", "OPTIONS"])
def widget_config(request: HttpRequest, site_key: str) -> HttpResponse:
    """What the widget needs before any socket: topics, honest availability (R3), the
    invitation (R1) and the triggers still due for this browser (R2). CORS for the
    site's own origins only."""
    site, origin = _site_for_origin(request, site_key)
    if site is None:
        return _error(ChatError(ErrorCode.NOT_FOUND, "Unknown site, or this origin is not allowed."), 403)
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204), origin)
    browser_id = request.GET.get("browser_id", "")[:BROWSER_ID_MAX_LENGTH]
    triggers = selectors.triggers_for_browser(site=site, browser_id=browser_id) if browser_id else []
    language = _widget_language(request, site)
    # The availability message is shown as it is: in the widget's language.
    with translation.override(language["code"]):
        availability = site_availability(site).as_dict()
    body = {
        "site": {"name": site.name, "topics": selectors.site_topics(site=site)},
        "availability": availability,
        "invitation": {"delay_seconds": site.invitation_delay_seconds, "message": site.invitation_message},
        "triggers": [
            {"id": t.pk, "url_pattern": t.url_pattern, "delay_seconds": t.delay_seconds, "message": t.message}
            for t in triggers
        ],
        "language": language,
    }
    response = _cors(JsonResponse(body), origin)
    response["Cache-Control"] = "no-store"
    return response


def _widget_language(request: HttpRequest, site: Site) -> dict[str, str | None]:
    browser_tags = request.GET.get("languages", "").split(",")[:BROWSER_LANGUAGES_ACCEPTED]
    code = widget_language(site=site, browser_tags=browser_tags, accept_language=getattr(request, "LANGUAGE_CODE", ""))
    catalog_url = None
    if code != SOURCE_LANGUAGE:
        catalog_url = f"{reverse('chat:widget_catalog', args=[code])}?v={catalog_version()}"
    return {"code": code, "catalog_url": catalog_url}


@require_GET
def widget_catalog_view(request: HttpRequest, language: str) -> HttpResponse:
    """The widget's strings in one language (djangojs), for any origin: nothing in it is
    private, and its URL carries the catalogue's version, so browsers keep it."""
    if language not in dict(settings.LANGUAGES):
        response: HttpResponse = JsonResponse({"code": ErrorCode.NOT_FOUND, "message": "No such language."}, status=404)
    else:
        response = JsonResponse(widget_catalog(language))
        response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@csrf_exempt  # cross-origin from the customer's site, no cookies: the origin check is the guard
@require_http_methods(["POST", "OPTIONS"])
def trigger_firing(request: HttpRequest, site_key: str) -> HttpResponse:
    """The widget reports a trigger shown, opened or replied to (R2)."""
    site, origin = _site_for_origin(request, site_key)
    if site is None:
        return _error(ChatError(ErrorCode.NOT_FOUND, "Unknown site, or this origin is not allowed."), 403)
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204), origin)
    try:
        data = json.loads(request.body)
        firing = services.trigger_firing_record(
            site=site,
            trigger_id=int(data["trigger_id"]),
            browser_id=str(data["browser_id"])[:BROWSER_ID_MAX_LENGTH],
            outcome=str(data.get("outcome", "shown")),
            page_url=str(data.get("page_url", "")),
        )
    except ChatError as error:
        return _cors(_error(error, 400 if error.code != ErrorCode.NOT_FOUND else 404), origin)
    except (ValueError, KeyError, TypeError):
        error = ChatError(ErrorCode.INVALID_FIELD, "Send JSON with trigger_id, browser_id and outcome.")
        return _cors(_error(error, 400), origin)
    return _cors(JsonResponse({"id": firing.pk, "outcome": firing.outcome}, status=201), origin)
