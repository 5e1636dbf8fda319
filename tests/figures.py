"""Figures a test wants to show (throughput, peaks, counts): collected here, printed once in the terminal summary.

A test asks for the `figures` fixture and calls `figures.add("R1", "...")`; nothing is printed between the
progress dots, and the figures appear under their own heading at the end of the run (also with `-q`).
"""

from __future__ import annotations

from typing import Any

import pytest

_COLLECTED: list[tuple[str, str, str]] = []  # (label, test id, text), in the order the tests ran


class Figures:
    """What one test reports; bound to the test so the summary can say which test measured it."""

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid

    def add(self, label: str, text: str) -> None:
        _COLLECTED.append((label, self.nodeid, text))


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    return Figures(request.node.nodeid)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _COLLECTED:
        return
    terminalreporter.write_sep("-", "relaykit figures")
    for label, nodeid, text in _COLLECTED:
        terminalreporter.write_line(f"{label}: {text}  [{nodeid}]")
