from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.utils import timezone

from agents import canned, composer
from agents import services as agent_services
from agents.models import Agent
from agents.payloads import agent_payload, canned_payload
from agents.selectors import agent_for_user, agent_team_ids, transfer_targets

from .. import payloads, selectors, services
from ..errors import ChatError, ErrorCode
from ..languages import language_best_match
from ..realtime import SUPERVISORS_GROUP, agent_group, team_group
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

# Several pings fit in the presence grace period, so late ones never make an agent offline.
HEARTBEAT_SECONDS = 25
CHOOSABLE_STATUSES = {Agent.Status.ONLINE, Agent.Status.AWAY}


def _welcome(agent: Agent) -> dict[str, Any]:
    return {
        "type": "welcome",
        "agent": agent_payload(agent),
        "queue": [payloads.conversation_for_agent(c) for c in selectors.queue_for_agent(agent=agent)],
        "chats": [payloads.conversation_for_agent(c) for c in selectors.chats_for_agent(agent=agent)],
        "server_time": timezone.now().isoformat(),
        "heartbeat_seconds": HEARTBEAT_SECONDS,
    }


def _transfer_targets(agent: Agent) -> dict[str, Any]:
    teams, agents = transfer_targets(exclude=agent)
    return {
        "type": "transfer.targets",
        "teams": [{"id": team_id, "name": name} for team_id, name in teams],
        "agents": [
            {"id": other.user_id, "name": other.display_name, "status": other.status, "available": other.available}
            for other in agents
        ],
    }


def _groups_of(agent: Agent) -> list[str]:
    groups = [agent_group(agent.user_id)] + [team_group(team_id) for team_id in agent_team_ids(agent)]
    if agent.is_supervisor:
        groups.append(SUPERVISORS_GROUP)
    return groups


def _field_list_of_str(frame: Frame, name: str) -> list[str]:
    value = frame.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ChatError(ErrorCode.INVALID_FIELD, f"'{name}' must be a list of strings.")
    return value


def _field_optional_int(frame: Frame, name: str) -> int | None:
    return None if frame.get(name) is None else field_int(frame, name, minimum=1)


def _accepted_languages(scope: dict[str, Any]) -> list[str]:
    """The browser's Accept-Language tags, most preferred first (browsers send them in order)."""
    header = dict(scope.get("headers", [])).get(b"accept-language", b"").decode("latin1")
    return [part.split(";")[0].strip() for part in header.split(",")[:8]]


