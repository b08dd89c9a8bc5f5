"""Outbound webhooks: R20's feedback items and mentions, and conversation events.

Prospects' items go to the endpoints whose audience is `prospect` (the CRM), customers'
to those whose audience is `customer` (the product backlog); conversation events
(feedback/conversation_events.py) to the endpoints subscribed to them. Every event owed
to an endpoint is a `WebhookDelivery` row, created in the transaction of the event that
causes it (`webhook_deliveries_create`); `feedback.tasks.deliver_webhook` is queued only
after that commit and calls `webhook_deliver`, which claims the row, POSTs it and records
how it went.

Delivery guarantee, honestly stated: at least once per HTTP request, never again once
acknowledged. A row answered with 2xx is `delivered` and no worker claims it again. A
worker that dies between the receiver's 2xx and marking the row leaves it `sending`;
once the claim is stale the redelivered task POSTs it again with the same
`X-Helpdesk-Delivery` id, on which the receiver dedupes.

The body is `json.dumps` of the stored payload (sorted keys, compact), signed as sent:
`X-Helpdesk-Signature: sha256=<hex HMAC-SHA256 of the raw body with the endpoint secret>`.
"""

import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .models import FeedbackItem, Mention, WebhookAttempt, WebhookDelivery, WebhookEndpoint

# Seconds one POST may take (connect and each read); a hanging receiver would hold its claim.
HTTP_TIMEOUT = 10
# 408 Request Timeout and 429 Too Many Requests are worth another try; other 4xx are not.
RETRYABLE_CLIENT_CODES = (408, 429)
USER_AGENT = "helpdesk-webhooks/1"
MAX_ERROR_CHARS = 2000


class WebhookRetryableError(Exception):
    """A temporary failure (5xx, 408, 429, timeout, connection error): the task retries."""


def claim_timeout() -> timedelta:
    """How old a `sending` claim must be before another worker may take it over: longer
    than a task may run. `FEEDBACK_WEBHOOK_CLAIM_TIMEOUT` (seconds) overrides it."""
    seconds = getattr(settings, "FEEDBACK_WEBHOOK_CLAIM_TIMEOUT", None)
    if seconds is None:
        seconds = (getattr(settings, "CELERY_TASK_TIME_LIMIT", None) or 300) + HTTP_TIMEOUT
    return timedelta(seconds=seconds)


# --- Payloads and signing ---------------------------------------------------------------


def _item_payload(item: FeedbackItem) -> dict[str, Any]:
    return {
        "id": item.pk,
        "kind": item.kind,
        "status": item.status,
        "source": item.source,
        "summary": item.summary,
        "created_at": item.created_at.isoformat(),
        "mentions_total": item.mentions.count(),
    }


def _mention_payload(mention: Mention) -> dict[str, Any]:
    return {
        "id": mention.pk,
        "conversation_id": mention.conversation_id,
        "source": mention.source,
        "quote": mention.quote,
        "created_at": mention.created_at.isoformat(),
    }


