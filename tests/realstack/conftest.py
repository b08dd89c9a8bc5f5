"""Shows the output of the Daphne nodes under a failed real-stack test."""

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    nodes = getattr(item, "realstack_nodes", None)
    if nodes and report.failed:
        for node in nodes:
            report.sections.append((f"Daphne node {node.name} (port {node.port}) output", node.log()))
    return report
