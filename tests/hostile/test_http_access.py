"""Every URL the project serves, enumerated from the resolver so a new page or form can't
be forgotten: anonymous visitors and users without an agent profile get no console, backlog,
knowledge-base console, API or admin page; every POST needs a CSRF token except the few
listed below with their reason; the transcript in the admin stays read-only."""

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

from agents.models import Agent
from chat import services
from chat.models import Conversation, Message
from feedback.models import FeedbackItem
from tests.agents.factories import make_agent, make_team
from tests.chat.factories import make_site, make_topic, make_visitor

pytestmark = pytest.mark.django_db

SECRET = "SECRET-9d2e-backlog-and-chat-words"
CONVERTER_SAMPLES = {"int": "1", "slug": "x", "str": "x", "path": "1", "uuid": "00000000-0000-4000-8000-000000000000"}
REGEX_SAMPLES = ("1", "chat", "x")


@dataclass(frozen=True)
class Route:
    route: str  # the pattern as written, e.g. "console/kb/articles/<int:pk>/edit/"
    url: str  # a concrete URL that resolves to it

    def __str__(self) -> str:
        return self.route


def _sample(pattern: RoutePattern | RegexPattern) -> str:
    if isinstance(pattern, RoutePattern):
        return re.sub(r"<(?:(\w+):)?\w+>", lambda m: CONVERTER_SAMPLES[m.group(1) or "str"], str(pattern))

    def group(match: re.Match[str]) -> str:
        return next(sample for sample in REGEX_SAMPLES if re.fullmatch(match.group(1), sample))

    return re.sub(r"\(\?P<\w+>((?:[^()]|\([^()]*\))*)\)", group, str(pattern)).lstrip("^").rstrip("$")