def webhook_body(delivery: WebhookDelivery) -> bytes:
    """The exact bytes sent (and signed): the same on every attempt."""
    return json.dumps(delivery.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def webhook_signature(*, secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- Queueing ---------------------------------------------------------------------------


def _deliver_on_commit(delivery: WebhookDelivery) -> None:
    from .tasks import deliver_webhook  # the tasks module imports this one

    delivery_id = delivery.pk

    def queue_delivery() -> None:
        deliver_webhook.delay(delivery_id)

    # robust: a broker that is down must not fail the feedback; the row stays `ready`.
    transaction.on_commit(queue_delivery, robust=True)


# Which events some active endpoint receives, so that a chat message with no endpoint
# subscribed costs no query: kept in the cache (shared by the processes on the real
# stack) and, for a few seconds, in each process. Saving or deleting an endpoint forgets
# both; other processes see the change within SUBSCRIPTIONS_MEMO_SECONDS. The cache entry
# expires too, bounding how long a refill racing with a change could keep stale news.
SUBSCRIPTIONS_CACHE_KEY = "feedback:webhook-subscribed-events"
SUBSCRIPTIONS_CACHE_SECONDS = 3600
SUBSCRIPTIONS_MEMO_SECONDS = 5.0
_memo: tuple[float, frozenset[str]] | None = None


def webhook_subscriptions_forget() -> None:
    global _memo
    _memo = None
    cache.delete(SUBSCRIPTIONS_CACHE_KEY)


def _remember_subscriptions(events: frozenset[str], *, share: bool) -> None:
    global _memo
    _memo = (time.monotonic() + SUBSCRIPTIONS_MEMO_SECONDS, events)
    if share:
        cache.set(SUBSCRIPTIONS_CACHE_KEY, sorted(events), SUBSCRIPTIONS_CACHE_SECONDS)


def _subscribed_events(endpoints: Iterable[WebhookEndpoint]) -> frozenset[str]:
    return frozenset(
        event
        for endpoint in endpoints
        for event in WebhookDelivery.Event.values
        if endpoint.receives(event=event, audience=endpoint.audience)
    )


def webhook_event_subscribed(*, event: str) -> bool:
    """False when no active endpoint received `event` at the last look: then there is
    nothing to owe and no payload to build. True may be stale; the rows decide."""
    memo = _memo
    if memo is None or memo[0] <= time.monotonic():
        shared = cache.get(SUBSCRIPTIONS_CACHE_KEY)
        if shared is None:
            return True  # unknown: webhook_deliveries_create reads the rows and remembers
        memo = (0.0, frozenset(shared))
        _remember_subscriptions(memo[1], share=False)
    return event in memo[1]


def webhook_deliveries_create(*, event: str, payload: dict[str, Any], audience: str = "") -> list[WebhookDelivery]:
    """Owe `event` to every active endpoint that receives it (feedback events: by
    `audience`). Called in the transaction of the event; each send is queued when it
    commits. Costs no query while no endpoint is known to receive the event."""
    if not webhook_event_subscribed(event=event):
        return []
    endpoints = list(WebhookEndpoint.objects.filter(is_active=True))
    _remember_subscriptions(_subscribed_events(endpoints), share=True)
    deliveries = []
    for endpoint in endpoints:
        if endpoint.receives(event=event, audience=audience):
            delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=event, payload=payload)
            _deliver_on_commit(delivery)
            deliveries.append(delivery)
    return deliveries


def webhooks_queue(*, event: str, item: FeedbackItem, mention: Mention | None = None) -> list[WebhookDelivery]:
    """Owe a feedback `event` to every active endpoint whose audience is the item's source.
    Called in the transaction that logs the feedback; the tasks are queued only when it commits."""
    if not webhook_event_subscribed(event=event):
        return []
    payload = {
        "event": event,
        "occurred_at": timezone.now().isoformat(),
        "item": _item_payload(item),
        "mention": _mention_payload(mention) if mention is not None else None,
    }
    return webhook_deliveries_create(event=event, payload=payload, audience=item.source)


def webhook_retry(*, delivery_ids: list[int]) -> int:
    """Send failed deliveries again (the admin's "Retry"); returns how many."""
    with transaction.atomic():
        deliveries = list(
            WebhookDelivery.objects.select_for_update().filter(pk__in=delivery_ids, state=WebhookDelivery.State.FAILED)
        )
        for delivery in deliveries:
            delivery.state = WebhookDelivery.State.READY
            delivery.save(update_fields=["state"])
            _deliver_on_commit(delivery)
    return len(deliveries)


# --- Sending ------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is a misconfigured URL: urllib would turn the POST into a bodiless GET."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _post(delivery: WebhookDelivery, body: bytes) -> int:
    """POST the body; returns the 2xx status, raises `urllib.error.HTTPError` for any other."""
    request = urllib.request.Request(
        delivery.endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Helpdesk-Event": delivery.event,
            "X-Helpdesk-Delivery": str(delivery.pk),
            "X-Helpdesk-Signature": webhook_signature(secret=delivery.endpoint.secret, body=body),
        },
    )
    with _opener.open(request, timeout=HTTP_TIMEOUT) as response:
        response.read(64 * 1024)  # drain a little, so the receiver sees the response taken
        status: int = response.status
    if not 200 <= status < 300:  # 1xx/3xx that urllib did not raise for
        raise urllib.error.HTTPError(delivery.endpoint.url, status, "Not a 2xx answer", response.headers, None)
    return status


