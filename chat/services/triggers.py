from django.utils import timezone

from ..errors import ChatError, ErrorCode
from ..models import Site, TriggerFiring

OUTCOME_ORDER = [TriggerFiring.Outcome.SHOWN, TriggerFiring.Outcome.OPENED, TriggerFiring.Outcome.REPLIED]


def trigger_firing_record(
    *, site: Site, trigger_id: int, browser_id: str, outcome: str, page_url: str
) -> TriggerFiring:
    """R2: a trigger was shown to a browser, or the visitor opened or answered it.

    Showing creates the firing (which starts the trigger's frequency cap); opening and
    replying move the latest firing forward, never back."""
    if outcome not in OUTCOME_ORDER:
        raise ChatError(ErrorCode.INVALID_FIELD, "'outcome' must be shown, opened or replied.")
    trigger = site.triggers.filter(pk=trigger_id).first()
    if trigger is None:
        raise ChatError(ErrorCode.NOT_FOUND, "No such trigger.")
    latest = TriggerFiring.objects.filter(trigger=trigger, browser_id=browser_id).order_by("-shown_at").first()
    if outcome == TriggerFiring.Outcome.SHOWN or latest is None:
        return TriggerFiring.objects.create(
            trigger=trigger, browser_id=browser_id, outcome=outcome, page_url=page_url[:500], shown_at=timezone.now()
        )
    if OUTCOME_ORDER.index(TriggerFiring.Outcome(outcome)) > OUTCOME_ORDER.index(TriggerFiring.Outcome(latest.outcome)):
        latest.outcome = outcome
        latest.save(update_fields=["outcome"])
    return latest
