"""R4 for email: optional mail (review requests) only with marketing consent, and an
unsubscribe link in every email that withdraws it, logged like any consent change.

The link carries a signed token (visitor and address), so it works without a login and
cannot be forged for someone else's address; it never expires, as an old email's link
must still work.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..errors import ChatError, ErrorCode
from ..models import ConsentRecord, Visitor

UNSUBSCRIBE_SALT = "chat.emails.unsubscribe"
# Recorded as shown: in the language of the page (the browser's) where the visitor unsubscribed.
UNSUBSCRIBE_WORDING = gettext_lazy("Send me no optional emails, such as review requests, from %(site)s.")


@dataclass(frozen=True)
class Unsubscriber:
    visitor: Visitor
    address: str

    @property
    def wording(self) -> str:
        site = self.visitor.site
        return UNSUBSCRIBE_WORDING % {"site": site.email_from_name or site.name}


def unsubscribe_token(*, visitor_id: int, address: str) -> str:
    return signing.dumps({"v": visitor_id, "a": address.lower()}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_url(*, visitor_id: int, address: str) -> str:
    """Absolute, for an email read far from any request: PUBLIC_URL names this server."""
    path = reverse("chat:unsubscribe", args=[unsubscribe_token(visitor_id=visitor_id, address=address)])
    return f"{settings.PUBLIC_URL.rstrip('/')}{path}"


def unsubscriber_from_token(token: str) -> Unsubscriber:
    """Who a link speaks for; a damaged or forged token is a clear error."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        visitor = Visitor.objects.select_related("site").get(pk=int(data["v"]))
        address = str(data["a"])
    except (signing.BadSignature, KeyError, TypeError, ValueError, Visitor.DoesNotExist):
        raise ChatError(
            ErrorCode.INVALID_FIELD, _("This unsubscribe link is not valid. Copy the whole link.")
        ) from None
    return Unsubscriber(visitor=visitor, address=address)


def marketing_consent_latest(*, site_id: int, address: str) -> ConsentRecord | None:
    """The last word of this address on optional mail from this site, from whichever
    visitor (browser) it came: a later unsubscribe beats an earlier tick, and a later
    tick beats an earlier unsubscribe."""
    return (
        ConsentRecord.objects.filter(kind=ConsentRecord.Kind.MARKETING, visitor__site_id=site_id, email__iexact=address)
        .order_by("-recorded_at", "-pk")
        .first()
    )


def optional_mail_allowed(*, site_id: int, address: str) -> bool:
    latest = marketing_consent_latest(site_id=site_id, address=address)
    return latest is not None and latest.given


def email_unsubscribe(*, token: str, source: ConsentRecord.Source) -> ConsentRecord:
    """Withdraw the address's consent to optional mail from the site, logged with the time,
    the wording and where it came from. Unsubscribing again changes nothing."""
    who = unsubscriber_from_token(token)
    with transaction.atomic():
        # The visitor's row serialises this with a consent given at the same moment.
        Visitor.objects.select_for_update().filter(pk=who.visitor.pk).first()
        latest = marketing_consent_latest(site_id=who.visitor.site_id, address=who.address)
        if latest is not None and not latest.given:
            return latest
        return ConsentRecord.objects.create(
            visitor=who.visitor,
            email=who.address,
            kind=ConsentRecord.Kind.MARKETING,
            given=False,
            wording=who.wording,
            source=source,
        )
