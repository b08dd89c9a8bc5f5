"""DEBUG=False defaults: secure behind a TLS proxy, loud when something required is missing.

Settings are read once, at import, from the environment; each case runs Django in a
subprocess with exactly the environment it names (nothing inherited from this test
run's DATABASE_URL or DJANGO_* variables), as a production process would start.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SUBPROCESS_TIMEOUT = 120

PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "chat.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://chat.example.com",
    "PUBLIC_URL": "https://chat.example.com",
    "DATABASE_URL": "postgres://helpdesk@db.internal:5432/helpdesk",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "DJANGO_SECURE_HSTS_PRELOAD": "1",
}
SETTINGS_SHOWN = [
    "DEBUG",
    "ALLOWED_HOSTS",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "LOG_FORMAT",
    "LOG_REQUESTS",
]
SHOW_SETTINGS = f"""
import json, django
django.setup()
from django.conf import settings
print(json.dumps({{name: getattr(settings, name, None) for name in {SETTINGS_SHOWN!r}}}))
"""


def run_django(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python ARGS` in the project with only `env` on top of a clean environment."""
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SECURE_", "LOG_")) and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )


def settings_with(env: dict[str, str]) -> dict:
    result = run_django(["-c", SHOW_SETTINGS], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_django(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)


def test_production_environment_passes_check_deploy() -> None:
    result = check_deploy(PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert "no issues (0 silenced)" in result.stdout


def test_debug_off_without_a_secret_key_refuses_to_start() -> None:
    env = {key: value for key, value in PRODUCTION.items() if key != "DJANGO_SECRET_KEY"}

    result = check_deploy(env)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off." in result.stderr


def test_debug_off_defaults_are_secure_behind_a_tls_proxy() -> None:
    shown = settings_with({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": PRODUCTION["DJANGO_SECRET_KEY"]})

    assert shown == {
        "DEBUG": False,
        # No hosts named: every request is refused, not answered for localhost.
        "ALLOWED_HOSTS": [],
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 3600,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "LOG_FORMAT": "json",
        "LOG_REQUESTS": True,
    }


def test_check_deploy_names_what_a_bare_production_environment_still_lacks() -> None:
    result = check_deploy({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": PRODUCTION["DJANGO_SECRET_KEY"]})

    assert result.returncode != 0
    for check in ("security.W020", "security.W005", "security.W021"):  # hosts, HSTS subdomains, preload
        assert check in result.stderr


def test_each_proxy_default_can_be_turned_off_for_plain_http() -> None:
    shown = settings_with(
        {
            **PRODUCTION,
            "DJANGO_SECURE_PROXY_SSL_HEADER": "0",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_SESSION_COOKIE_SECURE": "0",
            "DJANGO_CSRF_COOKIE_SECURE": "0",
            "DJANGO_SECURE_HSTS_SECONDS": "0",
            "LOG_FORMAT": "text",
        }
    )

    assert shown["SECURE_PROXY_SSL_HEADER"] is None
    assert not shown["SECURE_SSL_REDIRECT"] and not shown["SECURE_HSTS_SECONDS"]
    assert not shown["SESSION_COOKIE_SECURE"] and not shown["CSRF_COOKIE_SECURE"]
    assert shown["LOG_FORMAT"] == "text" and shown["ALLOWED_HOSTS"] == ["chat.example.com"]


def test_make_run_needs_no_variables_and_keeps_plain_http() -> None:
    shown = settings_with({})

    assert shown["DEBUG"] is True
    assert shown["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost", "testserver"]
    assert not shown["SECURE_SSL_REDIRECT"] and not shown["SESSION_COOKIE_SECURE"]
    assert shown["SECURE_PROXY_SSL_HEADER"] is None and shown["SECURE_HSTS_SECONDS"] == 0
    assert shown["LOG_FORMAT"] == "text" and shown["LOG_REQUESTS"] is False


def test_unknown_log_format_stops_the_process_with_a_clear_error() -> None:
    result = run_django(["-c", SHOW_SETTINGS], {"LOG_FORMAT": "xml"})

    assert result.returncode != 0
    assert "LOG_FORMAT must be 'json' or 'text', not 'xml'." in result.stderr
