from celery import shared_task

from .webhooks import WebhookRetryableError, webhook_deliver


# acks_late: a worker killed mid-POST leaves the task message unacknowledged, so the
# broker hands it to another worker, which takes over the stale claim (feedback.webhooks).
# The backoff starts at 10 s (10, 20, 40, 80, 160, 320 s, each with jitter, capped at
# 600 s): a receiver down for a few minutes is ridden out; after the sixth retry the
# delivery is failed, for the admin to retry.
@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(WebhookRetryableError,),
    retry_backoff=10,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=6,
    ignore_result=True,
)
def deliver_webhook(self, delivery_id: int) -> str:  # type: ignore[no-untyped-def]
    """POST one `WebhookDelivery`; once it is delivered, running this again sends nothing."""
    delivery = webhook_deliver(delivery_id=delivery_id, final_attempt=self.request.retries >= self.max_retries)
    return delivery.state
