"""Files in a real browser: the visitor's image shows inline in the console, the agent's
PDF is a link in the widget that downloads, and a refused file says why in the widget
without losing what the visitor typed."""

import io
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser

from tests.browser.conftest import ChatServer, ask_from_widget, expect, log_in_to_console, watch_errors

pytestmark = pytest.mark.browser

AGENT_PASSWORD = "browser-test-pass-2026"
TOPIC_SLUG = "returns"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def seed(origin: str) -> dict[str, str]:
    from chat.models import Site
    from tests.agents.factories import make_agent, make_team
    from tests.chat.factories import make_topic

    site = Site.objects.create(name="Demo Shop", allowed_origins=origin)
    topic = make_topic(site=site, slug=TOPIC_SLUG)
    agent = make_agent(teams=[make_team(topics=[topic], is_default=True)], name="Alex", password=AGENT_PASSWORD)
    return {"agent_email": agent.user.email}


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_files_both_ways_and_a_refused_one(browser: Browser, chat_server: ChatServer) -> None:
    errors: list[str] = []
    visitor = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    agent = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        shop = watch_errors(visitor.new_page(), errors)
        widget = ask_from_widget(shop, chat_server.url, TOPIC_SLUG, "Can I send you a photo of the damage?")
        console = log_in_to_console(agent, chat_server, AGENT_PASSWORD, errors)
        console.locator("#queue li[data-conversation-id] button.claim").click()
        expect(console.locator("#chats li[data-conversation-id]")).to_have_count(1)

        # A refused file: the reason shows in the widget, and the typed text stays
        draft = widget.locator("textarea[name=body]")
        draft.fill("Half-written sentence")
        file_input = widget.locator(".hd-form input[type=file]")
        file_input.set_input_files({"name": "setup.exe", "mimeType": "image/png", "buffer": b"MZ\x90\x00binary"})
        expect(widget.locator(".hd-error")).to_contain_text("setup.exe was not sent")
        expect(widget.locator(".hd-error")).to_contain_text("application/octet-stream")
        expect(draft).to_have_value("Half-written sentence")
        expect(widget.locator(".hd-msg--pending")).to_have_count(0)

        # The visitor's image shows inline in the widget and, live, in the console
        file_input.set_input_files({"name": "damage.png", "mimeType": "image/png", "buffer": png()})
        expect(widget.locator(".hd-msg--visitor[data-seq] img.hd-img")).to_have_attribute("alt", "damage.png")
        console_image = console.locator("#transcript .msg--visitor img.msg-file-img")
        expect(console_image).to_have_attribute("alt", "damage.png")
        loaded = "() => document.querySelector('#transcript img.msg-file-img')?.naturalWidth === 40"
        console.wait_for_function(loaded)
        expect(draft).to_have_value("Half-written sentence")

        # The agent's PDF is a link in the widget that downloads under its name
        console.locator("#attach-input").set_input_files(
            {"name": "returns-guide.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )
        expect(console.locator("#transcript .msg--agent[data-seq] a.msg-file")).to_contain_text("returns-guide.pdf")
        link = widget.locator(".hd-msg--agent a.hd-file")
        expect(link).to_contain_text("returns-guide.pdf")
        with shop.expect_download() as download_info:
            link.click()
        download = download_info.value
        assert download.suggested_filename == "returns-guide.pdf"
        assert Path(download.path()).read_bytes() == PDF
        assert errors == []
    finally:
        visitor.close()
        agent.close()
