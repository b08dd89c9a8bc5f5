"""A visitor and an agent chat in real browsers, through a real Daphne server.

Headless Chromium (Playwright's sync API) drives two browser contexts: the visitor on
the demo shop with the widget, and the agent in the console. The server is the real
ASGI stack, `daphne config.asgi:application`, in a subprocess: pytest-django's
`live_server` is WSGI-only and has no WebSockets.

Where the server gets its data. The Daphne process cannot see pytest-django's test
database in the embedded mode: for SQLite that is an in-memory database (Django names
it `file:memorydb_default?mode=memory&cache=shared`), private to the pytest process,
and `ChannelsLiveServerTestCase` refuses to run on one for that reason. So this test
brings its own database and uses it only through subprocesses started with the
server's environment, the same way in both modes:

1. a fresh database: a file under pytest's tmp_path (SQLITE_PATH) in the embedded
   mode, or `<name>_browser_<random>` created next to DATABASE_URL's when PostgreSQL
   is configured;
2. `manage.py migrate` into it;
3. Daphne on a free port (tests/realstack/servers.py starts, waits for and stops it);
4. `seed()` below, run as `python -c`, creates the site, topic, team and agent with the
   usual factories, once the port (hence the site's allowed origin) is known.

Nothing depends on pytest-django's database or on which tests ran before. When
REDIS_URL is set the server uses Redis under a channel prefix of its own, removed at
the end; the PostgreSQL database is dropped. The server runs with DJANGO_DEBUG=1 so
WhiteNoise serves the widget and console scripts from the source folders without
collectstatic. Its output is printed at teardown, which pytest shows when the test fails.
"""

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Expect, Page, sync_playwright

from tests.servers import PROJECT_ROOT, daphne_nodes, delete_redis_keys

pytestmark = pytest.mark.browser

AGENT_NAME = "Alex Agent"
AGENT_PASSWORD = "browser-test-pass-2026"
TOPIC_SLUG = "returns"
TOPIC_NAME = "Returns"
QUESTION = "Hello, the jacket I ordered is too small. Can I exchange it?"
REPLY = "Hi! Yes, of course. Which size would you like instead?"
SUBPROCESS_TIMEOUT = 120
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Generous, for a loaded CI machine; a module-local `expect` leaves Playwright's global alone.
TIMEOUT_MS = 20_000
expect = Expect()
expect.set_options(timeout=TIMEOUT_MS)


def seed(origin: str) -> None:
    """Create the scenario's data; runs in a subprocess with the server's environment."""
    import django

    django.setup()

    from chat.models import Site
    from tests.agents.factories import make_agent, make_team
    from tests.chat.factories import make_topic

    # The demo page looks its site up by this name (chat.views.demo_shop).
    site = Site.objects.create(name="Demo Shop", allowed_origins=origin)
    topic = make_topic(site=site, slug=TOPIC_SLUG)
    team = make_team(topics=[topic], is_default=True)
    agent = make_agent(teams=[team], name=AGENT_NAME, password=AGENT_PASSWORD)
    print(json.dumps({"agent_email": agent.user.email}))


# --- The server ---------------------------------------------------------------------------


@dataclass
class ChatServer:
    url: str
    agent_email: str


def _run(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _postgres_admin_url(database_url: str) -> str:
    """The same server, connected to its maintenance database (the configured one may not exist)."""
    return urlsplit(database_url)._replace(path="/postgres").geturl()


@pytest.fixture
def browser_database(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment variables pointing a Django process at a fresh, empty database."""
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        yield {"SQLITE_PATH": str(tmp_path / "browser.sqlite3")}
        return

    import psycopg
    from psycopg import sql

    name = f"{urlsplit(database_url).path.lstrip('/') or 'helpdesk'}_browser_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_postgres_admin_url(database_url), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield {"DATABASE_URL": urlsplit(database_url)._replace(path=f"/{name}").geturl()}
    finally:
        with psycopg.connect(_postgres_admin_url(database_url), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def chat_server(chromium_path: str, browser_database: dict[str, str]) -> Iterator[ChatServer]:
    """Daphne serving the project on a free port, with the scenario's data in its own database."""
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "SQLITE_PATH"}}
    channel_prefix = f"browser-{uuid.uuid4().hex[:10]}"
    env.update(browser_database)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_DEBUG": "1",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CHANNEL_PREFIX": channel_prefix,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
        }
    )
    _run(["manage.py", "migrate", "--noinput", "-v", "0"], env)
    try:
        with daphne_nodes(["browser"], env) as [node]:
            try:
                output = _run(["-c", f"from {__name__} import seed; seed({node.origin!r})"], env)
                data = json.loads(output.strip().splitlines()[-1])
                yield ChatServer(url=node.origin, agent_email=data["agent_email"])
            finally:
                print(node.describe())
    finally:
        if env.get("REDIS_URL"):
            delete_redis_keys(env["REDIS_URL"], channel_prefix)


