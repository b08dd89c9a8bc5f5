"""The console's customer panel: where the visitor has been and what they asked before."""

import pytest
from asgiref.sync import sync_to_async

from chat import services
from chat.models import Visitor

from ..agents.factories import make_agent, make_team
from .sockets import open_agent, open_visitor, receive_until, start_and_send

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = [
    {"url": "https://shop.example.com/mugs", "title": "Mugs", "at": "2026-11-25T10:00:00Z"},
    {"url": "javascript:alert(1)", "title": "evil"},
    "not a page",
    {"url": "https://shop.example.com/mugs/stoneware", "title": "Stoneware mug", "at": "2026-11-25T10:01:00Z"},
]


async def test_pages_from_hello_and_page_views_are_kept_and_shown_to_the_agent(desk):
    visitor, _ = await open_visitor(desk.site, pages=PAGES)
    conversation_id = (await start_and_send(visitor, "Is it microwave safe?", "c-1"))["conversation_id"]
    await visitor.send_json_to({"type": "page.view", "url": "https://shop.example.com/basket", "title": "Basket"})
    await visitor.send_json_to({"type": "page.view", "url": "ftp://nope"})
    error = await receive_until(visitor, "error")
    agent, _ = await open_agent(desk.agent)

    await agent.send_json_to({"type": "visitor.details", "conversation_id": conversation_id})
    details = await receive_until(agent, "visitor.details")

    assert error["code"] == "invalid_field"
    assert [page["title"] for page in details["recent_pages"]] == ["Mugs", "Stoneware mug", "Basket"]
    assert details["past_conversations"] == []
    await visitor.disconnect()
    await agent.disconnect()


async def test_past_conversations_are_the_visitors_own_only(desk):
    returning, _ = await open_visitor(desk.site)
    first = (await start_and_send(returning, "First question", "c-1"))["conversation_id"]
    await returning.send_json_to({"type": "conversation.end", "conversation_id": first})
    await receive_until(returning, "conversation.updated")
    second = (await start_and_send(returning, "Second question", "c-2"))["conversation_id"]
    stranger, _ = await open_visitor(desk.site)
    await start_and_send(stranger, "Someone else", "s-1")
    agent, _ = await open_agent(desk.agent)

    await agent.send_json_to({"type": "visitor.details", "conversation_id": second})
    details = await receive_until(agent, "visitor.details")

    assert [c["id"] for c in details["past_conversations"]] == [first]
    assert details["past_conversations"][0]["preview"] == "First question"
    for socket in (returning, stranger, agent):
        await socket.disconnect()


def test_recent_pages_are_capped_and_not_duplicated(desk):
    visitor, _ = services.visitor_identify(site=desk.site, token=None)
    pages = [{"url": f"https://shop.example.com/p{n}", "at": f"t{n}"} for n in range(30)]

    services.visitor_pages_record(visitor=visitor, pages=pages)
    services.visitor_pages_record(visitor=visitor, pages=pages[-5:])

    stored = Visitor.objects.get(pk=visitor.pk).recent_pages
    assert len(stored) == 20 and stored[-1]["url"] == "https://shop.example.com/p29"


async def test_another_agents_team_cannot_read_visitor_details(desk):
    outsider = await sync_to_async(make_agent)(teams=[await sync_to_async(make_team)()])
    visitor, _ = await open_visitor(desk.site)
    conversation_id = (await start_and_send(visitor, "Private", "c-1"))["conversation_id"]
    agent, _ = await open_agent(outsider)

    await agent.send_json_to({"type": "visitor.details", "conversation_id": conversation_id})

    assert (await receive_until(agent, "error"))["code"] == "not_found"
    await visitor.disconnect()
    await agent.disconnect()
