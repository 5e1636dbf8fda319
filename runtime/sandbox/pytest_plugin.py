"""Opt-in pytest fixtures: `cio_sandbox` (one server per session) and `sandbox` (reset before each test).

Enable with `pytest_plugins = ["relaykit.sandbox.pytest_plugin"]` in a conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .runner import Sandbox


@pytest.fixture(scope="session")
def cio_sandbox() -> Iterator[Sandbox]:
    """A sandbox shared by the whole session (rate limits off, no faults)."""
    with Sandbox(seed=0, processing_delay=0.0) as sb:
        yield sb


@pytest.fixture
def sandbox(cio_sandbox: Sandbox) -> Iterator[Sandbox]:
    """The session sandbox, reset to a fresh workspace with faults and rate limits off."""
    cio_sandbox.set_faults(None)
    cio_sandbox.set_rate_limits(False)
    cio_sandbox.reset()
    yield cio_sandbox