@pytest.fixture
def browser(chromium_path: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _watch_errors(page: Page, errors: list[str]) -> Page:
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    return page


# --- The scenario -------------------------------------------------------------------------------


def test_visitor_and_agent_chat_through_widget_and_console(browser: Browser, chat_server: ChatServer) -> None:
    errors: list[str] = []
    visitor = browser.new_context(viewport={"width": 1280, "height": 800})
    agent = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        # Given a visitor on the shop who picks a topic and asks a question
        shop = _watch_errors(visitor.new_page(), errors)
        shop.goto(f"{chat_server.url}/demo/")
        widget = shop.locator("#helpdesk-widget")  # Playwright's CSS pierces the open shadow root
        widget.locator(".hd-bubble").click()
        expect(widget.locator(f"select[name=topic] option[value={TOPIC_SLUG}]")).to_have_count(1)
        widget.locator("select[name=topic]").select_option(TOPIC_SLUG)
        widget.locator("textarea[name=body]").fill(QUESTION)
        widget.locator("button.hd-send").click()
        expect(widget.locator(".hd-messages .hd-msg--visitor[data-seq]")).to_contain_text(QUESTION)

        # When an agent logs in, the chat waits in the queue with its R9 timer running
        console = _watch_errors(agent.new_page(), errors)
        console.goto(f"{chat_server.url}/console/")
        expect(console).to_have_url(re.compile(r"/accounts/login/"))
        console.locator("input[name=username]").fill(chat_server.agent_email)
        console.locator("input[name=password]").fill(AGENT_PASSWORD)
        console.locator("button[type=submit]").click()
        expect(console).to_have_url(re.compile(r"/console/$"))
        expect(console.locator("#connection-status")).to_have_text("Connected")

        queued = console.locator("#queue li[data-conversation-id]")
        expect(queued).to_have_count(1)
        expect(queued).to_contain_text(TOPIC_NAME)
        expect(queued).to_contain_text(QUESTION)
        expect(queued.locator(".timer")).to_have_text(re.compile(r"^\d{2}:\d{2}$"))

        # And claims it: it moves to "My chats", still waiting for a reply, and opens
        queued.locator("button.claim").click()
        mine = console.locator("#chats li[data-conversation-id]")
        expect(mine).to_have_count(1)
        expect(console.locator("#queue li[data-conversation-id]")).to_have_count(0)
        expect(mine.locator(".timer")).to_have_text(re.compile(r"^\d{2}:\d{2}$"))
        expect(console.locator("#transcript .msg--visitor")).to_contain_text(QUESTION)
        expect(console.locator("#customer")).to_contain_text("Anonymous visitor")

        # And replies from the keyboard
        composer = console.locator("#composer textarea[name=body]")
        expect(composer).to_be_focused()
        composer.fill(REPLY)
        composer.press("Enter")
        expect(console.locator("#transcript .msg--agent[data-seq]")).to_contain_text(REPLY)
        expect(console.locator("#transcript .msg--pending")).to_have_count(0)
        expect(composer).to_have_value("")
        expect(composer).to_be_focused()

        # Then the customer is answered: the console stops the timer
        expect(mine.locator(".timer")).to_have_count(0)

        # And the visitor sees the agent join and the reply
        expect(widget.locator(".hd-messages .hd-msg--system")).to_contain_text(f"{AGENT_NAME} joined")
        expect(widget.locator(".hd-messages .hd-msg--agent")).to_contain_text(REPLY)

        # And after a reload the widget shows the whole conversation again, in order
        shop.reload()
        widget.locator(".hd-bubble").click()
        shown = widget.locator(".hd-messages .hd-msg[data-seq]")
        expect(shown).to_have_count(3)
        expect(shown.nth(0)).to_contain_text(QUESTION)
        expect(shown.nth(1)).to_contain_text(f"{AGENT_NAME} joined")
        expect(shown.nth(2)).to_contain_text(REPLY)
        assert [shown.nth(i).get_attribute("data-seq") for i in range(3)] == ["1", "2", "3"]

        assert errors == []
    finally:
        visitor.close()
        agent.close()
