"""Pages reached from emails: unsubscribing from optional mail (R4), and the staff's
look at the last transcript sent (what `make run` would have emailed)."""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from .emails import email_render, email_unsubscribe, unsubscriber_from_token
from .errors import ChatError
from .models import ConsentRecord, OutboundEmail

# RFC 8058: a mail client's one-click unsubscribe POSTs exactly this body to the link.
ONE_CLICK_BODY = "List-Unsubscribe=One-Click"


# No CSRF token: a mail client's one-click POST has none, and the signed token in the URL
# is what proves the request speaks for that address. No JavaScript needed: GET shows a
# form, its POST unsubscribes (a link scanner that follows GETs unsubscribes nobody).
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        who = unsubscriber_from_token(token)
        if request.method == "POST":
            one_click = request.POST.get("List-Unsubscribe") == "One-Click"
            source = ConsentRecord.Source.ONE_CLICK if one_click else ConsentRecord.Source.UNSUBSCRIBE_PAGE
            email_unsubscribe(token=token, source=source)
    except ChatError as error:
        return render(request, "chat/email/unsubscribe.html", {"error": error.message}, status=400)
    site = who.visitor.site
    context = {
        "site_name": site.email_from_name or site.name,
        "address": who.address,
        "wording": who.wording,
        "done": request.method == "POST",
    }
    return render(request, "chat/email/unsubscribe.html", context)


@staff_member_required
@require_GET
def last_transcript(request: HttpRequest) -> HttpResponse:
    """The newest transcript email as its visitor got it (the HTML part)."""
    email = (
        OutboundEmail.objects.filter(kind=OutboundEmail.Kind.TRANSCRIPT)
        .select_related("conversation__site", "conversation__visitor")
        .order_by("-created_at", "-pk")
        .first()
    )
    if email is None:
        return render(request, "chat/email/no_transcript.html", status=404)
    response = HttpResponse(email_render(email).html)
    # The HTML is the email's: no scripts, nothing framed, whatever a chat message said.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return response
