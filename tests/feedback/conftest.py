# The chat tests' desk: a site with a topic served by a default team of two agents.
from ..chat.conftest import desk  # noqa: F401
