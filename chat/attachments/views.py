"""Uploads from the widget and the console, and the signed downloads: thin views around
chat.attachments.services (docs/protocol.md, "Files")."""

from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from agents.models import Agent
from agents.selectors import agent_for_user

from .. import payloads
from ..cors import cors_allow
from ..errors import ChatError, ErrorCode
from ..languages import visitor_language
from ..models import Message, Visitor
from ..ratelimit import window_hit
from ..selectors import site_for_widget
from .selectors import attachment_for_download, visitor_for_token
from .services import attachment_post
from .signing import attachment_signature_valid

CLIENT_ID_MAX_LENGTH = 64
STATUS = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.NOT_OWNER: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.ATTACHMENT_TOO_LARGE: 413,
    ErrorCode.ATTACHMENT_TYPE_REFUSED: 415,
}


def _error(error: ChatError, status: int | None = None) -> JsonResponse:
    body = {"error": {"code": error.code, "message": error.message, **error.extra}}
    return JsonResponse(body, status=status or STATUS.get(error.code, 400))


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    return cors_allow(response, origin, methods="POST, OPTIONS", headers="Authorization")


def _upload(request: HttpRequest, conversation_id: int, author: Visitor | Agent) -> JsonResponse:
    usage = _("Send multipart form data with a 'file' and a 'client_id' of at most 64 characters.")
    try:
        upload = request.FILES.get("file")
        client_id = request.POST.get("client_id", "")
    except MultiPartParserError:
        return _error(ChatError(ErrorCode.INVALID_FIELD, usage))
    if not isinstance(upload, UploadedFile) or not client_id or len(client_id) > CLIENT_ID_MAX_LENGTH:
        return _error(ChatError(ErrorCode.INVALID_FIELD, usage))
    message, created = attachment_post(
        conversation_id=conversation_id, author=author, upload=upload, client_id=client_id
    )
    return JsonResponse(_answer(message, for_agent=isinstance(author, Agent)), status=201 if created else 200)


def _answer(message: Message, *, for_agent: bool) -> dict[str, Any]:
    # The same as a socket's ack, with the message, so the sender shows it without waiting.
    return {
        "conversation_id": message.conversation_id,
        "client_id": message.client_id,
        "seq": message.seq,
        "message": payloads.message_payload(message, for_agent=for_agent),
    }


@csrf_exempt  # cross-origin from the customer's site, no cookies: the visitor token is the credential
@require_http_methods(["POST", "OPTIONS"])
def widget_upload(request: HttpRequest, site_key: str, conversation_id: int) -> HttpResponse:
    """A visitor sends a file: `Authorization: Visitor <token>`, CORS for the site's origins only."""
    origin = request.headers.get("Origin", "")
    site = site_for_widget(key=site_key, origin=origin)
    if site is None:
        return _error(ChatError(ErrorCode.NOT_FOUND, _("Unknown site, or this origin is not allowed.")), 403)
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204), origin)
    scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
    visitor = visitor_for_token(site=site, token=token.strip()) if scheme == "Visitor" else None
    if visitor is None:
        return _cors(_error(ChatError(ErrorCode.NOT_FOUND)), origin)
    retry_after = window_hit(f"upload:visitor:{visitor.pk}", limit=settings.CHAT_VISITOR_UPLOADS_PER_MINUTE)
    # Refusals in the language the widget shows, as on the socket.
    with translation.override(visitor_language(site=site, visitor=visitor)):
        try:
            if retry_after:
                raise ChatError(ErrorCode.RATE_LIMITED, _("Too many files; wait a moment."), retry_after=retry_after)
            return _cors(_upload(request, conversation_id, visitor), origin)
        except ChatError as error:
            return _cors(_error(error), origin)


@require_http_methods(["POST"])
def console_upload(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The owning agent sends a file (session and CSRF, as every console POST)."""
    agent = agent_for_user(request.user)
    if agent is None:
        return _error(ChatError(ErrorCode.NOT_FOUND, _("Log in as an agent.")), 403)
    try:
        return _upload(request, conversation_id, agent)
    except ChatError as error:
        return _error(error)


@require_http_methods(["GET", "HEAD"])
def download(request: HttpRequest, public_id: str, signature: str) -> FileResponse:
    """A file by its signed link. Nothing in it may run in the browser: no sniffing, a
    sandbox, and only re-encoded images shown inline."""
    if not attachment_signature_valid(public_id=str(public_id), signature=signature):
        raise Http404
    attachment = attachment_for_download(public_id=str(public_id))
    if attachment is None:
        raise Http404
    try:
        file = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(file, content_type=attachment.content_type)
    disposition = "inline" if attachment.is_image else "attachment"
    response["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(attachment.name)}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = f"private, max-age={settings.CHAT_ATTACHMENT_URL_SECONDS}"
    # The widget shows images from this server on the customer's own site.
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
