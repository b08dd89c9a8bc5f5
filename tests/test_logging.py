"""Structured logs: each line names its request, or its socket and conversation.

In-process through the filter and formatters that `settings.LOGGING` configures, and on
a real Daphne node started with LOG_FORMAT=json, whose output is read back line by line.
"""

import io
import json
import logging
import re
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test import Client
from websockets.sync.client import connect

from config.logging import ContextFilter, JsonFormatter, TextFormatter, log_context
from tests.chat.factories import ORIGIN, make_site
from tests.chat.sockets import open_visitor, receive_until
from tests.servers import Node, daphne_nodes, database_url, delete_redis_keys, free_port, node_environment

HEX_ID = re.compile(r"[0-9a-f]{32}")
NODE_LOG_TIMEOUT = 15.0
BAD_IDENTITY = {"id": "customer-1", "signature": "not-the-signature"}
BAD_IDENTITY_WARNING = "Rejected a customer identity with a bad signature"

Lines = Callable[[], list[dict]]


@pytest.fixture
def json_log() -> Iterator[Lines]:
    """Everything logged during the test, as the JSON objects production would write."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


@pytest.fixture
def request_lines(settings) -> None:
    settings.LOG_REQUESTS = True


def having(lines: list[dict], **fields: object) -> list[dict]:
    return [line for line in lines if all(line.get(key) == value for key, value in fields.items())]


# --- HTTP ----------------------------------------------------------------------------------


def test_request_is_logged_with_the_id_it_came_with(json_log: Lines, request_lines: None) -> None:
    response = Client().get("/healthz", headers={"X-Request-ID": "lb-7f3a-42"})

    assert response["X-Request-ID"] == "lb-7f3a-42"
    [line] = having(json_log(), logger="helpdesk.request")
    assert line["request_id"] == "lb-7f3a-42"
    assert line["message"] == "GET /healthz 200"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)
    assert line["level"] == "INFO" and isinstance(line["duration_ms"], float)


@pytest.mark.parametrize("header", [None, "two words", "x" * 129, 'quote"and{brace}'])
def test_missing_or_unsafe_request_id_is_replaced_by_a_new_one(
    json_log: Lines, request_lines: None, header: str | None
) -> None:
    headers = {"X-Request-ID": header} if header is not None else {}

    response = Client().get("/healthz", headers=headers)

    assert HEX_ID.fullmatch(response["X-Request-ID"])
    [line] = having(json_log(), logger="helpdesk.request")
    assert line["request_id"] == response["X-Request-ID"]


def test_lines_written_while_handling_a_request_carry_its_id(json_log: Lines) -> None:
    response = Client().post("/healthz", headers={"X-Request-ID": "req-405"})

    assert response.status_code == 405
    [warning] = having(json_log(), logger="django.request", level="WARNING")
    assert warning["message"] == "Method Not Allowed (POST): /healthz"
    assert warning["request_id"] == "req-405"


def test_requests_are_not_logged_when_log_requests_is_off(json_log: Lines, settings) -> None:
    settings.LOG_REQUESTS = False

    response = Client().get("/healthz", headers={"X-Request-ID": "quiet-1"})

    assert response["X-Request-ID"] == "quiet-1"
    assert having(json_log(), logger="helpdesk.request") == []


# --- Sockets -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_socket_lines_name_the_socket_and_the_frames_conversation(json_log: Lines, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="chat.consumers.base")
    site = await sync_to_async(make_site)()
    visitor, _ = await open_visitor(site, identity=BAD_IDENTITY)
    try:
        await visitor.send_json_to({"type": "conversation.start"})
        conversation_id = (await receive_until(visitor, "conversation.updated"))["conversation"]["id"]
        await visitor.send_json_to({"type": "typing", "conversation_id": conversation_id})
        await visitor.send_json_to({"type": "sync", "conversation_id": conversation_id, "after_seq": 0})
        await receive_until(visitor, "sync.result")
    finally:
        await visitor.disconnect()

    lines = json_log()
    # Logged by a service, in the database thread: the context travelled with the call.
    [warning] = [line for line in lines if line["message"].startswith(BAD_IDENTITY_WARNING)]
    socket_id = warning["socket_id"]
    assert socket_id and "conversation_id" not in warning
    frames = having(lines, logger="chat.consumers.base", level="DEBUG")
    assert [(line["message"], line.get("conversation_id")) for line in frames] == [
        ("Frame hello", None),
        ("Frame conversation.start", None),
        ("Frame typing", conversation_id),
        ("Frame sync", conversation_id),
    ]
    assert {line["socket_id"] for line in frames} == {socket_id}


# --- Formatters ----------------------------------------------------------------------------


def record_with_exception() -> logging.LogRecord:
    try:
        raise ValueError("broken frame")
    except ValueError:
        return logging.getLogger("chat.test").makeRecord(
            "chat.test", logging.ERROR, __file__, 1, "Failed %s", ("x",), exc_info=sys.exc_info()
        )


def test_json_lines_hold_ids_extras_and_the_traceback_on_one_line() -> None:
    with log_context(socket_id="specific.abc!def", conversation_id=12):
        record = record_with_exception()
        ContextFilter().filter(record)
    record.attempt = 3

    text = JsonFormatter().format(record)

    assert "\n" not in text
    line = json.loads(text)
    assert line["message"] == "Failed x" and line["level"] == "ERROR" and line["logger"] == "chat.test"
    assert (line["socket_id"], line["conversation_id"], line["attempt"]) == ("specific.abc!def", 12, 3)
    assert "request_id" not in line
    assert line["exc_info"].endswith("ValueError: broken frame")


def test_text_lines_show_the_ids_that_are_set() -> None:
    with log_context(request_id="r-1"):
        record = logging.makeLogRecord({"name": "x", "levelno": logging.INFO, "levelname": "INFO", "msg": "hi"})
        ContextFilter().filter(record)

    assert TextFormatter().format(record).endswith("INFO x [request_id=r-1] hi")


# --- A real Daphne node ----------------------------------------------------------------------


def node_lines(node: Node, match: Callable[[dict], bool]) -> list[dict]:
    """The node's JSON log lines for which `match` is true, waiting for at least one."""
    deadline = time.monotonic() + NODE_LOG_TIMEOUT
    while True:
        lines = [json.loads(text) for text in node.log().splitlines() if text.startswith("{")]
        found = [line for line in lines if match(line)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


@pytest.mark.realstack
@pytest.mark.django_db(transaction=True)
def test_daphne_node_writes_json_lines_with_request_and_socket_ids(
    request: pytest.FixtureRequest, postgres: None, redis_url: str
) -> None:
    site = make_site()
    prefix = f"logs{free_port()}"
    env = node_environment(
        database_url=database_url(connection.settings_dict),
        redis_url=redis_url,
        channel_prefix=prefix,
        extra={"LOG_FORMAT": "json", "LOG_REQUESTS": "1"},
    )
    try:
        with daphne_nodes(["a"], env) as [node]:
            request.node.realstack_nodes = [node]
            http_request = urllib.request.Request(f"{node.origin}/healthz", headers={"X-Request-ID": "node-req-1"})
            with urllib.request.urlopen(http_request, timeout=NODE_LOG_TIMEOUT) as response:
                assert response.headers["X-Request-ID"] == "node-req-1"
            with connect(
                node.ws_url(f"/ws/visitor/{site.key}/"), origin=ORIGIN, open_timeout=NODE_LOG_TIMEOUT
            ) as socket:
                socket.send(json.dumps({"type": "hello", "identity": BAD_IDENTITY}))
                assert json.loads(socket.recv(timeout=NODE_LOG_TIMEOUT))["type"] == "welcome"

            [request_line] = node_lines(node, lambda line: line.get("logger") == "helpdesk.request")
            assert request_line["request_id"] == "node-req-1" and request_line["status"] == 200
            [warning] = node_lines(node, lambda line: line["message"].startswith(BAD_IDENTITY_WARNING))
            assert warning["level"] == "WARNING" and warning["socket_id"]
            # Daphne's own lines go through the same formatter.
            assert node_lines(node, lambda line: line.get("logger", "").startswith("daphne"))
    finally:
        delete_redis_keys(redis_url, prefix)