def _http_error_text(exc: urllib.error.HTTPError) -> str:
    try:
        detail = exc.read(500).decode("utf-8", "replace").strip()
    except Exception:  # the body is only a hint for the admin
        detail = ""
    text = f"HTTP {exc.code} {exc.reason}"
    return f"{text}: {detail}" if detail else text


def webhook_deliver(*, delivery_id: int, final_attempt: bool = False) -> WebhookDelivery:
    """Claim the delivery, POST it, record the attempt; a delivery already delivered (or
    being sent by a live worker) is left alone, so running this twice sends it once.

    2xx: `delivered`, never sent again. A 4xx other than 408/429 (or a redirect): `failed`
    at once. 5xx, 408, 429, timeouts and connection errors: back to `ready` with the error
    and `WebhookRetryableError` is raised for the task to retry; on the `final_attempt`
    the row ends `failed` instead (the admin can retry it).
    """
    now = timezone.now()
    claimable = Q(state=WebhookDelivery.State.READY) | Q(
        state=WebhookDelivery.State.SENDING, claimed_at__lt=now - claim_timeout()
    )
    # One conditional UPDATE, committed before any HTTP traffic: of two workers one wins.
    claimed = WebhookDelivery.objects.filter(claimable, pk=delivery_id).update(
        state=WebhookDelivery.State.SENDING, attempts=F("attempts") + 1, claimed_at=now
    )
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    if not claimed:
        return delivery
    if not delivery.endpoint.is_active:
        _finish(
            delivery,
            claimed_at=now,
            state=WebhookDelivery.State.FAILED,
            status_code=None,
            error="Endpoint is inactive.",
        )
        delivery.refresh_from_db()
        return delivery

    body = webhook_body(delivery)
    started = time.monotonic()
    status_code: int | None = None
    error = ""
    retryable = False
    try:
        status_code = _post(delivery, body)
    except urllib.error.HTTPError as exc:
        status_code = exc.code
        error = _http_error_text(exc)
        retryable = exc.code >= 500 or exc.code in RETRYABLE_CLIENT_CODES
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        # Connection refused or reset, DNS, TLS, timeouts (TimeoutError is an OSError).
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        error = f"{type(reason).__name__}: {reason}"
        retryable = True
    duration_ms = int((time.monotonic() - started) * 1000)
    WebhookAttempt.objects.create(
        delivery=delivery, at=now, status_code=status_code, error=error[:MAX_ERROR_CHARS], duration_ms=duration_ms
    )

    if not error:
        _finish(delivery, claimed_at=now, state=WebhookDelivery.State.DELIVERED, status_code=status_code, error="")
    elif retryable and not final_attempt:
        _finish(delivery, claimed_at=now, state=WebhookDelivery.State.READY, status_code=status_code, error=error)
        raise WebhookRetryableError(error)
    else:
        _finish(delivery, claimed_at=now, state=WebhookDelivery.State.FAILED, status_code=status_code, error=error)
    delivery.refresh_from_db()
    return delivery


def _finish(
    delivery: WebhookDelivery, *, claimed_at: datetime, state: str, status_code: int | None, error: str
) -> None:
    # Only while the claim is still ours: a worker that took over a stale claim decides.
    fields: dict[str, Any] = {"state": state, "last_status_code": status_code, "last_error": error[:MAX_ERROR_CHARS]}
    if state == WebhookDelivery.State.DELIVERED:
        fields["delivered_at"] = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk, state=WebhookDelivery.State.SENDING, claimed_at=claimed_at).update(
        **fields
    )
