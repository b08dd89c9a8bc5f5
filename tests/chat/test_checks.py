"""`manage.py check --deploy` warns when email links would not reach the server."""

import pytest
from django.core import checks


def deploy_ids() -> set[str]:
    return {message.id for message in checks.run_checks(include_deployment_checks=True, tags=["security"])}


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "https://localhost", "http://chat.example.com"])
def test_a_local_or_plain_http_public_url_is_flagged_in_production(settings, url):
    settings.DEBUG = False
    settings.PUBLIC_URL = url

    assert "chat.W001" in deploy_ids()


def test_an_https_public_url_passes(settings):
    settings.DEBUG = False
    settings.PUBLIC_URL = "https://chat.example.com"

    assert "chat.W001" not in deploy_ids()
