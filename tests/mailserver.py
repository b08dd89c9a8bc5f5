"""A real SMTP server (aiosmtpd, in a thread of the test process) that keeps what it is sent,
for the email tests of both modes: a module's `mailbox` fixture wraps `smtp_server()`."""

import asyncio
import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from .servers import free_port


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


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """The server on a free port of 127.0.0.1, stopped on exit."""
    handler = Mailbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
