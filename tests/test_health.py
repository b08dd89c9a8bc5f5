"""/healthz and /readyz: in-process in both modes, and on real Daphne nodes.

A node whose Redis is a closed port must answer /readyz with 503 naming redis (and the
channel layer, which runs on it) while /healthz stays 200: the load balancer stops
sending it sockets, nothing restarts it.
"""

import json
import urllib.error
import urllib.request

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from tests.servers import closed_redis_url, daphne_nodes, database_url, delete_redis_keys, free_port, node_environment

HTTP_TIMEOUT = 15.0


def test_healthz_answers_without_touching_the_database(client: Client) -> None:
    # No django_db mark: any query would fail the test.
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Content-Type"] == "application/json"


def test_probes_refuse_writes(client: Client) -> None:
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


@pytest.mark.django_db
def test_readyz_passes_every_check_of_this_mode(client: Client) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready"
    assert body["failed"] == []
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["channel_layer"] == "ok"
    expected_redis = "ok" if settings.REDIS_URL else "skipped (no REDIS_URL: embedded mode)"
    assert body["checks"]["redis"] == expected_redis


@pytest.mark.django_db
def test_readyz_on_the_real_stack_pings_redis_and_round_trips_the_redis_layer(
    client: Client, postgres: None, redis_url: str
) -> None:
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "chat.channel_layer.PipelinedRedisChannelLayer"

    body = client.get("/readyz").json()

    assert body["checks"] == {"database": "ok", "redis": "ok", "channel_layer": "ok"}


@pytest.mark.django_db
def test_readyz_names_redis_when_redis_is_unreachable(client: Client, settings) -> None:
    unreachable = closed_redis_url()
    settings.REDIS_URL = unreachable
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [unreachable]}}
    }

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["redis", "channel_layer"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "failed (ConnectionError)"
    # The answer names the check, not the address or the exception's text.
    assert unreachable.split("//")[1].split("/")[0] not in response.content.decode()


def test_probes_are_not_redirected_to_https_behind_the_proxy(client: Client, settings) -> None:
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200
    assert client.get("/demo/").status_code == 301


# --- Real Daphne nodes -------------------------------------------------------------------


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.realstack
@pytest.mark.django_db(transaction=True)
def test_daphne_nodes_report_ready_and_the_one_without_redis_does_not(
    request: pytest.FixtureRequest, postgres: None, redis_url: str
) -> None:
    prefix = f"readyz{free_port()}"
    env = node_environment(
        database_url=database_url(connection.settings_dict), redis_url=redis_url, channel_prefix=prefix
    )
    broken_env = {**env, "REDIS_URL": closed_redis_url()}
    try:
        with daphne_nodes(["a", "b"], env) as nodes, daphne_nodes(["no-redis"], broken_env) as broken_nodes:
            request.node.realstack_nodes = [*nodes, *broken_nodes]
            for node in nodes:
                assert get_json(f"{node.origin}/healthz") == (200, {"status": "ok"})
                status, body = get_json(f"{node.origin}/readyz")
                assert status == 200, body
                assert body["checks"] == {"database": "ok", "redis": "ok", "channel_layer": "ok"}

            broken = broken_nodes[0]
            assert get_json(f"{broken.origin}/healthz") == (200, {"status": "ok"})
            status, body = get_json(f"{broken.origin}/readyz")
            assert status == 503
            assert "redis" in body["failed"] and body["checks"]["database"] == "ok"
    finally:
        delete_redis_keys(redis_url, prefix)
