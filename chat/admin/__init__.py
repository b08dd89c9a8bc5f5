"""Chat admin, split by sub-domain; importing the modules registers their ModelAdmins."""

from .conversations import ConversationAdmin, TrainingFlagAdmin, TranscriptViewAdmin
from .emails import ConsentRecordAdmin, OutboundEmailAdmin
from .sites import SiteAdmin, TriggerAdmin, TriggerFiringAdmin, VisitorAdmin

__all__ = [
    "ConsentRecordAdmin", "ConversationAdmin", "OutboundEmailAdmin", "SiteAdmin", "TrainingFlagAdmin",
    "TranscriptViewAdmin", "TriggerAdmin", "TriggerFiringAdmin", "VisitorAdmin",
]  # fmt: skip
