"""Hostile-input tests reuse the chat tests' desk (a site, a topic, two agents of its team)
and the browser tests' Daphne server and Chromium."""

from hypothesis import HealthCheck, settings

from tests.browser.conftest import browser, browser_database, chat_server, page_origin
from tests.chat.conftest import Desk, desk

__all__ = ["Desk", "browser", "browser_database", "chat_server", "desk", "page_origin"]

# The fuzz tests' base settings: no deadline (a socket round trip on a loaded CI machine varies),
# no example database written into the checkout; each test sets its own modest max_examples.
settings.register_profile(
    "hostile",
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
