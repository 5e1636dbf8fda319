"""Tests for relaykit.ratelimit: token buckets on a fake clock (nothing sleeps)."""

from __future__ import annotations

import threading

import pytest
from relaykit.transport.ratelimit import RateLimiter

KEY = ("fingerprint", "track")
EPS = 1e-6


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def max_in_window(times: list[float], width: float = 1.0) -> int:
    """The most events in any half-open window [t, t + width) (float noise tolerated)."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - width + EPS:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


@pytest.mark.parametrize(("requests", "per", "burst"), [
    pytest.param(10, 1.0, None, id="10-per-second"),
    pytest.param(1, 10.0, None, id="1-per-10s"),
    pytest.param(3000, 3.0, None, id="pipelines"),
    pytest.param(10, 1.0, 25, id="explicit-burst"),
])
def test_burst_then_spaced_waits(requests: int, per: float, burst: int | None) -> None:
    limiter = RateLimiter(FakeClock())
    capacity = burst or requests
    waits = [limiter.reserve(KEY, requests, per, burst) for _ in range(capacity + 5)]
    assert waits[:capacity] == [0.0] * capacity
    spacing = per / requests
    assert waits[capacity:] == pytest.approx([spacing * k for k in range(1, 6)])


@pytest.mark.parametrize(("requests", "per", "burst"), [
    pytest.param(10, 1.0, None, id="10-per-second"),
    pytest.param(10, 1.0, 20, id="burst-20"),
    pytest.param(100, 1.0, None, id="track"),
    pytest.param(1, 10.0, None, id="broadcast"),
])
@pytest.mark.parametrize("max_wait", [None, 0.0, 2.0])
def test_five_times_offered_rate_for_60_seconds(requests: int, per: float, burst: int | None,
                                                max_wait: float | None) -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock)
    rate = requests / per
    capacity = burst or requests
    offered = int(60 * rate * 5)
    admitted: list[float] = []
    for i in range(offered):
        clock.now = i / (rate * 5)
        wait = limiter.reserve(KEY, requests, per, burst, max_wait=max_wait)
        if wait is not None:
            assert wait >= 0 and (max_wait is None or wait <= max_wait)
            admitted.append(clock.now + wait)
    assert max_in_window(admitted) <= rate * 1.0 + capacity
    # ... and the limiter does not starve the caller either: about rate x 60 s + one burst go out in 60 s
    in_first_minute = sum(1 for t in admitted if t < 60 - EPS)
    assert in_first_minute >= int(rate * 60) + capacity - 2


def test_max_wait_exceeded_returns_none_and_takes_no_token() -> None:
    limiter = RateLimiter(FakeClock())
    assert limiter.reserve(KEY, 1, 1.0) == 0.0
    assert limiter.reserve(KEY, 1, 1.0, max_wait=0.5) is None
    assert limiter.reserve(KEY, 1, 1.0, max_wait=0.99) is None
    assert limiter.reserve(KEY, 1, 1.0, max_wait=1.0) == pytest.approx(1.0)  # not 2.0: nothing was taken
    assert limiter.reserve(KEY, 1, 1.0) == pytest.approx(2.0)


def test_refill_over_time_capped_at_capacity() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock)
    for _ in range(10):
        limiter.reserve(KEY, 10, 1.0)
    clock.now = 0.5
    assert [limiter.reserve(KEY, 10, 1.0) for _ in range(5)] == [0.0] * 5
    assert limiter.reserve(KEY, 10, 1.0) == pytest.approx(0.1)
    clock.now = 1000.0  # a long idle period refills one burst, not 10,000 tokens
    waits = [limiter.reserve(KEY, 10, 1.0) for _ in range(11)]
    assert waits[:10] == [0.0] * 10 and waits[10] == pytest.approx(0.1)


def test_pause_delays_everyone_on_the_bucket() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock)
    other = ("fingerprint", "app")
    assert limiter.reserve(KEY, 10, 1.0) == 0.0
    assert limiter.reserve(other, 10, 1.0) == 0.0
    clock.now = 1.0
    limiter.pause(KEY, 5.0)
    assert limiter.reserve(KEY, 10, 1.0) == pytest.approx(5.0)
    clock.now = 3.0
    assert limiter.reserve(KEY, 10, 1.0) == pytest.approx(3.0)  # another caller, same bucket
    assert limiter.reserve(other, 10, 1.0) == 0.0  # other buckets carry on
    clock.now = 6.0
    assert limiter.reserve(KEY, 10, 1.0) == 0.0
    limiter.pause(KEY, 1.0)
    limiter.pause(KEY, 0.5)  # a shorter pause never shortens a longer one
    assert limiter.reserve(KEY, 10, 1.0) == pytest.approx(1.0)


def test_pause_on_unknown_bucket_is_harmless() -> None:
    limiter = RateLimiter(FakeClock())
    limiter.pause(KEY, 5.0)
    assert limiter.reserve(("x", "y"), 10, 1.0) == 0.0


@pytest.mark.parametrize("pause", [1.0, 5.0, 60.0])
def test_no_flood_when_a_pause_ends(pause: float) -> None:
    """Capacity does not pile up during a 429 pause: at most one burst leaves when it ends."""
    clock = FakeClock()
    limiter = RateLimiter(clock)
    limiter.reserve(KEY, 10, 1.0)
    clock.now = 10.0  # the bucket is full again
    limiter.pause(KEY, pause)
    admitted = []
    for i in range(int(pause * 50) + 500):
        clock.now = 10.0 + i / 50
        wait = limiter.reserve(KEY, 10, 1.0)
        assert wait is not None
        admitted.append(clock.now + wait)
    assert min(admitted) >= 10.0 + pause - EPS
    assert max_in_window(admitted) <= 10 + 10


def test_buckets_with_different_keys_are_independent() -> None:
    limiter = RateLimiter(FakeClock())
    for _ in range(5):
        limiter.reserve(("credential-a", "track"), 1, 1.0)
    assert limiter.reserve(("credential-b", "track"), 1, 1.0) == 0.0
    assert limiter.reserve(("credential-a", "app"), 1, 1.0) == 0.0
    assert limiter.reserve(("credential-a", "track"), 1, 1.0) == pytest.approx(5.0)


def test_thread_safety_smoke() -> None:
    limiter = RateLimiter(FakeClock(0.0))
    threads_n, each = 16, 200
    barrier = threading.Barrier(threads_n)
    results: list[list[float]] = [[] for _ in range(threads_n)]

    def worker(slot: int) -> None:
        barrier.wait()
        for _ in range(each):
            wait = limiter.reserve(KEY, 10, 1.0)
            assert wait is not None
            results[slot].append(wait)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    waits = sorted(w for r in results for w in r)
    total = threads_n * each
    # exactly one burst of 10 goes now, then one slot every 0.1 s: no slot handed out twice, none skipped
    assert waits == pytest.approx([0.0] * 10 + [k / 10 for k in range(1, total - 9)])
    assert sum(1 for w in waits if w < 1.0 - EPS) == 10 + 9


def _server_shortfall(limiter_lag: float, first_latency: float) -> float:
    """Drive a 10/s client bucket; a server bucket of the same size counts from each arrival, and the
    first request (a new connection) takes `first_latency` longer than the rest. Lowest server level."""
    clock = FakeClock(100.0)
    limiter = RateLimiter(clock, lag=limiter_lag)
    server_tokens, server_stamp, lowest = 10.0, None, 10.0
    for i in range(200):
        clock.now += limiter.reserve(KEY, 10, 1.0)
        arrival = clock.now + (first_latency if i == 0 else 0.0)
        if server_stamp is not None:
            server_tokens = min(10.0, server_tokens + max(0.0, arrival - server_stamp) * 10.0)
        server_stamp = max(arrival, server_stamp or arrival)
        lowest = min(lowest, server_tokens)
        server_tokens -= 1.0
    return lowest


@pytest.mark.parametrize("latency", [0.01, 0.05, 0.2])
def test_lag_keeps_the_client_behind_a_server_that_starts_counting_later(latency: float) -> None:
    """Without the lag, the first request's extra latency puts the client ahead of the server (a 429
    right after the burst); with a lag at least that long, the server always has a token."""
    assert _server_shortfall(0.0, latency) < 1.0 - EPS
    assert _server_shortfall(0.25, latency) >= 1.0 - EPS


def test_lag_costs_one_delay_per_burst_not_throughput() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, lag=0.25)
    times = []
    for _ in range(110):
        clock.now += limiter.reserve(KEY, 10, 1.0)
        times.append(clock.now)
    # 10 at once, then one every 0.1 s after the 0.25 s lag: 100 more by 10.25 s
    assert times[9] == 0.0 and times[10] == pytest.approx(0.35)
    assert times[-1] == pytest.approx(0.25 + 10.0)
    assert max_in_window(times) <= 10 + 10