class AgentConsumer(ProtocolConsumer):
    """The console's socket: `/ws/agent/`, for logged-in users with an agent profile."""

    agent: Agent
    rate_factor = 4
    # `?watch=1`: a supervisor's floor page. It listens and syncs, and its socket is no
    # presence: a supervisor watching the floor must not be handed chats it cannot see.
    watching = False

    def handlers(self) -> dict[str, Handler]:
        if self.watching:
            return {"sync": self.sync}
        return {
            "conversation.claim": self.conversation_claim,
            "message.send": self.message_send,
            "sync": self.sync,
            "conversation.end": self.conversation_end,
            "conversation.transfer": self.conversation_transfer,
            "transfer.targets": self.transfer_targets,
            "conversation.follow_up": self.conversation_follow_up,
            "composer.check": self.composer_check,
            "canned.search": self.canned_search,
            "canned.save": self.canned_save,
            "typing": self.typing,
            "read": self.read,
            "visitor.details": self.visitor_details,
            "agent.status": self.agent_status,
            "ping": self.ping,
        }

    async def connect(self) -> None:
        agent = await database_sync_to_async(agent_for_user)(self.scope["user"])
        if agent is None:
            await self.close()
            return
        self.watching = parse_qs(self.scope.get("query_string", b"").decode()).get("watch") == ["1"]
        if self.watching and not agent.is_supervisor:
            await self.close()
            return
        self.language = agent.language or language_best_match(_accepted_languages(self.scope))
        if self.watching:
            self.agent = agent
        else:
            self.agent = await database_sync_to_async(agent_services.agent_connected)(agent=agent)
        await self.accept()
        for group in _groups_of(agent):
            await self.join(group)
        watch_channel_layer(self)
        await self.send_json(await database_sync_to_async(_welcome)(self.agent))

    async def send_conversation(self, conversation: Any) -> None:
        # Without labels: no action of this socket changes them (the console keeps the ones
        # it has), and reading them here would query the database on the event loop.
        payload = payloads.conversation_for_agent(conversation, with_labels=False)
        await self.send_json({"type": "conversation.updated", "conversation": payload})

    async def conversation_claim(self, frame: Frame) -> None:
        conversation_id = field_int(frame, "conversation_id", minimum=1)
        conversation = await database_sync_to_async(services.conversation_claim)(
            conversation_id=conversation_id, agent=self.agent
        )
        await self.send_conversation(conversation)

    async def message_send(self, frame: Frame) -> None:
        conversation_id = field_int(frame, "conversation_id", minimum=1)
        client_id = field_str(frame, "client_id", max_length=CLIENT_ID_MAX_LENGTH)
        body = field_body(frame)
        message, _ = await database_sync_to_async(services.message_post)(
            conversation_id=conversation_id,
            author=self.agent,
            body=body,
            client_id=client_id,
            note=frame.get("note") is True,
            overridden=_field_list_of_str(frame, "overridden"),
            canned_id=_field_optional_int(frame, "canned_id"),
        )
        await self.send_ack(conversation_id, client_id, message.seq)

    async def sync(self, frame: Frame) -> None:
        conversation_id = field_int(frame, "conversation_id", minimum=1)
        after_seq = field_int(frame, "after_seq")

        def answer() -> dict[str, Any]:
            conversation = selectors.conversation_for_agent(agent=self.agent, conversation_id=conversation_id)
            return sync_answer(conversation, after_seq, payloads.conversation_for_agent, for_agent=True)

        await self.send_json(await database_sync_to_async(answer)())

    async def conversation_end(self, frame: Frame) -> None:
        conversation_id = field_int(frame, "conversation_id", minimum=1)
        conversation = await database_sync_to_async(services.conversation_end)(
            conversation_id=conversation_id, ended_by=self.agent
        )
        await self.send_conversation(conversation)

    async def conversation_transfer(self, frame: Frame) -> None:
        conversation_id = field_int(frame, "conversation_id", minimum=1)
        reason = field_str(frame, "reason", max_length=500)
        conversation = await database_sync_to_async(services.conversation_transfer)(
            conversation_id=conversation_id,
            agent=self.agent,
            reason=reason,
            to_agent_id=_field_optional_int(frame, "to_agent_id"),
            to_team_id=_field_optional_int(frame, "to_team_id"),
        )
        await self.send_conversation(conversation)

    async def conversation_follow_up(self, frame: Frame) -> None:
        conversation_id = field_int(frame, "conversation_id", minimum=1)
        needs = frame.get("needs", True)
        if not isinstance(needs, bool):
            raise ChatError(ErrorCode.INVALID_FIELD, "'needs' must be true or false.")
        conversation = await database_sync_to_async(services.conversation_follow_up)(
            conversation_id=conversation_id, agent=self.agent, needs=needs
        )
        await self.send_conversation(conversation)

    async def composer_check(self, frame: Frame) -> None:
        conversation_id = field_int(frame, "conversation_id", minimum=1)
        body = field_body(frame)

        def answer() -> dict[str, Any]:
            conversation = selectors.conversation_for_agent(agent=self.agent, conversation_id=conversation_id)
            warnings = composer.composer_check(body=body, site_id=conversation.site_id)
            return {
                "type": "composer.result",
                "conversation_id": conversation_id,
                "body": body,
                "warnings": [warning.as_dict() for warning in warnings],
                "blocks": composer.composer_split(body=body),
            }

        await self.send_json(await database_sync_to_async(answer)())

    async def canned_search(self, frame: Frame) -> None:
        conversation_id = field_int(frame, "conversation_id", minimum=1)
        query = field_str(frame, "query", max_length=100, required=False) or ""

        def answer() -> dict[str, Any]:
            conversation = selectors.conversation_for_agent(agent=self.agent, conversation_id=conversation_id)
            found = canned.canned_search(agent=self.agent, query=query)
            return {
                "type": "canned.results",
                "conversation_id": conversation_id,
                "query": query,
                "results": [
                    canned_payload(
                        item,
                        body=canned.canned_render(
                            canned=item, visitor_name=conversation.visitor.name, agent=self.agent
                        ),
                    )
                    for item in found
                ],
            }

        await self.send_json(await database_sync_to_async(answer)())

    async def canned_save(self, frame: Frame) -> None:
        item = await database_sync_to_async(canned.canned_create)(
            agent=self.agent,
            title=field_str(frame, "title", max_length=120),
            shortcut=field_str(frame, "shortcut", max_length=40),
            body=field_body(frame),
            team_id=_field_optional_int(frame, "team_id"),
        )
        await self.send_json({"type": "canned.saved", "canned": canned_payload(item, body=item.body)})

    async def typing(self, frame: Frame) -> None:
        conversation_id = field_int(frame, "conversation_id", minimum=1)
        await database_sync_to_async(services.conversation_typing)(conversation_id=conversation_id, by=self.agent)

    async def visitor_details(self, frame: Frame) -> None:
        conversation_id = field_int(frame, "conversation_id", minimum=1)

        def answer() -> dict[str, Any]:
            conversation = selectors.conversation_for_agent(agent=self.agent, conversation_id=conversation_id)
            past = selectors.visitor_past_conversations(conversation=conversation)
            return {
                "type": "visitor.details",
                "conversation_id": conversation_id,
                "recent_pages": conversation.visitor.recent_pages,
                "past_conversations": [payloads.conversation_for_agent(other) for other in past],
            }

        await self.send_json(await database_sync_to_async(answer)())

    async def agent_status(self, frame: Frame) -> None:
        status = frame.get("status")
        if not isinstance(status, str) or status not in CHOOSABLE_STATUSES:
            raise ChatError(ErrorCode.INVALID_FIELD, "'status' must be 'online' or 'away'.")
        await database_sync_to_async(agent_services.agent_set_status)(agent=self.agent, status=Agent.Status(status))

    async def transfer_targets(self, frame: Frame) -> None:
        """Asked when the transfer dialog opens, not sent in `welcome`: every console listing
        every agent made a connect cost grow with the desk (docs/performance.md, round 6)."""
        await self.send_json(await database_sync_to_async(_transfer_targets)(self.agent))

    async def ping(self, frame: Frame) -> None:
        if agent_services.agent_heartbeat_due(agent=self.agent):
            await database_sync_to_async(agent_services.agent_heartbeat)(agent=self.agent)
        await self.send_json({"type": "pong"})

    async def read(self, frame: Frame) -> None:
        await database_sync_to_async(services.conversation_mark_read)(
            conversation_id=field_int(frame, "conversation_id", minimum=1),
            reader=self.agent,
            seq=field_int(frame, "seq"),
        )
