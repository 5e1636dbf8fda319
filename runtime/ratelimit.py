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


class RateLimiter:
    """All buckets of one runtime; `reserve` takes a token now and returns how long to wait first."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
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
            bucket.tokens = min(bucket.capacity, bucket.tokens + (now - bucket.updated) * bucket.rate)
            bucket.updated = now
            wait = max(0.0, bucket.paused_until - now)
            tokens_at_start = bucket.tokens + wait * bucket.rate
            if tokens_at_start < 1.0:
                wait += (1.0 - tokens_at_start) / bucket.rate
            if max_wait is not None and wait > max_wait:
                return None
            bucket.tokens -= 1.0  # may go negative: later callers queue behind this reservation
            return wait

    def pause(self, key: tuple[str, str], seconds: float) -> None:
        """A 429 for this bucket: nobody sharing it sends for `seconds`."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is not None:
                now = self._clock()
                bucket.tokens = min(bucket.capacity, bucket.tokens + (now - bucket.updated) * bucket.rate)
                bucket.updated = now
                bucket.paused_until = max(bucket.paused_until, now + seconds)
                # Tokens do not pile up beyond capacity while paused: at most one burst leaves when it ends.
                bucket.tokens = min(bucket.tokens, bucket.capacity - (bucket.paused_until - now) * bucket.rate)
