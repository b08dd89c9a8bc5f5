"""Socket helpers of the real-stack tests: `Socket` and the `recv_*` helpers drive one
connection of the protocol (docs/protocol.md) step by step; agents log in, and async
tests reach the ORM. `chat_client.ChatClient` is a whole client built on the same
protocol."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.test import Client
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from agents.models import Agent
from chat.models import Message, Site
from tests.chat.factories import ORIGIN
from tests.servers import Node

RECV_TIMEOUT = 10.0
PASSWORD = "realstack-agent-password"
TOPIC = "returns"

Frame = dict[str, Any]


# --- One socket, step by step -----------------------------------------------------------------


class Socket:
    """A JSON WebSocket that keeps every frame it received, read or not."""

    def __init__(self, ws: ClientConnection, label: str) -> None:
        self.ws = ws
        self.label = label
        self.received: list[Frame] = []  # every frame, in arrival order
        self.unread: list[Frame] = []  # frames no recv_* call has returned yet

    async def send(self, frame: Frame) -> None:
        await self.ws.send(json.dumps(frame))

    async def read_one(self, timeout: float) -> Frame:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        frame = json.loads(raw)
        self.received.append(frame)
        return frame

    @property
    def is_open(self) -> bool:
        return self.ws.state is State.OPEN and self.ws.close_code is None

    def frames(self, type_: str) -> list[Frame]:
        return [frame for frame in self.received if frame.get("type") == type_]


def summary(frames: list[Frame]) -> str:
    return "\n".join(f"  {json.dumps(frame)[:300]}" for frame in frames) or "  (none)"


async def recv_match(sock: Socket, match: Callable[[Frame], bool], what: str, timeout: float = RECV_TIMEOUT) -> Frame:
    """The first frame (unread ones first) for which `match` is true; others stay unread.

    Fails at once on an `error` frame nobody asked for, and after `timeout` seconds.
    """
    for frame in sock.unread:
        if match(frame):
            sock.unread.remove(frame)
            return frame
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        try:
            if remaining <= 0:
                raise TimeoutError
            frame = await sock.read_one(remaining)
        except TimeoutError:
            raise AssertionError(
                f"{sock.label}: no {what} within {timeout:.0f} s. Unread frames:\n{summary(sock.unread)}"
            ) from None
        except ConnectionClosed as closed:
            raise AssertionError(
                f"{sock.label}: closed ({closed.rcvd}) while waiting for {what}. Unread:\n{summary(sock.unread)}"
            ) from None
        if match(frame):
            return frame
        if frame.get("type") == "error":
            raise AssertionError(f"{sock.label}: error frame while waiting for {what}: {frame}")
        sock.unread.append(frame)


async def recv_until(
    sock: Socket, type_: str, *, where: Callable[[Frame], bool] | None = None, timeout: float = RECV_TIMEOUT
) -> Frame:
    """The next frame of `type_` (and matching `where`), skipping and keeping other frames."""
    return await recv_match(
        sock, lambda frame: frame.get("type") == type_ and (where is None or where(frame)), repr(type_), timeout
    )


async def drain(sock: Socket, seconds: float) -> None:
    """Read whatever arrives within `seconds` into the unread frames (to assert on later)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (remaining := deadline - loop.time()) > 0:
        try:
            sock.unread.append(await sock.read_one(remaining))
        except TimeoutError:
            return


def shown(sock: Socket, conversation_id: int) -> list[Frame]:
    """The messages of a conversation a client showed, by seq: those of its `message.new`
    frames, and its own, which came in their acks (docs/protocol.md)."""
    messages = [frame.get("message") for frame in sock.received if frame.get("type") in ("message.new", "message.ack")]
    return sorted((m for m in messages if m and m["conversation_id"] == conversation_id), key=lambda m: m["seq"])


def message_seq(conversation_id: int, seq: int) -> Callable[[Frame], bool]:
    return lambda frame: frame["message"]["conversation_id"] == conversation_id and frame["message"]["seq"] == seq


