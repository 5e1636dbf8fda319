"""Shared by the transport tests: a warped clock and runtimes that never really sleep."""

from __future__ import annotations

import threading
import time

from relaykit import Runtime


class WarpClock:
    """Monotonic time running `speed` times faster than real time; `sleep` records and returns at once.

    Rate-limit buckets and deadlines see plenty of (simulated) time pass, while the test never
    waits: a backfill limited to 100 requests per second runs at whatever speed the machine allows.
    With `advance=True` a sleep also moves the clock on by its length (exact for one thread; with
    many threads the sleeps would add up, so concurrent tests leave it off).
    """

    def __init__(self, speed: float = 1.0, advance: bool = True) -> None:
        self.speed = speed
        self.advance = advance
        self.origin = time.monotonic()
        self.offset = 0.0
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.origin + (time.monotonic() - self.origin) * self.speed + self.offset

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
            if self.advance:
                self.offset += seconds


def make_runtime(speed: float = 1.0, advance: bool = True, **kw) -> Runtime:
    """A runtime on a `WarpClock`; its recorded waits are `runtime.waits`."""
    clock = WarpClock(speed, advance)
    runtime = Runtime(clock=clock, sleep=clock.sleep, **kw)
    runtime.waits = clock.waits  # type: ignore[attr-defined]
    return runtime
