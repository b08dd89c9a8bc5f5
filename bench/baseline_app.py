"""The bare baseline: the least a Channels chat relay with storage does, to compare our path with.

`/ws/room/<room>/<side>/`: each socket joins the group of its room; every `message.send`
frame is stored as one row (a raw INSERT, no ORM model, so no migration) and relayed to the
room's group (both sockets, the sender's included, as our `message.new` is), then acked to
the sender. The frames use the shapes of docs/protocol.md so one load generator drives both.

Run by bench/chat_load.py: `daphne bench.baseline_app:application` with
DJANGO_SETTINGS_MODULE=bench.baseline_settings. The table is created by the load generator
(`TABLE_SQL`), before any server starts.
"""

import json
import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.baseline_settings")
django.setup()

from channels.db import database_sync_to_async  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.db import connection  # noqa: E402
from django.urls import path  # noqa: E402

TABLE = "bench_baseline_message"
TABLE_SQL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id bigserial PRIMARY KEY,
    room integer NOT NULL,
    sender varchar(10) NOT NULL,
    client_id varchar(64) NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""

urlpatterns: list[Any] = []  # ROOT_URLCONF of the baseline settings: no HTTP views


def store(room: int, sender: str, client_id: str, body: str) -> tuple[int, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (room, sender, client_id, body) VALUES (%s, %s, %s, %s) RETURNING id, created_at",
            [room, sender, client_id, body],
        )
        row_id, created_at = cursor.fetchone()
    return row_id, created_at.isoformat()


class RoomConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        kwargs = self.scope["url_route"]["kwargs"]
        self.room = int(kwargs["room"])
        self.side = kwargs["side"]
        self.group = f"room.{self.room}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send(text_data=json.dumps({"type": "welcome"}))

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        frame = json.loads(text_data or "{}")
        if frame.get("type") != "message.send":
            await self.send(text_data=json.dumps({"type": "error", "code": "unknown_type", "ref": frame.get("type")}))
            return
        client_id, body = frame["client_id"], frame["body"]
        seq, created_at = await database_sync_to_async(store)(self.room, self.side, client_id, body)
        message = {
            "conversation_id": self.room,
            "seq": seq,
            "sender": self.side,
            "client_id": client_id,
            "body": body,
            "created_at": created_at,
        }
        await self.channel_layer.group_send(self.group, {"type": "room.message", "message": message})
        await self.send(
            text_data=json.dumps(
                {"type": "message.ack", "conversation_id": self.room, "client_id": client_id, "seq": seq}
            )
        )

    async def room_message(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"type": "message.new", "message": event["message"]}))


application = ProtocolTypeRouter(
    {"websocket": URLRouter([path("ws/room/<int:room>/<str:side>/", RoomConsumer.as_asgi())])}
)
