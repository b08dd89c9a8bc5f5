"""Error codes of the chat domain, shared by the socket protocol and the HTTP API."""

from enum import StrEnum


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
    INTERNAL_ERROR = "internal_error"


DEFAULT_MESSAGES = {
    ErrorCode.INVALID_JSON: "The frame is not a JSON object.",
    ErrorCode.FRAME_TOO_LARGE: "The frame is too large.",
    ErrorCode.UNKNOWN_TYPE: "Unknown frame type.",
    ErrorCode.INVALID_FIELD: "A field is missing or invalid.",
    ErrorCode.HELLO_REQUIRED: "Send a hello frame first.",
    ErrorCode.EMPTY_BODY: "The message is empty.",
    ErrorCode.BODY_TOO_LONG: "The message is too long.",
    ErrorCode.RATE_LIMITED: "Too many frames; slow down and resend.",
    ErrorCode.NOT_FOUND: "No such conversation.",
    ErrorCode.NOT_OWNER: "Claim this conversation before acting on it; another agent may own it.",
    ErrorCode.ALREADY_CLAIMED: "Another agent has already claimed this conversation.",
    ErrorCode.CONVERSATION_ENDED: "This conversation has ended; start a new one.",
    ErrorCode.UNKNOWN_TOPIC: "This site has no such topic.",
    ErrorCode.AT_CAPACITY: "You already carry your limit of chats; end one first.",
    ErrorCode.AGENT_UNAVAILABLE: "That agent is not online.",
    ErrorCode.COMPOSER_WARNING: "Check the warnings, then send again to send anyway.",
    ErrorCode.INTERNAL_ERROR: "Something went wrong on our side. Please resend; nothing is stored twice.",
}


class ChatError(Exception):
    """A request the chat domain refuses; consumers and views turn it into an error event."""

    def __init__(self, code: ErrorCode, message: str | None = None, **extra: object) -> None:
        self.code = code
        self.message = message or DEFAULT_MESSAGES[code]
        self.extra = extra
        super().__init__(self.message)
