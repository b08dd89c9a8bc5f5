"""Error codes of the chat domain, shared by the socket protocol and the HTTP API."""

from enum import StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class ErrorCode(StrEnum):
    INVALID_JSON = "invalid_json"
    FRAME_TOO_LARGE = "frame_too_large"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_FIELD = "invalid_field"
    HELLO_REQUIRED = "hello_required"
    EMPTY_BODY = "empty_body"
    BODY_TOO_LONG = "body_too_long"
    RATE_LIMITED = "rate_limited"
    NOT_FOUND = "not_found"
    NOT_OWNER = "not_owner"
    ALREADY_CLAIMED = "already_claimed"
    CONVERSATION_ENDED = "conversation_ended"
    UNKNOWN_TOPIC = "unknown_topic"
    AT_CAPACITY = "at_capacity"
    AGENT_UNAVAILABLE = "agent_unavailable"
    COMPOSER_WARNING = "composer_warning"
    ATTACHMENT_EMPTY = "attachment_empty"
    ATTACHMENT_TOO_LARGE = "attachment_too_large"
    ATTACHMENT_TYPE_REFUSED = "attachment_type_refused"
    INTERNAL_ERROR = "internal_error"


DEFAULT_MESSAGES = {
    ErrorCode.INVALID_JSON: _("The frame is not a JSON object."),
    ErrorCode.FRAME_TOO_LARGE: _("The frame is too large."),
    ErrorCode.UNKNOWN_TYPE: _("Unknown frame type."),
    ErrorCode.INVALID_FIELD: _("A field is missing or invalid."),
    ErrorCode.HELLO_REQUIRED: _("Send a hello frame first."),
    ErrorCode.EMPTY_BODY: _("The message is empty."),
    ErrorCode.BODY_TOO_LONG: _("The message is too long."),
    ErrorCode.RATE_LIMITED: _("Too many frames; slow down and resend."),
    ErrorCode.NOT_FOUND: _("No such conversation."),
    ErrorCode.NOT_OWNER: _("Claim this conversation before acting on it; another agent may own it."),
    ErrorCode.ALREADY_CLAIMED: _("Another agent has already claimed this conversation."),
    ErrorCode.CONVERSATION_ENDED: _("This conversation has ended; start a new one."),
    ErrorCode.UNKNOWN_TOPIC: _("This site has no such topic."),
    ErrorCode.AT_CAPACITY: _("You already carry your limit of chats; end one first."),
    ErrorCode.AGENT_UNAVAILABLE: _("That agent is not online."),
    ErrorCode.COMPOSER_WARNING: _("Check the warnings, then send again to send anyway."),
    ErrorCode.ATTACHMENT_EMPTY: _("The file is empty."),
    ErrorCode.ATTACHMENT_TOO_LARGE: _("The file is too large."),
    ErrorCode.ATTACHMENT_TYPE_REFUSED: _("Files of this type cannot be sent here."),
    ErrorCode.INTERNAL_ERROR: _("Something went wrong on our side. Please resend; nothing is stored twice."),
}


class ChatError(Exception):
    """A request the chat domain refuses; consumers and views turn it into an error event."""

    def __init__(self, code: ErrorCode, message: str | Promise | None = None, **extra: object) -> None:
        self.code = code
        # Translated now, in the language active where the error arises (the frame is JSON).
        self.message = str(message or DEFAULT_MESSAGES[code])
        self.extra = extra
        super().__init__(self.message)
