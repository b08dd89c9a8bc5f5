from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from agents.models import Agent
from chat.models import Conversation
from knowledgebase.errors import KbError, KbErrorCode

from .models import FeedbackItem, Mention, Source, WebhookDelivery
from .webhooks import webhooks_queue


def source_of(conversation: Conversation) -> str:
    """R22: a logged-in customer, or a visitor who is a prospect."""
    return Source.CUSTOMER if conversation.visitor.is_customer else Source.PROSPECT


@transaction.atomic
def feedback_log(
    *,
    conversation: Conversation,
    agent: Agent,
    kind: str,
    summary: str,
    quote: str,
    merge_into: FeedbackItem | None = None,
) -> Mention:
    """R20: log feedback from a chat as a new item, or as one more mention of `merge_into`.

    Logging the same chat against the same item again returns the existing mention, so a
    double submit counts once.
    """
    source = source_of(conversation)
    if merge_into is None:
        summary = " ".join(summary.split())[:200]
        if not summary:
            raise KbError(KbErrorCode.INVALID_FIELD, _("A feedback item needs a short summary."))
        if kind not in FeedbackItem.Kind.values:
            raise KbError(KbErrorCode.INVALID_FIELD, _("Unknown kind of feedback."))
        item = FeedbackItem.objects.create(kind=kind, summary=summary, source=source, created_by=agent)
    else:
        # The lock orders concurrent merges into one item; the unique constraint does the rest.
        item = FeedbackItem.objects.select_for_update().get(pk=merge_into.pk)
    existing = Mention.objects.filter(item=item, conversation=conversation).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            mention = Mention.objects.create(
                item=item, conversation=conversation, agent=agent, source=source, quote=quote.strip()
            )
    except IntegrityError:
        return Mention.objects.get(item=item, conversation=conversation)
    # R20: tell the CRM or the product backlog, in this transaction (sent after it commits).
    # A new item is one event with its first mention in it; a repeat is a new mention.
    if merge_into is None:
        webhooks_queue(event=WebhookDelivery.Event.ITEM_CREATED, item=item, mention=mention)
    else:
        webhooks_queue(event=WebhookDelivery.Event.MENTION_CREATED, item=item, mention=mention)
    return mention
