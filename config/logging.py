"""Log lines that say which request, socket and conversation they belong to.

Three context variables carry the ids: the HTTP middleware below sets `request_id`
around each request, `chat.consumers.base.ProtocolConsumer` sets `socket_id` around
each message it handles and `conversation_id` from each frame that names one. asgiref
copies the context into the worker threads of `sync_to_async`, so a service's log line
carries the ids of the frame or request that called it.

`ContextFilter` (on the handler in `settings.LOGGING`) copies them onto every record;
`JsonFormatter` writes one JSON object per line (LOG_FORMAT=json, the default with
DJANGO_DEBUG=0) and `TextFormatter` a readable line (the default for `make run`).
Plain `logging`, no dependency.
"""

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
socket_id: ContextVar[str | None] = ContextVar("socket_id", default=None)
conversation_id: ContextVar[int | None] = ContextVar("conversation_id", default=None)

CONTEXT_FIELDS = ("request_id", "socket_id", "conversation_id")
_VARS: dict[str, ContextVar[Any]] = {
    "request_id": request_id,
    "socket_id": socket_id,
    "conversation_id": conversation_id,
}
# A proxy's or client's X-Request-ID is kept only when it is short and plain, so a
# hostile header cannot forge log fields or flood the log line.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
REQUEST_ID_HEADER = "X-Request-ID"
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "context", *CONTEXT_FIELDS}

request_logger = logging.getLogger("helpdesk.request")


@contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Set context ids (`request_id`, `socket_id`, `conversation_id`) for the block."""
    tokens = [(_VARS[name], _VARS[name].set(value)) for name, value in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def bind_conversation(value: object) -> None:
    """Name the conversation a frame is about; the enclosing `log_context` undoes it."""
    conversation_id.set(value if isinstance(value, int) and not isinstance(value, bool) else None)


class ContextFilter(logging.Filter):
    """Copies the context ids onto each record (None when not set)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in CONTEXT_FIELDS:
            setattr(record, name, _VARS[name].get())
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in record.__dict__.items() if key not in _RECORD_ATTRIBUTES}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the ids that are
    set, any `extra=` fields, and the traceback as one string."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        entry.update(_extras(record))
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger [ids] message`, for people reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(context)s%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = [f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if getattr(record, name, None) is not None]
        record.context = f"[{' '.join(ids)}] " if ids else ""
        return super().format(record)


def formatter(fmt: str) -> logging.Formatter:
    """The formatter for LOG_FORMAT (`json` or `text`); `settings.LOGGING` names this factory."""
    if fmt == "json":
        return JsonFormatter()
    if fmt == "text":
        return TextFormatter()
    raise ValueError(f"LOG_FORMAT must be 'json' or 'text', not {fmt!r}.")


def _incoming_request_id(request: HttpRequest) -> str:
    value = request.headers.get(REQUEST_ID_HEADER, "")
    return value if REQUEST_ID_PATTERN.fullmatch(value) else uuid.uuid4().hex


def _log_request(request: HttpRequest, response: HttpResponseBase, started: float) -> None:
    request_logger.info(
        "%s %s %s",
        request.method,
        request.path,
        response.status_code,
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )


def request_id_middleware(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    """Gives every HTTP request an id (the proxy's X-Request-ID, or a new one), sets it
    for the log lines written while handling it, returns it in the response header and
    logs one line per request when LOG_REQUESTS is on. First in MIDDLEWARE, so redirects
    and errors get an id too."""
    log_requests: bool = settings.LOG_REQUESTS

    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponseBase:
            started = time.perf_counter()
            rid = _incoming_request_id(request)
            with log_context(request_id=rid):
                response: HttpResponseBase = await get_response(request)
                response[REQUEST_ID_HEADER] = rid
                if log_requests:
                    _log_request(request, response, started)
            return response

        return markcoroutinefunction(async_middleware)

    def middleware(request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        rid = _incoming_request_id(request)
        with log_context(request_id=rid):
            response: HttpResponseBase = get_response(request)
            response[REQUEST_ID_HEADER] = rid
            if log_requests:
                _log_request(request, response, started)
        return response

    return middleware


# Django runs it in either mode without adapting (sync under the test client, async under Daphne).
request_id_middleware.sync_capable = True  # type: ignore[attr-defined]
request_id_middleware.async_capable = True  # type: ignore[attr-defined]
