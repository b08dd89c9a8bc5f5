import logging
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from .. import payloads, selectors, services
from ..availability import site_availability
from ..errors import ChatError, ErrorCode
from ..languages import LANGUAGE_TAG_MAX_LENGTH, visitor_language
from ..models import Conversation, Message, Site, Visitor
from ..ratelimit import window_hit
from ..realtime import RECONNECT_CODE, visitor_group
from ..services.waiting import queue_position_now
from .base import (
    CLIENT_ID_MAX_LENGTH,
    Frame,
    Handler,
    ProtocolConsumer,
    field_body,
    field_int,
    field_str,
    sync_answer,
)
from .layer_watch import watch_channel_layer

logger = logging.getLogger(__name__)

TOKEN_MAX_LENGTH = 128
PAGES_ACCEPTED = 20


def _welcome(site: Site, visitor: Visitor, token: str) -> dict[str, Any]:
    conversation = selectors.conversation_open_for_visitor(visitor=visitor)
    return {
        "type": "welcome",
        "token": token,
        "visitor": {"id": str(visitor.public_id), "name": visitor.name, "is_customer": visitor.is_customer},
        "site": {"name": site.name, "topics": selectors.site_topics(site=site)},
        "availability": site_availability(site).as_dict(),
        "conversation": payloads.conversation_for_visitor(conversation) if conversation else None,
        "queue": queue_position_now(conversation) if conversation else None,
        "server_time": timezone.now().isoformat(),
    }


def _field_identity(frame: Frame) -> services.Identity | None:
    identity = frame.get("identity")
    if identity is None:
        return None
    if not isinstance(identity, dict):
        raise ChatError(ErrorCode.INVALID_FIELD, "'identity' must be an object.")
    return services.Identity(
        external_id=field_str(identity, "id", max_length=100) or "",
        signature=field_str(identity, "signature", max_length=128) or "",
        name=field_str(identity, "name", max_length=200, required=False) or "",
        email=field_str(identity, "email", max_length=254, required=False) or "",
    )


def _field_pages(frame: Frame) -> list[object]:
    pages = frame.get("pages", [])
    if not isinstance(pages, list):
        raise ChatError(ErrorCode.INVALID_FIELD, "'pages' must be a list.")
    return pages[-PAGES_ACCEPTED:]


