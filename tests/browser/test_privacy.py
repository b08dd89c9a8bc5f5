"""R4 in a real browser: a superuser exports, then erases, a person's data from the admin."""

import json

import pytest

from chat import services
from chat.privacy import (
    ERASED,
)

from .conftest import browser, browser_database, chat_server, expect, watch_errors  # noqa: F401  (fixtures)

EMAIL = "Anna@Example.com"


BOSS_PASSWORD = "privacy-browser-pass-2026"
BROWSER_WORDS = "My address is 5 Oak Street, Anna Berg"


def seed(origin: str) -> dict[str, object]:
    """For the browser test (tests/browser/conftest.py runs it in the server's database): a
    superuser and a visitor with a chat that holds an address."""
    from django.contrib.auth import get_user_model

    from tests.agents.factories import make_agent, make_team
    from tests.chat.factories import make_site, make_topic, make_visitor

    site = make_site(origins=origin)
    topic = make_topic(site=site)
    agent = make_agent(teams=[make_team(topics=[topic], is_default=True)])
    get_user_model().objects.create_superuser(username="boss", email="boss@example.com", password=BOSS_PASSWORD)
    visitor, _ = make_visitor(site=site)
    services.visitor_contact_set(visitor=visitor, email=EMAIL, purpose="offline")
    conversation = services.conversation_start(visitor=visitor, topic_slug=topic.slug)
    services.message_post(conversation_id=conversation.pk, author=visitor, body=BROWSER_WORDS, client_id="b-1")
    return {"agent_email": agent.user.email, "conversation_id": conversation.pk}


@pytest.mark.browser
def test_a_superuser_exports_then_erases_a_person_in_a_real_browser(chat_server, browser, tmp_path):  # noqa: F811
    page = browser.new_page()
    errors: list[str] = []
    watch_errors(page, errors)
    page.goto(f"{chat_server.url}/admin/login/")
    page.locator("input[name=username]").fill("boss")
    page.locator("input[name=password]").fill(BOSS_PASSWORD)
    page.locator("input[type=submit]").click()

    # from the admin index to the log, then the tool
    page.get_by_role("link", name="Personal data actions").first.click()
    page.get_by_role("link", name="Export or erase personal data").click()
    page.locator("input[name=subject]").fill("anna@example.COM")
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#content-main h2")).to_have_text("1 visitor found")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download JSON export").click()
    path = tmp_path / "export.json"
    download.value.save_as(path)
    exported = json.loads(path.read_text())
    assert exported["visitors"][0]["conversations"][0]["messages"][0]["body"] == BROWSER_WORDS

    page.get_by_role("button", name="Erase…").click()
    page.get_by_role("button", name="Yes, erase").click()
    expect(page.locator(".messagelist")).to_contain_text("Erased the personal data of 1 visitor(s)")

    page.goto(f"{chat_server.url}/admin/chat/conversation/{chat_server.data['conversation_id']}/change/")
    expect(page.locator("#content-main")).to_contain_text(ERASED)
    assert "Oak Street" not in page.content()
    assert errors == []
