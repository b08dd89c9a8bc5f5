import itertools
import secrets

from chat.models import Conversation, Site, Topic, Visitor
from chat.services import token_hash

_numbers = itertools.count(1)

ORIGIN = "http://shop.example.com"


def make_site(*, origins: str = ORIGIN) -> Site:
    return Site.objects.create(name=f"Site {next(_numbers)}", allowed_origins=origins)


def make_topic(*, site: Site, slug: str = "returns") -> Topic:
    return Topic.objects.create(site=site, slug=slug, name=slug.title())


def make_visitor(*, site: Site) -> tuple[Visitor, str]:
    token = secrets.token_urlsafe(32)
    return Visitor.objects.create(site=site, token_hash=token_hash(token)), token


def make_conversation(
    *, site: Site | None = None, visitor: Visitor | None = None, topic: Topic | None = None
) -> Conversation:
    site = site or (visitor.site if visitor else make_site())
    visitor = visitor or make_visitor(site=site)[0]
    return Conversation.objects.create(site=site, visitor=visitor, topic=topic)
