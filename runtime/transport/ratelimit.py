"""Client-side rate limits: strict sliding windows per (credential fingerprint, API class), kept in a store.

A declared limit "N per T seconds" promises that no window of T seconds *at the server* sees more
than N requests. A token bucket does not keep that promise (a full bucket lets N through, then
refills N more within the same T), so each request instead holds a **place**: from the moment it
is allowed to start until T seconds after its answer came back, or its attempt failed. At most N
places are held at any moment. The server sees a request somewhere between its start and its
answer, so if N + 1 arrivals fell in one window, at the last of them all N + 1 would still hold a
place: impossible, whatever the latency and its jitter. Counting from the answer costs one
round trip per T (N / (T + latency) instead of N / T; about 99% on loopback).

A store keeps the places: `MemoryStore` for one process (the default), `relaykit.transport.ratelimit_redis`
for processes and machines sharing a credential. Both give the same answers. Written here rather
than taken from a library because the store must (a) run on an injected clock, so tests never
sleep, (b) say how long a caller would wait *before* it waits and take nothing when that is too
long, so a wait beyond the deadline is `RateLimitError(retry_after=...)` at once, (c) book a start
in the future, and (d) be paused by a server's 429. The moving windows of `limits` count the moment
of acquisition (so latency jitter lets N + 1 reach the server) and cannot book ahead.
"""

from __future__ import annotations

import bisect
import math
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..specs.models import RateLimit

RELEASE_POLL = 0.05
"""Longest real-time wait in `wait_for_release` before the caller asks again (lost wake-ups, other processes)."""


@dataclass(frozen=True)
class Window:
    """At most `requests` requests in any window of `seconds` seconds."""

    requests: int
    seconds: float


@lru_cache(maxsize=256)
def windows_for(limit: RateLimit) -> tuple[Window, ...]:
    """The windows a declaration stands for: `requests` per `per`, and its `burst` if it declares one.

    `burst: B` is B requests in `per * B / requests` seconds (the same long-run rate). Above
    `requests` it allows a bigger burst than the plain window, so it replaces it; below, it spreads
    the requests out, and both windows hold.
    """
    plain = Window(limit.requests, limit.per)
    if limit.burst is None or limit.burst == limit.requests:
        return (plain,)
    burst = Window(limit.burst, limit.per * limit.burst / limit.requests)
    return (burst,) if limit.burst > limit.requests else (plain, burst)


@dataclass(frozen=True)
class Decision:
    """A store's answer: a place (`lease`) to use after `wait` seconds, or none.

    Without a lease, `wait` is how long until a place could be had (the honest `retry_after`);
    `busy` means every place is held by a call still in flight, so `wait` is only a lower bound:
    ask again after a release.
    """

    lease: str | None
    wait: float
    busy: bool = False


class LimiterStore(Protocol):
    """Where places are kept; keys are `"<credential fingerprint>:<API class>"`."""

    def acquire(self, key: str, windows: Sequence[Window], *, max_wait: float | None, hold: float) -> Decision:
        """Book the earliest start that keeps every window, unless it is more than `max_wait` away.

        `hold`: seconds after its start by which the attempt surely ended (connect + read
        timeouts); a lease its caller never released counts as answered then.
        """
        ...

    def release(self, key: str, lease: str) -> None:
        """The lease's attempt ended (answered or failed): its place frees `seconds` from now."""
        ...

    def pause(self, key: str, seconds: float) -> None:
        """A 429: nobody sharing the key starts for `seconds`."""
        ...

    def wait_for_release(self, key: str, timeout: float) -> None:
        """Block (real time, at most `timeout` and `RELEASE_POLL`) until a lease of `key` may have been released."""
        ...


def new_lease() -> str:
    """A lease id: random, so stores shared by many processes never hand out the same one twice."""
    return os.urandom(8).hex()


@dataclass
class _Places:
    done: list[float] = field(default_factory=list)  # when each recent attempt ended, ascending
    held: dict[str, tuple[float, float]] = field(default_factory=dict)  # lease -> (start, expiry)
    paused_until: float = -math.inf
    horizon: float = 0.0  # the longest window seen: older ends no longer matter


def book(now: float, paused_until: float, windows: Sequence[Window], held_starts: Sequence[float],
         done_from_newest: Callable[[int], float | None]) -> tuple[float, float | None]:
    """The earliest start keeping every window, and a lower bound instead when every place is in flight.

    Returns `(start, busy_from)`; `busy_from` is None unless some window has all its places held.
    `done_from_newest(i)` is the end time of the i-th most recent ended attempt (0-based), or None.
    The Redis script computes the same thing in Lua.
    """
    start = max(now, paused_until)
    busy_from: float | None = None
    held = len(held_starts)
    for window in windows:
        if held >= window.requests:
            lower = max(now, min(held_starts)) + window.seconds
            busy_from = lower if busy_from is None else max(busy_from, lower)
            continue
        # at most requests - 1 - held attempts may have ended within the window before the start
        end = done_from_newest(window.requests - 1 - held)
        if end is not None:
            start = max(start, end + window.seconds)
    return start, busy_from


class MemoryStore:
    """The places of one process, shared by every thread of a `Runtime`, on its (injectable) clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._keys: dict[str, _Places] = {}
        self._cond = threading.Condition()

    def _places(self, key: str, now: float) -> _Places:
        places = self._keys.get(key)
        if places is None:
            places = self._keys[key] = _Places()
        for lease, (_, expiry) in list(places.held.items()):
            if expiry <= now:  # never released (a hung caller): taken as answered at its expiry
                del places.held[lease]
                bisect.insort(places.done, expiry)
        cut = bisect.bisect_left(places.done, now - places.horizon)
        if cut:
            del places.done[:cut]
        return places

    def acquire(self, key: str, windows: Sequence[Window], *, max_wait: float | None, hold: float) -> Decision:
        with self._cond:
            now = self._clock()
            places = self._places(key, now)
            places.horizon = max(places.horizon, *(w.seconds for w in windows))
            done = places.done

            def done_from_newest(index: int) -> float | None:
                return done[-1 - index] if index < len(done) else None

            start, busy_from = book(now, places.paused_until, windows, [s for s, _ in places.held.values()],
                                    done_from_newest)
            if busy_from is not None:
                wait = max(start, busy_from) - now
                return Decision(None, wait, busy=max_wait is None or wait <= max_wait)
            wait = start - now
            if max_wait is not None and wait > max_wait:
                return Decision(None, wait)
            lease = new_lease()
            places.held[lease] = (start, start + hold)
            return Decision(lease, wait)

    def release(self, key: str, lease: str) -> None:
        with self._cond:
            now = self._clock()
            places = self._keys.get(key)
            if places is None:
                return
            entry = places.held.pop(lease, None)
            # a fake clock may not have reached the booked start; an expired lease already counted at
            # its expiry and now counts again, later (safe)
            bisect.insort(places.done, max(now, entry[0]) if entry else now)
            self._cond.notify_all()

    def pause(self, key: str, seconds: float) -> None:
        with self._cond:
            now = self._clock()
            places = self._places(key, now)
            places.paused_until = max(places.paused_until, now + seconds)

    def wait_for_release(self, key: str, timeout: float) -> None:
        with self._cond:
            self._cond.wait(min(max(timeout, 0.0), RELEASE_POLL))
