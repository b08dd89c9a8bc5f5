from celery import shared_task

from .services import queue_dispatch


@shared_task(ignore_result=True)
def dispatch_queue() -> int:
    return queue_dispatch()