def conversation_is(conversation_id: int, status: str) -> Callable[[Frame], bool]:
    return lambda frame: frame["conversation"]["id"] == conversation_id and frame["conversation"]["status"] == status


def connect_to(url: str, *, origin: str, cookie: str | None) -> Any:
    headers = [("Cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}")] if cookie else None
    return connect(
        url,
        origin=origin,  # type: ignore[arg-type]
        additional_headers=headers,
        open_timeout=RECV_TIMEOUT,
        close_timeout=5,
        proxy=None,  # never route 127.0.0.1 through an HTTP(S)_PROXY from the environment
    )


@asynccontextmanager
async def open_socket(url: str, label: str, *, origin: str, cookie: str | None = None) -> AsyncIterator[Socket]:
    async with connect_to(url, origin=origin, cookie=cookie) as ws:
        yield Socket(ws, label)


def visitor_socket(node: Node, site: Site, label: str = "visitor") -> Any:
    return open_socket(node.ws_url(f"/ws/visitor/{site.key}/"), f"{label}@{node.name}", origin=ORIGIN)


def agent_socket(node: Node, login: "AgentLogin") -> Any:
    return open_socket(
        node.ws_url("/ws/agent/"), f"{login.name}@{node.name}", origin=node.origin, cookie=login.session_key
    )


async def hello(sock: Socket, token: str | None = None) -> Frame:
    await sock.send({"type": "hello", "token": token})
    return await recv_until(sock, "welcome")


async def start_conversation(sock: Socket, topic: str | None = TOPIC) -> Frame:
    await sock.send({"type": "conversation.start", "topic": topic})
    return (await recv_until(sock, "conversation.updated"))["conversation"]


async def say(sock: Socket, conversation_id: int, body: str) -> int:
    """Send a message and return the `seq` of its ack."""
    client_id = str(uuid.uuid4())
    await sock.send({"type": "message.send", "conversation_id": conversation_id, "client_id": client_id, "body": body})
    ack = await recv_match(
        sock,
        lambda frame: frame.get("client_id") == client_id or frame.get("ref") == client_id,
        f"message.ack for {body!r}",
    )
    assert ack["type"] == "message.ack", ack
    assert ack["conversation_id"] == conversation_id
    return ack["seq"]


# --- Agents and the ORM from async tests --------------------------------------------------------


@dataclass
class AgentLogin:
    agent: Agent
    session_key: str

    @property
    def user_id(self) -> int:
        return self.agent.user_id

    @property
    def name(self) -> str:
        return self.agent.display_name


def log_in(agent: Agent) -> AgentLogin:
    """A session for `agent`, as the console's login page makes (without hashing a password:
    the login page has tests of its own, and 20 PBKDF2 checks cost seconds)."""
    client = Client()
    client.force_login(agent.user)
    return AgentLogin(agent=agent, session_key=client.cookies[settings.SESSION_COOKIE_NAME].value)


async def db(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ORM code in a worker thread and close that thread's connection afterwards.

    A connection left open would keep pytest-django from dropping the test database.
    """

    def run() -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    return await sync_to_async(run, thread_sensitive=True)()


def stored_messages(conversation_id: int) -> list[tuple[int, str, str]]:
    return list(
        Message.objects.filter(conversation_id=conversation_id).order_by("seq").values_list("seq", "sender", "body")
    )


def seen(frames: list[Frame]) -> list[tuple[int, str, str]]:
    return [(frame["seq"], frame["sender"], frame["body"]) for frame in frames]


async def wait_for(condition: Callable[[], bool], what: str, timeout: float, describe: Callable[[], str]) -> None:
    """Poll `condition` until true; fail naming `what` after `timeout` seconds (a deadline, not a speed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not {what} within {timeout:.0f} s\n{describe()}")
        await asyncio.sleep(0.1)


@dataclass
class World:
    site: Site
    agents: list[AgentLogin]