def _walk(patterns: list, prefix: tuple = ()) -> Iterator[tuple[tuple, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, (*prefix, pattern.pattern))
        else:
            yield (*prefix, pattern.pattern), pattern


def all_routes() -> list[Route]:
    routes = []
    for pieces, pattern in _walk(get_resolver().url_patterns):
        url = "/" + "".join(_sample(piece) for piece in pieces)
        # A pattern this sampler cannot reach must be looked at, not skipped.
        assert resolve(url).func == pattern.callback, f"{url} does not reach {pieces}"
        routes.append(Route(route="".join(str(piece) for piece in pieces), url=url))
    return routes


ROUTES = all_routes()
PUBLIC = {"admin/login/", "admin/logout/"}
PROTECTED = [r for r in ROUTES if r.route.startswith(("console/", "api/backlog/", "admin/")) and r.route not in PUBLIC]
# Views that take a POST without Django's CSRF token, each with why and what it answers instead.
CSRF_EXEMPT = {
    "widget/<str:site_key>/firings": (
        403,
        "cross-origin from customers' sites and cookie-less: the site's allowed origins are the guard",
    ),
    "api/help/search/": (405, "public, read-only and without session authentication"),
    "widget/<str:site_key>/conversations/<int:conversation_id>/attachments": (
        403,
        "cross-origin from customers' sites and cookie-less: the allowed origins and the visitor's token are the guard",
    ),
    "email/unsubscribe/<str:token>/": (
        400,
        "one-click unsubscribe (RFC 8058): mail clients POST with no page or cookie; the signed token is the guard",
    ),
}


@pytest.fixture
def agent(db) -> Agent:
    """An agent of the default team serving the site's one topic (no transactional flush: hundreds of rows use it)."""
    topic = make_topic(site=make_site())
    return make_agent(teams=[make_team(topics=[topic], is_default=True)])


@pytest.fixture
def secrets_stored(agent) -> Conversation:
    """A chat and a backlog item whose text must never reach someone not entitled to it."""
    topic = agent.teams.get().topics.get()
    visitor, _ = make_visitor(site=topic.site)
    conversation = services.conversation_start(visitor=visitor, topic_slug=topic.slug)
    services.message_post(conversation_id=conversation.pk, author=visitor, body=SECRET, client_id="s-1")
    FeedbackItem.objects.create(kind="feature", source="customer", summary=SECRET)
    return conversation


def test_every_route_is_enumerated():
    # The resolver walk sees the project's own routes, not just the admin's.
    routes = {route.route for route in ROUTES}
    assert {"console/", "console/kb/draft", "console/feedback/log", "api/backlog/^items/$", "accounts/login/"} <= routes
    # An exemption whose route is gone would hide a new view that took its place.
    assert set(CSRF_EXEMPT) <= routes


def refusal_problem(response, *, logins: tuple[str, ...] = ("/accounts/login/", "/admin/login/")) -> str | None:
    """None when `response` refuses (a redirect to log in, 401, 403 or 405) and carries no SECRET."""
    if response.status_code not in {302, 401, 403, 405}:
        return f"status {response.status_code}"
    if response.status_code == 302 and not response["Location"].startswith(logins):
        return f"redirect to {response['Location']}"
    if SECRET.encode() in response.content:
        return "SECRET in the body"
    return None


def ask(client: Client, method: str, route: Route):
    if method == "get":
        return client.get(route.url)
    return client.post(route.url, data="{}", content_type="application/json")


def protected_routes_letting_in(client: Client) -> dict[tuple[str, str], str]:
    """(method, url) -> what was wrong, for every protected route that did not refuse `client`."""
    return {
        (method, route.url): problem
        for route in PROTECTED
        for method in ("get", "post")
        if (problem := refusal_problem(ask(client, method, route)))
    }


# One test per actor over every route (a table, not hundreds of database set-ups); the
# failure lists every route that let the actor in.


def test_anonymous_gets_no_protected_page(secrets_stored):
    client = Client()
    assert protected_routes_letting_in(client) == {}


def test_user_without_agent_profile_gets_no_protected_page(secrets_stored):
    client = Client()
    client.force_login(get_user_model().objects.create(username="customer@example.com"))
    assert protected_routes_letting_in(client) == {}


def test_every_post_needs_a_csrf_token(agent):
    # Logged in as an agent who is also a superuser: only the missing token can refuse it.
    user = agent.user
    user.is_staff = user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    answers = {route.route: client.post(route.url, data={"title": "x"}) for route in ROUTES}

    let_through = {
        route: response.status_code
        for route, response in answers.items()
        if route not in CSRF_EXEMPT and not (response.status_code == 403 and b"CSRF" in response.content)
    }
    exempt = {route: answers[route].status_code for route in CSRF_EXEMPT}
    assert let_through == {}
    assert exempt == {route: status for route, (status, _why) in CSRF_EXEMPT.items()}


def test_a_post_with_the_token_goes_through(agent):
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent.user)
    client.get("/console/")
    token = client.cookies["csrftoken"].value

    response = client.post(
        "/console/feedback/similar", data={"text": "refund"}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )

    assert response.status_code == 200


def test_agent_without_staff_rights_gets_no_admin(secrets_stored, agent):
    client = Client()
    client.force_login(agent.user)
    problems = {
        route.url: problem
        for route in PROTECTED
        if route.route.startswith("admin/")
        and (problem := refusal_problem(client.get(route.url), logins=("/admin/login/",)))
    }
    assert problems == {}


def test_supervisor_reviews_transcripts_read_only(secrets_stored):
    supervisor = make_agent(supervisor=True)
    supervisor.user.is_staff = supervisor.user.is_superuser = True
    supervisor.user.save(update_fields=["is_staff", "is_superuser"])
    client = Client()
    client.force_login(supervisor.user)
    change = f"/admin/chat/conversation/{secrets_stored.pk}/change/"
    before = list(Message.objects.filter(conversation=secrets_stored).values_list("seq", "body"))

    shown = client.get(change)
    edited = client.post(change, data={"status": "ended", "rating": "5", "rating_comment": "forged"})
    added = client.post("/admin/chat/conversation/add/", data={"status": "queued"})

    assert shown.status_code == 200 and SECRET.encode() in shown.content
    assert (edited.status_code, added.status_code) == (403, 403)
    secrets_stored.refresh_from_db()
    assert (secrets_stored.status, secrets_stored.rating) == ("queued", None)
    assert list(Message.objects.filter(conversation=secrets_stored).values_list("seq", "body")) == before
