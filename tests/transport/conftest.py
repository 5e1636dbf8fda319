"""Helpers for the transport tests: runtimes that never really sleep, journal access, a warped clock."""

from __future__ import annotations

import pytest
from relaykit import Runtime
from transport_helpers import make_runtime


@pytest.fixture
def make_rt():
    """Build runtimes (`make_rt(speed=..., **Runtime kwargs)`), closed after the test."""
    made = []

    def factory(speed: float = 1.0, advance: bool = True, **kw) -> Runtime:
        made.append(make_runtime(speed, advance, **kw))
        return made[-1]

    yield factory
    for runtime in made:
        runtime.close()


@pytest.fixture
def rt_fast():
    """A runtime whose backoff and rate-limit waits are recorded in `rt_fast.waits`, never slept."""
    runtime = make_runtime()
    yield runtime
    runtime.close()


def api_entries(sandbox, connector=None):
    """The sandbox's journal of API requests (inspection calls are never journaled)."""
    return [e for e in sandbox.journal() if connector is None or e["connector"] == connector]
