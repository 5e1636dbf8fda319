"""Client-side rate limits: token buckets per (credential fingerprint, API class), shared and thread-safe.

Written here rather than taken from a library because the bucket must (a) run on an injected clock
so tests never sleep, (b) tell the caller how long it would have to wait *before* waiting, so a
wait beyond the call's deadline becomes `RateLimitError(retry_after=...)` at once, and (c) be
paused by a server's 429. The well-known libraries block internally or hide the wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    capacity: float
    rate: float  # tokens per second
    tokens: float
    updated: float
    paused_until: float = 0.0


SERVER_LAG = 0.25
"""Seconds the client's refill starts late when a full bucket starts draining (see `RateLimiter`)."""


class RateLimiter:
    """All buckets of one runtime; `reserve` takes a token now and returns how long to wait first.

    `lag`: a server's bucket starts refilling when our first request *arrives*, which is later than
    when we reserved it (connection set-up, TLS, scheduling). A client that starts refilling at
    reservation time runs ahead of the server by that latency and meets a 429 just after its
    burst. With `lag`, a full bucket that starts draining begins refilling `lag` seconds late: a
    one-off delay of `lag` per burst, no loss of steady-state throughput.
    """

    def __init__(self, clock: Callable[[], float], lag: float = 0.0) -> None:
        self._clock = clock
        self._lag = lag
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def reserve(self, key: tuple[str, str], requests: int, per: float, burst: int | None = None,
                max_wait: float | None = None) -> float | None:
        """Reserve one request; the wait in seconds (0 = go now), or None if it exceeds `max_wait`.

        A reservation that would wait too long takes nothing, so giving up costs no capacity.
        """
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                capacity = float(burst or requests)
                bucket = self._buckets[key] = _Bucket(capacity, requests / per, capacity, now)
            if now > bucket.updated:
                bucket.tokens = min(bucket.capacity, bucket.tokens + (now - bucket.updated) * bucket.rate)
                bucket.updated = now
            refill_from = bucket.updated  # later than now while a lag runs
            start = max(now, bucket.paused_until)
            tokens_at_start = bucket.tokens + max(0.0, start - refill_from) * bucket.rate
            if tokens_at_start >= 1.0:
                wait = start - now
            else:
                begin = max(start, refill_from)
                tokens_at_begin = bucket.tokens + (begin - refill_from) * bucket.rate
                wait = begin - now + (1.0 - tokens_at_begin) / bucket.rate
            if max_wait is not None and wait > max_wait:
                return None
            if self._lag and bucket.tokens >= bucket.capacity:
                bucket.updated = max(bucket.updated, now + self._lag)
            bucket.tokens -= 1.0  # may go negative: later callers queue behind this reservation
            return wait

    def pause(self, key: tuple[str, str], seconds: float) -> None:
        """A 429 for this bucket: nobody sharing it sends for `seconds`."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is not None:
                now = self._clock()
                if now > bucket.updated:
                    bucket.tokens = min(bucket.capacity, bucket.tokens + (now - bucket.updated) * bucket.rate)
                    bucket.updated = now
                bucket.paused_until = max(bucket.paused_until, now + seconds)
                # Tokens do not pile up beyond capacity while paused: at most one burst leaves when it ends.
                bucket.tokens = min(bucket.tokens, bucket.capacity - (bucket.paused_until - now) * bucket.rate)
