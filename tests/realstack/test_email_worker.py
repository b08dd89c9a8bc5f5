"""R18 on the real stack: a real Celery worker process on the Redis broker sends the
transcript to a real SMTP server (aiosmtpd, in a thread of this process), once, even
when the worker is SIGKILLed half-way through the send.

The workers use tests/realstack/email_worker_settings.py: the real settings, with a
killed worker's task handed on after seconds instead of an hour.
"""

import asyncio
import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import TypeVar

import pytest
from aiosmtpd.controller import Controller
from django.db import connection

from chat import services
from chat.models import Conversation, OutboundEmail
from config.celery import app as celery_app

from ..agents.factories import make_agent, make_team
from ..chat.factories import make_conversation, make_site, make_topic
from ..servers import PROJECT_ROOT, database_url, free_port, node_environment

pytestmark = [pytest.mark.realstack, pytest.mark.django_db(transaction=True)]

CELERY = Path(sys.executable).parent / "celery"
WAIT = 30.0
T = TypeVar("T")


class Mailbox:
    """The SMTP server's side: a message is delivered only once the server has answered
    250 to its DATA, as a real server takes responsibility for it only then. A client
    that disconnects while the answer is held delivered nothing."""

    def __init__(self) -> None:
        self.delivered: list[EmailMessage] = []
        self.abandoned: list[str] = []
        self.data_arrived = threading.Event()
        self.hold_next_answer = 0.0

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        hold, self.hold_next_answer = self.hold_next_answer, 0.0
        self.data_arrived.set()
        if hold:
            try:
                await asyncio.sleep(hold)
            except asyncio.CancelledError:  # aiosmtpd cancels the session when the client goes
                self.abandoned.append(str(message["Message-ID"]))
                raise
        self.delivered.append(message)
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    handler = Mailbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def worker_env(postgres, redis_url, mailbox) -> dict[str, str]:
    # Tasks left in the broker by an earlier, interrupted run must not reach these workers.
    celery_app.control.purge()
    env = node_environment(
        database_url=database_url(connection.settings_dict), redis_url=redis_url, channel_prefix="email-test"
    )
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.realstack.email_worker_settings",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(mailbox[1]),
            "DEFAULT_FROM_EMAIL": "help@shop.example.com",
            "CONN_MAX_AGE": "0",
        }
    )
    return env


@contextmanager
def celery_worker(name: str, env: dict[str, str], log_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real worker process, ready to consume; terminated (or killed) on exit."""
    log_path = log_dir / f"worker-{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(CELERY), "-A", "config", "worker", "--pool=solo", "--concurrency=1", "-l", "info",
             "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for(lambda: " ready." in log_path.read_text(errors="replace"), f"worker {name} to start", log_path)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def wait_for(check: Callable[[], T], what: str, *logs: Path) -> T:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    output = "\n".join(f"--- {log.name} ---\n{log.read_text(errors='replace')}" for log in logs if log.exists())
    pytest.fail(f"Waited {WAIT:.0f} s for {what}.\n{output}")


def chat_wanting_transcript() -> Conversation:
    """An answered chat whose visitor asked for the transcript."""
    site = make_site()
    topic = make_topic(site=site)
    agent = make_agent(teams=[make_team(topics=[topic], is_default=True)])
    conversation = make_conversation(site=site, topic=topic)
    services.message_post(
        conversation_id=conversation.pk, author=conversation.visitor, body="Where is my parcel?", client_id="v1"
    )
    services.conversation_claim(conversation_id=conversation.pk, agent=agent)
    services.message_post(
        conversation_id=conversation.pk, author=agent, body="It left the depot this morning.", client_id="a1"
    )
    services.visitor_contact_set(
        visitor=conversation.visitor, email="anna@example.com", purpose="transcript", conversation_id=conversation.pk
    )
    return conversation


def end(conversation: Conversation) -> None:
    services.conversation_end(conversation_id=conversation.pk, ended_by=conversation.visitor)


def sent_row() -> OutboundEmail | None:
    return OutboundEmail.objects.filter(state=OutboundEmail.State.SENT).first()


def test_ended_chat_transcript_reaches_the_smtp_server_once_with_both_parts(mailbox, worker_env, tmp_path):
    smtp, _ = mailbox
    conversation = chat_wanting_transcript()

    with celery_worker("one", worker_env, tmp_path):
        end(conversation)
        row = wait_for(sent_row, "the transcript to be sent", tmp_path / "worker-one.log")
        time.sleep(1)  # room for a second copy, were there one

    assert row.kind == "transcript" and row.attempts == 1 and row.sent_at is not None
    assert len(smtp.delivered) == 1
    message = smtp.delivered[0]
    assert message["Message-ID"] == row.message_id_header
    assert message["To"] == "anna@example.com" and message["Reply-To"] == "help@shop.example.com"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and "It left the depot this morning." in plain.get_content()
    assert html is not None and "It left the depot this morning." in html.get_content()


def test_worker_killed_during_the_send_ends_with_exactly_one_delivered_email(mailbox, worker_env, tmp_path):
    smtp, _ = mailbox
    conversation = chat_wanting_transcript()
    smtp.hold_next_answer = 60.0  # the first DATA gets no answer until the worker is gone

    with celery_worker("doomed", worker_env, tmp_path) as doomed:
        end(conversation)
        assert smtp.data_arrived.wait(WAIT), (tmp_path / "worker-doomed.log").read_text()
        claimed = OutboundEmail.objects.get()
        assert (claimed.state, claimed.attempts) == ("sending", 1)
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=10)
    wait_for(lambda: smtp.abandoned, "the SMTP server to see the client go")
    assert smtp.delivered == []

    with celery_worker("rescuer", worker_env, tmp_path):
        row = wait_for(sent_row, "the second worker to send the transcript", tmp_path / "worker-rescuer.log")
        time.sleep(1)

    assert row.attempts == 2
    assert smtp.abandoned == [row.message_id_header]
    assert [str(message["Message-ID"]) for message in smtp.delivered] == [row.message_id_header]
