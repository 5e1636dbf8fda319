"""Helpers for the transport tests: runtimes that never really sleep, journal access, a warped clock."""

from __future__ import annotations

import threading
import time

import pytest
from relaykit import Runtime


class WarpClock:
    """Monotonic time running `speed` times faster than real time; `sleep` records and returns at once.

    Rate-limit buckets and deadlines see plenty of (simulated) time pass, while the test never
    waits: a backfill limited to 100 requests per second runs at whatever speed the machine allows.
    """

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self.origin = time.monotonic()
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.origin + (time.monotonic() - self.origin) * self.speed

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)


def make_runtime(speed: float = 1.0, **kw) -> Runtime:
    clock = WarpClock(speed)
    runtime = Runtime(clock=clock, sleep=clock.sleep, **kw)
    runtime.waits = clock.waits  # type: ignore[attr-defined]
    return runtime


@pytest.fixture
def make_rt():
    """Build runtimes (`make_rt(speed=..., **Runtime kwargs)`), closed after the test."""
    made = []

    def factory(speed: float = 1.0, **kw) -> Runtime:
        made.append(make_runtime(speed, **kw))
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