class VisitorConsumer(ProtocolConsumer):
    """The widget's socket: `/ws/visitor/<site_key>/`, see docs/protocol.md."""

    site: Site
    visitor: Visitor | None = None

    def handlers(self) -> dict[str, Handler]:
        return {
            "hello": self.hello,
            "conversation.start": self.conversation_start,
            "message.send": self.message_send,
            "sync": self.sync,
            "conversation.end": self.conversation_end,
            "typing": self.typing,
            "read": self.read,
            "page.view": self.page_view,
            "visitor.contact": self.visitor_contact,
            "conversation.rate": self.conversation_rate,
        }

    async def connect(self) -> None:
        headers = dict(self.scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode("latin1") or None
        site_key = self.scope["url_route"]["kwargs"]["site_key"]
        site = await database_sync_to_async(selectors.site_for_widget)(key=site_key, origin=origin)
        if site is None:
            await self.close()
            return
        self.site = site
        await self.accept()
        watch_channel_layer(self)

    async def send_conversation(self, conversation: Conversation) -> None:
        payload = payloads.conversation_for_visitor(conversation)
        await self.send_json({"type": "conversation.updated", "conversation": payload})

    def require_visitor(self) -> Visitor:
        if self.visitor is None:
            raise ChatError(ErrorCode.HELLO_REQUIRED)
        return self.visitor

    async def hello(self, frame: Frame) -> None:
        token = field_str(frame, "token", max_length=TOKEN_MAX_LENGTH, required=False)
        identity = _field_identity(frame)
        if self.visitor is None:
            self.visitor, self.token = await database_sync_to_async(services.visitor_identify)(
                site=self.site,
                token=token,
                identity=identity,
                pages=_field_pages(frame),
                language=field_str(frame, "language", max_length=LANGUAGE_TAG_MAX_LENGTH, required=False),
            )
            self.language = visitor_language(site=self.site, visitor=self.visitor)
            try:
                await self.join(visitor_group(self.visitor.pk))
            except (RedisError, OSError):
                # Without its group this socket would never hear of a new message: close it,
                # and the client reconnects (and joins) once the channel layer is back.
                logger.warning("Channel layer unreachable at hello; closing the socket", exc_info=True)
                await self.close(code=RECONNECT_CODE)
                return
        await self.send_json(await database_sync_to_async(_welcome)(self.site, self.visitor, self.token))

    def client_ip(self) -> str:
        client = self.scope.get("client") or ("unknown", 0)
        return str(client[0])

    def limit_ip(self, action: str, limit: int) -> None:
        retry_after = window_hit(f"{action}:{self.client_ip()}", limit=limit)
        if retry_after:
            raise ChatError(
                ErrorCode.RATE_LIMITED, "Too many from your network; wait and resend.", retry_after=retry_after
            )

    async def conversation_start(self, frame: Frame) -> None:
        visitor = self.require_visitor()
        topic = field_str(frame, "topic", max_length=50, required=False)

        def start() -> Conversation:
            # The cache may be Redis: counted in the worker thread, never on the event loop.
            self.limit_ip("conversation", settings.CHAT_IP_CONVERSATIONS_PER_MINUTE)
            return services.conversation_start(visitor=visitor, topic_slug=topic, offline=frame.get("offline") is True)

        await self.send_conversation(await database_sync_to_async(start)())

    async def message_send(self, frame: Frame) -> None:
        visitor = self.require_visitor()
        conversation_id = field_int(frame, "conversation_id", minimum=1)
        client_id = field_str(frame, "client_id", max_length=CLIENT_ID_MAX_LENGTH)
        body = field_body(frame)

        def post() -> Message:
            self.limit_ip("message", settings.CHAT_IP_MESSAGES_PER_MINUTE)
            message, _ = services.message_post(
                conversation_id=conversation_id, author=visitor, body=body, client_id=client_id
            )
            return message

        message = await database_sync_to_async(post)()
        await self.send_ack(conversation_id, client_id, message.seq)

    async def sync(self, frame: Frame) -> None:
        visitor = self.require_visitor()
        conversation_id = field_int(frame, "conversation_id", minimum=1)
        after_seq = field_int(frame, "after_seq")

        def answer() -> dict[str, Any]:
            conversation = selectors.conversation_for_visitor(visitor=visitor, conversation_id=conversation_id)
            return sync_answer(conversation, after_seq, payloads.conversation_for_visitor, for_agent=False)

        await self.send_json(await database_sync_to_async(answer)())

    async def conversation_end(self, frame: Frame) -> None:
        visitor = self.require_visitor()
        conversation_id = field_int(frame, "conversation_id", minimum=1)
        conversation = await database_sync_to_async(services.conversation_end)(
            conversation_id=conversation_id, ended_by=visitor
        )
        await self.send_conversation(conversation)

    async def typing(self, frame: Frame) -> None:
        visitor = self.require_visitor()
        conversation_id = field_int(frame, "conversation_id", minimum=1)
        await database_sync_to_async(services.conversation_typing)(conversation_id=conversation_id, by=visitor)

    async def page_view(self, frame: Frame) -> None:
        visitor = self.require_visitor()
        url = field_str(frame, "url", max_length=500) or ""
        if not url.startswith(("http://", "https://")):
            raise ChatError(ErrorCode.INVALID_FIELD, "'url' must be an http or https address.")
        page = {
            "url": url,
            "title": field_str(frame, "title", max_length=200, required=False) or "",
            "at": timezone.now().isoformat(),
        }
        self.visitor = await database_sync_to_async(services.visitor_pages_record)(visitor=visitor, pages=[page])

    async def visitor_contact(self, frame: Frame) -> None:
        visitor = self.require_visitor()
        consent = frame.get("marketing_consent", False)
        if not isinstance(consent, bool):
            raise ChatError(ErrorCode.INVALID_FIELD, "'marketing_consent' must be true or false.")
        conversation_id = frame.get("conversation_id")
        self.visitor = await database_sync_to_async(services.visitor_contact_set)(
            visitor=visitor,
            email=field_str(frame, "email", max_length=254) or "",
            purpose=field_str(frame, "purpose", max_length=20) or "",
            conversation_id=None if conversation_id is None else field_int(frame, "conversation_id", minimum=1),
            marketing_consent=consent,
            consent_wording=field_str(frame, "consent_wording", max_length=1000, required=False) or "",
        )
        await self.send_json({"type": "visitor.contact.saved", "email": self.visitor.email})

    async def conversation_rate(self, frame: Frame) -> None:
        visitor = self.require_visitor()
        conversation = await database_sync_to_async(services.conversation_rate)(
            conversation_id=field_int(frame, "conversation_id", minimum=1),
            visitor=visitor,
            rating=field_int(frame, "rating", minimum=1),
            comment=field_str(frame, "comment", max_length=2000, required=False) or "",
        )
        await self.send_conversation(conversation)

    async def read(self, frame: Frame) -> None:
        visitor = self.require_visitor()
        await database_sync_to_async(services.conversation_mark_read)(
            conversation_id=field_int(frame, "conversation_id", minimum=1),
            reader=visitor,
            seq=field_int(frame, "seq"),
        )
