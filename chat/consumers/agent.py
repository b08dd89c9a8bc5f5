from typing import Any

from channels.db import database_sync_to_async
from django.utils import timezone

from agents.models import Agent
from agents.selectors import agent_for_user, agent_team_ids

from .. import payloads, selectors, services
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


def _welcome(agent: Agent) -> dict[str, Any]:
    return {
        "type": "welcome",
        "agent": {"id": agent.user_id, "name": agent.display_name, "is_supervisor": agent.is_supervisor},
        "queue": [payloads.conversation_for_agent(c) for c in selectors.queue_for_agent(agent=agent)],
        "chats": [payloads.conversation_for_agent(c) for c in selectors.chats_for_agent(agent=agent)],
        "server_time": timezone.now().isoformat(),
    }


def _groups_of(agent: Agent) -> list[str]:
    groups = [agent_group(agent.user_id)] + [team_group(team_id) for team_id in agent_team_ids(agent)]
    if agent.is_supervisor:
        groups.append(SUPERVISORS_GROUP)
    return groups


class AgentConsumer(ProtocolConsumer):
    """The console's socket: `/ws/agent/`, for logged-in users with an agent profile."""

    agent: Agent

    def handlers(self) -> dict[str, Handler]:
        return {
            "conversation.claim": self.conversation_claim,
            "message.send": self.message_send,
            "sync": self.sync,
            "conversation.end": self.conversation_end,
        }

    async def connect(self) -> None:
        agent = await database_sync_to_async(agent_for_user)(self.scope["user"])
        if agent is None:
            await self.close()
            return
        self.agent = agent
        await self.accept()
        for group in _groups_of(agent):
            await self.join(group)
        await self.send_json(await database_sync_to_async(_welcome)(agent))

    async def conversation_claim(self, frame: Frame) -> None:
        conversation_id = field_int(frame, "conversation_id", minimum=1)
        conversation = await database_sync_to_async(services.conversation_claim)(
            conversation_id=conversation_id, agent=self.agent
        )
        await self.send_json(
            {"type": "conversation.updated", "conversation": payloads.conversation_for_agent(conversation)}
        )

    async def message_send(self, frame: Frame) -> None:
        conversation_id = field_int(frame, "conversation_id", minimum=1)
        client_id = field_str(frame, "client_id", max_length=CLIENT_ID_MAX_LENGTH)
        body = field_body(frame)
        message, _ = await database_sync_to_async(services.message_post)(
            conversation_id=conversation_id, author=self.agent, body=body, client_id=client_id
        )
        await self.send_json(
            {"type": "message.ack", "conversation_id": conversation_id, "client_id": client_id, "seq": message.seq}
        )

    async def sync(self, frame: Frame) -> None:
        conversation_id = field_int(frame, "conversation_id", minimum=1)
        after_seq = field_int(frame, "after_seq")

        def answer() -> dict[str, Any]:
            conversation = selectors.conversation_for_agent(agent=self.agent, conversation_id=conversation_id)
            return sync_answer(conversation, after_seq, payloads.conversation_for_agent)

        await self.send_json(await database_sync_to_async(answer)())

    async def conversation_end(self, frame: Frame) -> None:
        conversation_id = field_int(frame, "conversation_id", minimum=1)
        conversation = await database_sync_to_async(services.conversation_end)(
            conversation_id=conversation_id, ended_by=self.agent
        )
        await self.send_json(
            {"type": "conversation.updated", "conversation": payloads.conversation_for_agent(conversation)}
        )
