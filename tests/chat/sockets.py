"""Helpers to open the two sockets in-process with Channels' WebsocketCommunicator."""

from typing import Any

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from agents.models import Agent
from chat.models import Site
from config.asgi import application

from .factories import ORIGIN

TIMEOUT = 5


async def open_visitor(
    site: Site,
    token: str | None = None,
    origin: str = ORIGIN,
    identity: dict | None = None,
    pages: list | None = None,
    client_ip: str = "127.0.0.1",
    app: Any = application,
) -> tuple[WebsocketCommunicator, dict]:
    """A visitor socket after hello (to `app`, the project's unless a test wraps it);
    returns it with the welcome frame."""
    socket = WebsocketCommunicator(app, f"/ws/visitor/{site.key}/", headers=[(b"origin", origin.encode())])
    socket.scope["client"] = (client_ip, 50000)
    connected, _ = await socket.connect(TIMEOUT)  # the default 1 s is too short on a loaded CI machine
    assert connected
    await socket.send_json_to({"type": "hello", "token": token, "identity": identity, "pages": pages or []})
    welcome = await socket.receive_json_from(TIMEOUT)
    assert welcome["type"] == "welcome"
    return socket, welcome


async def session_cookie(agent: Agent) -> str:
    client = Client()
    await sync_to_async(client.force_login)(agent.user)
    return client.cookies["sessionid"].value


async def open_agent(agent: Agent, path: str = "/ws/agent/") -> tuple[WebsocketCommunicator, dict]:
    """A logged-in agent socket; returns it with the welcome frame."""
    cookie = await session_cookie(agent)
    socket = WebsocketCommunicator(
        application,
        path,
        headers=[(b"origin", b"http://testserver"), (b"cookie", f"sessionid={cookie}".encode())],
    )
    connected, _ = await socket.connect(TIMEOUT)  # the default 1 s is too short on a loaded CI machine
    assert connected
    welcome = await socket.receive_json_from(TIMEOUT)
    assert welcome["type"] == "welcome"
    return socket, welcome


async def receive_until(socket: WebsocketCommunicator, frame_type: str) -> dict[str, Any]:
    """The next frame of `frame_type`, passing over others (events may interleave)."""
    while True:
        frame = await socket.receive_json_from(TIMEOUT)
        if frame["type"] == frame_type:
            return frame


async def receive_message(socket: WebsocketCommunicator, seq: int) -> dict[str, Any]:
    """The `message.new` frame carrying message `seq`, passing over earlier ones."""
    while True:
        frame = await receive_until(socket, "message.new")
        if frame["message"]["seq"] == seq:
            return frame


async def start_and_send(socket: WebsocketCommunicator, body: str, client_id: str, topic: str | None = None) -> dict:
    """Start (or reuse) the visitor's conversation and send one message; returns the ack."""
    await socket.send_json_to({"type": "conversation.start", "topic": topic})
    conversation = (await receive_until(socket, "conversation.updated"))["conversation"]
    while conversation["status"] == "ended":  # a late copy of an earlier chat's end
        conversation = (await receive_until(socket, "conversation.updated"))["conversation"]
    await socket.send_json_to(
        {"type": "message.send", "conversation_id": conversation["id"], "client_id": client_id, "body": body}
    )
    return await receive_until(socket, "message.ack")
