"""The v1 API's views: thin, each action one selector or one chat service.

Every refusal of a chat service is a `ChatError`, answered like the widget's HTTP views
answer it: `{"code", "message", ...}` with the status of its code.
"""

from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework import mixins, pagination, status, viewsets
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from agents.models import Agent

from .. import selectors, services
from ..errors import ChatError, ErrorCode
from ..models import Conversation, Label, Message, Visitor
from ..search import conversation_search, conversations_visible_to
from ..services.labels import conversation_label_add, conversation_label_remove
from . import serializers as s
from .permissions import ApiRateThrottle, IsAgent, SupervisorWrites, request_agent
from .schema import ApiSchema

ERROR_STATUS = {
    ErrorCode.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorCode.NOT_OWNER: status.HTTP_403_FORBIDDEN,
    ErrorCode.ALREADY_CLAIMED: status.HTTP_409_CONFLICT,
    ErrorCode.CONVERSATION_ENDED: status.HTTP_409_CONFLICT,
    ErrorCode.AT_CAPACITY: status.HTTP_409_CONFLICT,
    ErrorCode.AGENT_UNAVAILABLE: status.HTTP_409_CONFLICT,
    ErrorCode.COMPOSER_WARNING: status.HTTP_422_UNPROCESSABLE_ENTITY,
    ErrorCode.RATE_LIMITED: status.HTTP_429_TOO_MANY_REQUESTS,
}


class ApiPagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ApiView(viewsets.GenericViewSet):
    """Token or session authentication, agents only, chat errors as their codes."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, IsAgent]
    throttle_classes = [ApiRateThrottle]
    pagination_class = ApiPagination
    # Ids are integer columns: a longer number is no id (SQLite cannot even bind it).
    lookup_value_regex = r"\d{1,10}"
    schema = ApiSchema()

    @property
    def agent(self) -> Agent:
        agent = request_agent(self.request)
        assert agent is not None  # IsAgent let the request in
        return agent

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, ChatError):
            body = {"code": exc.code, "message": exc.message, **exc.extra}
            return Response(body, status=ERROR_STATUS.get(exc.code, status.HTTP_400_BAD_REQUEST))
        return super().handle_exception(exc)

    def valid(self, serializer_class: type[s.serializers.Serializer], data: Any) -> dict[str, Any]:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class ConversationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiView):
    """Conversations the agent may see (the console's rule, `chat.search`), newest first,
    with their labels and timing.

    Filters: `q` (message text, visitor name or email, as the console's search), `status`,
    `label` (id), `agent` (user id of the owner), `created_since`, `updated_since`
    (created, claimed, ended, rated or written in since; ISO 8601)."""

    serializer_class = s.ConversationSerializer
    operation_ids = {
        ("list", "GET"): "listConversations",
        ("retrieve", "GET"): "retrieveConversation",
        ("claim", "POST"): "claimConversation",
        ("end", "POST"): "endConversation",
        ("transfer", "POST"): "transferConversation",
        ("messages", "GET"): "listConversationMessages",
        ("messages", "POST"): "createConversationMessage",
        ("labels", "POST"): "addConversationLabel",
        ("label_remove", "DELETE"): "removeConversationLabel",
    }
    input_serializers = {
        "claim": None,
        "end": None,
        "transfer": s.TransferSerializer,
        "messages": s.MessageCreateSerializer,
        "labels": s.LabelRefSerializer,
    }
    query_serializers = {
        ("list", "GET"): s.ConversationFilterSerializer,
        ("messages", "GET"): s.MessagesQuerySerializer,
    }
    output_serializers = {("messages", "POST"): s.MessageSerializer}

    def get_queryset(self) -> QuerySet[Conversation]:
        user = self.request.user if self.request is not None else None
        if user is None or not user.is_authenticated or request_agent(self.request) is None:
            return Conversation.objects.none()
        if self.action == "list":
            return self.filtered()
        visible = conversations_visible_to(user).values("pk")
        return selectors.conversations_with_people().filter(pk__in=visible).prefetch_related("labels")

    def filtered(self) -> QuerySet[Conversation]:
        params = self.valid(s.ConversationFilterSerializer, self.request.query_params)
        conversations = conversation_search(
            viewer=self.request.user,
            text=params.get("q", ""),
            label_ids=[params["label"]] if "label" in params else [],
            agent_id=params.get("agent"),
            status=params.get("status", ""),
        )
        if "created_since" in params:
            conversations = conversations.filter(created_at__gte=params["created_since"])
        if "updated_since" in params:
            since = params["updated_since"]
            written = Exists(Message.objects.filter(conversation=OuterRef("pk"), created_at__gte=since))
            conversations = conversations.filter(
                Q(created_at__gte=since)
                | Q(claimed_at__gte=since)
                | Q(ended_at__gte=since)
                | Q(rated_at__gte=since)
                | written
            )
        return conversations

    def answer(self, conversation: Conversation) -> Response:
        # As the service left it, even when the agent no longer sees it (handed to another team).
        fresh = selectors.conversations_with_people().prefetch_related("labels").get(pk=conversation.pk)
        return Response(s.ConversationSerializer(fresh).data)

    @action(detail=True, methods=["post"])
    def claim(self, request: Request, pk: str) -> Response:
        """Claim a queued chat (R7): of simultaneous claims one wins; the rest get `already_claimed`."""
        conversation = self.get_object()
        return self.answer(services.conversation_claim(conversation_id=conversation.pk, agent=self.agent))

    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk: str) -> Response:
        """End a chat you own (supervisors: any); ending it again changes nothing."""
        conversation = self.get_object()
        return self.answer(services.conversation_end(conversation_id=conversation.pk, ended_by=self.agent))

    @action(detail=True, methods=["post"])
    def transfer(self, request: Request, pk: str) -> Response:
        """Hand a chat you own to one agent (`to_agent_id`) or one team's queue (`to_team_id`)."""
        conversation = self.get_object()
        data = self.valid(s.TransferSerializer, request.data)
        transferred = services.conversation_transfer(
            conversation_id=conversation.pk,
            agent=self.agent,
            reason=data["reason"],
            to_agent_id=data.get("to_agent_id"),
            to_team_id=data.get("to_team_id"),
        )
        return self.answer(transferred)

    @action(detail=True, methods=["get", "post"], serializer_class=s.MessagePageSerializer)
    def messages(self, request: Request, pk: str) -> Response:
        """GET: the messages after `after_seq` (private notes included: agents see them),
        a page at a time. POST: send a reply as the agent socket does, once per
        `client_id` (201 new, 200 already stored); composer warnings not in
        `overridden` refuse it with `composer_warning` and the warnings."""
        conversation = self.get_object()
        if request.method == "GET":
            after_seq = self.valid(s.MessagesQuerySerializer, request.query_params)["after_seq"]
            messages, more = selectors.messages_after(conversation=conversation, after_seq=after_seq, with_notes=True)
            return Response(s.MessagePageSerializer({"messages": messages, "has_more": more}).data)
        data = self.valid(s.MessageCreateSerializer, request.data)
        message, created = services.message_post(
            conversation_id=conversation.pk,
            author=self.agent,
            body=data["body"],
            client_id=data["client_id"],
            note=data["note"],
            overridden=data["overridden"],
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(s.MessageSerializer(message).data, status=code)

    @action(detail=True, methods=["post"])
    def labels(self, request: Request, pk: str) -> Response:
        """Put a label on a chat you own (supervisors: any); adding it again changes nothing."""
        conversation = self.labelled_conversation()
        label = self.label(self.valid(s.LabelRefSerializer, request.data)["label_id"])
        return self.answer(conversation_label_add(conversation=conversation, label=label, actor=request.user))

    @action(detail=True, methods=["delete"], url_path=r"labels/(?P<label_id>\d{1,10})")
    def label_remove(self, request: Request, pk: str, label_id: str) -> Response:
        """Take a label off a chat you own (supervisors: any)."""
        conversation = self.labelled_conversation()
        conversation_label_remove(conversation=conversation, label=self.label(int(label_id)), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def labelled_conversation(self) -> Conversation:
        conversation = self.get_object()
        if not selectors.agent_can_label(agent=self.agent, conversation=conversation):
            raise ChatError(ErrorCode.NOT_OWNER)
        return conversation

    def label(self, label_id: int) -> Label:
        found = Label.objects.filter(pk=label_id).first()
        if found is None:
            raise ChatError(ErrorCode.NOT_FOUND, _("No such label."))
        return found


class VisitorViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiView):
    """Visitors: all for supervisors, for an agent those of chats it may see. By `id` (a UUID)."""

    serializer_class = s.VisitorSerializer
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = r"[^/]+"
    operation_ids = {("list", "GET"): "listVisitors", ("retrieve", "GET"): "retrieveVisitor"}

    def get_queryset(self) -> QuerySet[Visitor]:
        if self.request is None or not self.request.user.is_authenticated or request_agent(self.request) is None:
            return Visitor.objects.none()
        visitors = Visitor.objects.order_by("-created_at", "-pk")
        if self.agent.is_supervisor:
            return visitors
        return visitors.filter(pk__in=conversations_visible_to(self.request.user).values("visitor_id"))


class AgentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiView):
    """Agents with their status, presence, teams, limit and open chats. By `id` (the user id)."""

    serializer_class = s.AgentSerializer
    lookup_field = "user_id"
    lookup_url_kwarg = "id"
    operation_ids = {("list", "GET"): "listAgents", ("retrieve", "GET"): "retrieveAgent"}

    def get_queryset(self) -> QuerySet[Agent]:
        return (
            Agent.objects.filter(user__is_active=True)
            .annotate(open_chats=Count("user__conversations", filter=Q(user__conversations__status="active")))
            .prefetch_related("teams")
            .order_by("display_name", "pk")
        )


class LabelViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, ApiView
):
    """Labels: every agent reads them; supervisors create and change them."""

    serializer_class = s.LabelSerializer
    permission_classes = [IsAuthenticated, IsAgent, SupervisorWrites]
    operation_ids = {
        ("list", "GET"): "listLabels",
        ("retrieve", "GET"): "retrieveLabel",
        ("create", "POST"): "createLabel",
        ("update", "PUT"): "updateLabel",
        ("partial_update", "PATCH"): "partialUpdateLabel",
    }

    def get_queryset(self) -> QuerySet[Label]:
        return Label.objects.order_by("name")
