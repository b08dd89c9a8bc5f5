from celery import shared_task

from .services import agents_mark_absent_offline


@shared_task(ignore_result=True)
def mark_absent_agents_offline() -> int:
    return agents_mark_absent_offline()
