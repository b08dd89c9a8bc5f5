"""Browser tests' shared set-up: a real Daphne server with its own database, and Chromium.

Headless Chromium (Playwright's sync API) drives the pages; the server is the real ASGI
stack, `daphne config.asgi:application`, in a subprocess: pytest-django's `live_server`
is WSGI-only and has no WebSockets.

Where the server gets its data. The Daphne process cannot see pytest-django's test
database in the embedded mode: for SQLite that is an in-memory database (Django names
it `file:memorydb_default?mode=memory&cache=shared`), private to the pytest process,
and `ChannelsLiveServerTestCase` refuses to run on one for that reason. So these tests
bring their own database and use it only through subprocesses started with the
server's environment, the same way in both modes:

1. a fresh database: a file under pytest's tmp_path (SQLITE_PATH) in the embedded
   mode, or `<name>_browser_<random>` created next to DATABASE_URL's when PostgreSQL
   is configured;
2. `manage.py migrate` into it;
3. Daphne on a free port (tests/servers.py starts, waits for and stops it);
4. the test module's `seed(origin)` creates the scenario's data with the usual
   factories, run in a subprocess once the port (hence the site's allowed origin) is
   known. A test reads or changes data later the same way, with `ChatServer.call`.

Nothing depends on pytest-django's database or on which tests ran before. When
REDIS_URL is set the server uses Redis under a channel prefix of its own, removed at
the end; the PostgreSQL database is dropped. The server runs with DJANGO_DEBUG=1 so
WhiteNoise serves the widget and console scripts from the source folders without
collectstatic. Its output is printed at teardown, which pytest shows when a test fails.
"""

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Expect, Locator, Page, sync_playwright

from tests.servers import PROJECT_ROOT, daphne_nodes, delete_redis_keys

SUBPROCESS_TIMEOUT = 120
# Generous, for a loaded CI machine; a module-local `expect` leaves Playwright's global alone.
TIMEOUT_MS = 20_000
expect = Expect()
expect.set_options(timeout=TIMEOUT_MS)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


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


@dataclass
class ChatServer:
    url: str
    env: dict[str, str]  # the server's environment: its database, channel prefix, settings
    data: dict[str, Any]  # what the module's seed() returned

    @property
    def agent_email(self) -> str:
        return self.data["agent_email"]

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """`function(*args)` in a subprocess on the server's database; returns its JSON-able result.

        `function` must be importable by name from its module; `args` must be Python literals.
        """
        code = (
            "import json, django; django.setup(); "
            f"from {function.__module__} import {function.__name__} as f; "
            f"print(json.dumps(f(*{args!r})))"
        )
        output = _run(["-c", code], self.env)
        return json.loads(output.strip().splitlines()[-1])


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
def chat_server(
    request: pytest.FixtureRequest, chromium_path: str, browser_database: dict[str, str]
) -> Iterator[ChatServer]:
    """Daphne serving the project on a free port, with the test module's `seed(origin)` data."""
    seed = request.module.seed
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
                server = ChatServer(url=node.origin, env=env, data={})
                server.data = server.call(seed, node.origin)
                yield server
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


@pytest.fixture
def page_origin() -> Iterator[Callable[[Path], str]]:
    """`serve(directory)` -> the origin of a plain HTTP server on a free local port serving it:
    a customer's website on an origin of its own, embedding the widget by absolute URL."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    servers: list[ThreadingHTTPServer] = []

    def serve(directory: Path) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    try:
        yield serve
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def watch_errors(page: Page, errors: list[str]) -> Page:
    """Collect the page's uncaught JavaScript errors into `errors` (tests assert none)."""
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    return page


def ask_from_widget(page: Page, server_url: str, topic_slug: str, question: str) -> Locator:
    """On the demo shop, open the widget, pick the topic and ask: returns the widget once the
    question shows as sent (it has a seq)."""
    page.goto(f"{server_url}/demo/")
    widget = page.locator("#helpdesk-widget")  # Playwright's CSS pierces the open shadow root
    widget.locator(".hd-bubble").click()
    expect(widget.locator(f"select[name=topic] option[value={topic_slug}]")).to_have_count(1)
    widget.locator("select[name=topic]").select_option(topic_slug)
    widget.locator("textarea[name=body]").fill(question)
    widget.locator("button.hd-send").click()
    expect(widget.locator(".hd-messages .hd-msg--visitor[data-seq]")).to_contain_text(question)
    return widget


def log_in_to_console(context: BrowserContext, chat_server: ChatServer, password: str, errors: list[str]) -> Page:
    """A new page of `context` on the console: sent to the login form, logged in as the seeded
    agent, back on the console with its socket connected."""
    console = watch_errors(context.new_page(), errors)
    console.goto(f"{chat_server.url}/console/")
    expect(console).to_have_url(re.compile(r"/accounts/login/"))
    console.locator("input[name=username]").fill(chat_server.agent_email)
    console.locator("input[name=password]").fill(password)
    console.locator("button[type=submit]").click()
    expect(console).to_have_url(re.compile(r"/console/$"))
    expect(console.locator("#connection-status")).to_have_text("Connected")
    return console
