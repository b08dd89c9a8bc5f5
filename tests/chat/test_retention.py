"""R4: chats past a site's retention period are anonymised by a daily beat task."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from chat import services
from chat.models import (
    Conversation,
    Message,
    PersonalDataAction,
    Site,
    Visitor,
)
from chat.privacy import (
    ERASED,
    conversations_anonymise_expired,
)
from chat.tasks import anonymise_expired_conversations
from config.celery import app as celery_app

from ..browser.conftest import browser, browser_database, chat_server, expect, watch_errors  # noqa: F401  (fixtures)
from ..servers import database_url, node_environment
from ..workers import celery_worker, wait_for
from .factories import make_site, make_visitor


def ended_days_ago(site: Site, days: float, *, visitor: Visitor | None = None, words: str = "Call me on 555 0101"):
    visitor = visitor or make_visitor(site=site)[0]
    Visitor.objects.filter(pk=visitor.pk).update(name="Bo", email="bo@example.com")
    conversation = services.conversation_start(visitor=visitor, topic_slug=None)
    services.message_post(conversation_id=conversation.pk, author=visitor, body=words, client_id=f"r{conversation.pk}")
    Conversation.objects.filter(pk=conversation.pk).update(
        status=Conversation.Status.ENDED, ended_at=timezone.now() - timedelta(days=days)
    )
    return conversation


def texts(conversation: Conversation) -> list[str]:
    return list(conversation.messages.exclude(sender=Message.Sender.SYSTEM).values_list("body", flat=True))


def test_retention_anonymises_chats_ended_before_the_period_and_nothing_else(db):
    site, keeps_all = make_site(), make_site()
    Site.objects.filter(pk=site.pk).update(retention_days=30)
    old = ended_days_ago(site, 31)
    recent = ended_days_ago(site, 29)
    open_chat = ended_days_ago(site, 40)
    Conversation.objects.filter(pk=open_chat.pk).update(status=Conversation.Status.ACTIVE)
    elsewhere = ended_days_ago(keeps_all, 400)

    action = conversations_anonymise_expired()

    assert texts(old) == [ERASED]
    assert texts(recent) == texts(open_chat) == texts(elsewhere) == ["Call me on 555 0101"]
    assert Conversation.objects.get(pk=old.pk).anonymised_at is not None
    assert Conversation.objects.get(pk=recent.pk).anonymised_at is None
    # the visitor whose only chat expired is forgotten; the others keep their names
    assert Visitor.objects.get(pk=old.visitor_id).email == ""
    assert Visitor.objects.get(pk=recent.visitor_id).email == "bo@example.com"
    assert action is not None and action.kind == PersonalDataAction.Kind.RETENTION
    assert action.details["conversations"] == 1 and action.details["sites"] == {str(site.pk): 1}
    assert conversations_anonymise_expired() is None


def test_retention_keeps_a_visitors_identity_while_one_of_their_chats_is_kept(db):
    site = make_site()
    Site.objects.filter(pk=site.pk).update(retention_days=30)
    old = ended_days_ago(site, 60)
    ended_days_ago(site, 5, visitor=old.visitor)

    conversations_anonymise_expired()

    assert texts(old) == [ERASED]
    visitor = Visitor.objects.get(pk=old.visitor_id)
    assert (visitor.name, visitor.erased_at) == ("Bo", None)


def test_retention_works_in_batches(db, monkeypatch):
    from chat.privacy import services as privacy_services

    monkeypatch.setattr(privacy_services, "RETENTION_BATCH", 2)
    site = make_site()
    Site.objects.filter(pk=site.pk).update(retention_days=1)
    chats = [ended_days_ago(site, 3) for _ in range(5)]

    action = conversations_anonymise_expired()

    assert all(texts(chat) == [ERASED] for chat in chats)
    assert action is not None and action.details["conversations"] == 5 and action.details["visitors"] == 5
    assert PersonalDataAction.objects.count() == 1


@pytest.mark.realstack
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_retention_task(postgres, redis_url, tmp_path):
    celery_app.control.purge()
    site = make_site()
    Site.objects.filter(pk=site.pk).update(retention_days=30)
    old = ended_days_ago(site, 31)
    env = node_environment(
        database_url=database_url(connection.settings_dict), redis_url=redis_url, channel_prefix="retention-test"
    )
    env["CONN_MAX_AGE"] = "0"

    with celery_worker("retention", env, tmp_path):
        anonymise_expired_conversations.delay()
        wait_for(
            lambda: PersonalDataAction.objects.filter(kind=PersonalDataAction.Kind.RETENTION).exists(),
            "the retention run",
            tmp_path / "worker-retention.log",
        )

    assert texts(old) == [ERASED]
    assert Visitor.objects.get(pk=old.visitor_id).erased_at is not None


def test_the_retention_task_is_scheduled_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["anonymise-expired-conversations"]
    assert (entry["task"], entry["schedule"]) == ("chat.tasks.anonymise_expired_conversations", 86400.0)


# --- In a real browser -----------------------------------------------------------------
