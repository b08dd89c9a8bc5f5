"""What the API shows of conversations, messages, visitors, agents and labels, and the
input its actions take. Never a visitor's token hash."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from agents.models import Agent
from agents.selectors import agent_is_present

from ..models import Conversation, Label, Message, Visitor

# The largest id PostgreSQL's integer columns hold: bigger ones are refused, not looked up.
MAX_ID = 2**31 - 1


class LabelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Label
        fields = ["id", "name", "colour", "description", "created_at"]
        read_only_fields = ["id", "created_at"]


class PersonSerializer(serializers.Serializer):
    """An agent as a conversation or message names it: its user id and display name."""

    id = serializers.IntegerField(source="pk")
    name = serializers.SerializerMethodField()

    def get_name(self, user: Any) -> str:
        agent = getattr(user, "agent", None)
        return agent.display_name if agent is not None else user.get_username()


class VisitorSummarySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Visitor
        fields = ["id", "name", "is_customer"]


class VisitorSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Visitor
        fields = [
            "id", "site_id", "external_id", "name", "email", "is_customer", "language",
            "recent_pages", "created_at", "last_seen_at", "erased_at",
        ]  # fmt: skip


class ConversationSerializer(serializers.ModelSerializer):
    """A conversation with its people, labels and R23's timing metrics."""

    topic = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    visitor = VisitorSummarySerializer(read_only=True)
    agent = PersonSerializer(source="assigned_agent", read_only=True, allow_null=True)
    labels = LabelSerializer(many=True, read_only=True)

    class Meta:
        model = Conversation
        fields = [
            "id", "site_id", "status", "topic", "team_id", "visitor", "agent", "labels", "preview",
            "last_seq", "needs_follow_up", "is_offline_message", "transcript_requested",
            "rating", "rating_comment", "rated_at",
            "created_at", "claimed_at", "first_response_at", "ended_at", "waiting_since",
            "missed_at", "abandoned_at",
            "longest_wait_seconds", "agent_message_count", "canned_message_count", "warnings_overridden_count",
        ]  # fmt: skip
        read_only_fields = fields


class MessageSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id", "conversation_id", "seq", "sender", "author", "body", "client_id", "created_at",
            "warnings_overridden",
        ]  # fmt: skip
        read_only_fields = fields

    def get_author(self, message: Message) -> dict[str, Any] | None:
        return PersonSerializer(message.author).data if message.author is not None else None


class MessagePageSerializer(serializers.Serializer):
    """Messages after `after_seq`, oldest first; `has_more`: ask again after the last one."""

    messages = MessageSerializer(many=True, read_only=True)
    has_more = serializers.BooleanField(read_only=True)


class MessageCreateSerializer(serializers.Serializer):
    """An agent's reply (or, with `note`, a private note), sent as the agent socket sends it."""

    client_id = serializers.CharField(
        max_length=64, help_text=_("Your id for this message: sending it again stores it once.")
    )
    body = serializers.CharField(max_length=20000, trim_whitespace=False)
    note = serializers.BooleanField(
        default=False, help_text=_("A private note for colleagues, never shown to the visitor.")
    )
    overridden = serializers.ListField(
        child=serializers.CharField(max_length=40),
        default=list,
        max_length=20,
        help_text=_("Composer warning codes to send anyway (see the composer_warning error)."),
    )


class MessagesQuerySerializer(serializers.Serializer):
    after_seq = serializers.IntegerField(min_value=0, max_value=MAX_ID, default=0)


class TransferSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)
    to_agent_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    to_team_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)


class LabelRefSerializer(serializers.Serializer):
    label_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class ConversationFilterSerializer(serializers.Serializer):
    """The list's query parameters; anything unparseable is a 400 naming the parameter."""

    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
    label = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    agent = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    created_since = serializers.DateTimeField(required=False)
    updated_since = serializers.DateTimeField(required=False)
    q = serializers.CharField(max_length=200, required=False)


class AgentSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="user_id", read_only=True)
    name = serializers.CharField(source="display_name", read_only=True)
    teams = serializers.SerializerMethodField()
    open_chats = serializers.IntegerField(read_only=True)
    present = serializers.SerializerMethodField()

    class Meta:
        model = Agent
        fields = ["id", "name", "status", "present", "is_supervisor", "max_chats", "open_chats", "teams"]
        read_only_fields = fields

    def get_teams(self, agent: Agent) -> list[dict[str, Any]]:
        return [{"id": team.pk, "name": team.name} for team in agent.teams.all()]

    def get_present(self, agent: Agent) -> bool:
        return agent_is_present(agent)
