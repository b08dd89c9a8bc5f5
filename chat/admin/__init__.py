"""Chat admin, split by sub-domain; importing the modules registers their ModelAdmins."""

from .conversations import ConversationAdmin, TrainingFlagAdmin, TranscriptViewAdmin
from .emails import ConsentRecordAdmin, OutboundEmailAdmin
from .labels import LabelAdmin
from .privacy import PersonalDataActionAdmin
from .sites import SiteAdmin, TriggerAdmin, TriggerFiringAdmin, VisitorAdmin

__all__ = [
    "ConsentRecordAdmin", "ConversationAdmin", "LabelAdmin", "OutboundEmailAdmin", "PersonalDataActionAdmin",
    "SiteAdmin", "TrainingFlagAdmin", "TranscriptViewAdmin", "TriggerAdmin", "TriggerFiringAdmin", "VisitorAdmin",
]  # fmt: skip
