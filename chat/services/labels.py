"""Labels on conversations: added and removed from the console and the API.

Who may label a chat is the caller's decision (`chat.selectors.agent_can_label` states the
console's rule); these services only make the change, once, and tell the agents' consoles.
The visitor is never told: labels are for the team.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from .. import payloads
from ..models import Conversation, Label
from ..realtime import SUPERVISORS_GROUP, send_on_commit
from .audiences import agent_audience
from .locking import lock_conversation


def conversation_label_add(*, conversation: Conversation, label: Label, actor: AbstractBaseUser) -> Conversation:
    """Put `label` on the chat; adding it again changes nothing and tells no one."""
    return _labels_change(conversation=conversation, label=label, add=True)


def conversation_label_remove(*, conversation: Conversation, label: Label, actor: AbstractBaseUser) -> Conversation:
    """Take `label` off the chat; removing a label it does not carry changes nothing."""
    return _labels_change(conversation=conversation, label=label, add=False)


def _labels_change(*, conversation: Conversation, label: Label, add: bool) -> Conversation:
    with transaction.atomic():
        # The row lock makes two agents adding the same label at once take turns, so the
        # second sees the first's row instead of tripping over the unique pair.
        locked = lock_conversation(conversation.pk)
        has = locked.labels.filter(pk=label.pk).exists()
        if has == add:
            return locked
        if add:
            locked.labels.add(label)
        else:
            locked.labels.remove(label)
        _announce_labels(locked)
    return locked


def _announce_labels(conversation: Conversation) -> None:
    """Every console that shows the chat (its owner or its queue, and the supervisors'
    floor) gets the same `conversation.updated` a claim sends, now with the new labels."""
    send_on_commit(
        [*agent_audience(conversation), SUPERVISORS_GROUP],
        {"type": "conversation.updated", "conversation": payloads.conversation_for_agent(conversation)},
    )
