"""Error codes of the knowledge base and the feedback backlog, shared by views and the API."""

from enum import StrEnum


class KbErrorCode(StrEnum):
    INVALID_FIELD = "invalid_field"
    NOT_FOUND = "not_found"
    NO_ANSWER_SELECTED = "no_answer_selected"
    NO_QUESTION = "no_question"


class KbError(Exception):
    def __init__(self, code: KbErrorCode, message: str = "") -> None:
        super().__init__(message or code.value)
        self.code = code
        self.message = message or code.value
