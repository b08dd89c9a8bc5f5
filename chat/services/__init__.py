"""Writes of the chat domain: every change to conversations and messages goes through here.

Each state change locks its rows (agent rows before conversation rows, always in that
order), checks the current state and returns early when there is nothing to do, so
running it twice is harmless. Clients are told only after the commit, through
`chat.realtime.send_on_commit`.
"""

from .assignment import queue_dispatch
from .conversations import (
    conversation_claim,
    conversation_end,
    conversation_follow_up,
    conversation_transfer,
)
from .labels import conversation_label_add, conversation_label_remove
from .messages import conversation_mark_read, conversation_typing, message_post
from .triggers import trigger_firing_record
from .visitors import (
    Identity,
    conversation_rate,
    conversation_start,
    identity_signature,
    token_hash,
    visitor_contact_set,
    visitor_identify,
    visitor_pages_record,
)

__all__ = [
    "Identity",
    "conversation_claim",
    "conversation_end",
    "conversation_follow_up",
    "conversation_label_add",
    "conversation_label_remove",
    "conversation_mark_read",
    "conversation_rate",
    "conversation_start",
    "conversation_transfer",
    "conversation_typing",
    "identity_signature",
    "message_post",
    "queue_dispatch",
    "token_hash",
    "trigger_firing_record",
    "visitor_contact_set",
    "visitor_identify",
    "visitor_pages_record",
]
