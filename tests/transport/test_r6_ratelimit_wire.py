"""R6 against the sandbox: in every window of the declared length the sandbox's journal sees no more
than the declared number of requests, the client still reaches at least 90% of the declared rate,
a server enforcing the same limits never answers 429, and one saturated API class does not slow
another.

The journal stamps each request when the sandbox has handled it, so these counts are the server's
view, latency jitter included. The pure 60-simulated-second runs are tests/runtime/test_ratelimit.py.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from relaykit import Runtime
from window_counts import journal_times, max_in_window

WINDOW = 4.0  # seconds measured, from the first request the server saw; each run lasts RUN
RUN = WINDOW + 0.5
TRACK_LIMIT = {"limit": 100, "per": 1, "burst": 100}  # the Track connector's YAML: 100/s
APP_LIMIT = {"limit": 10, "per": 1, "burst": 10}  # the App connector's YAML: 10/s
PIPELINES_LIMIT = {"limit": 3000, "per": 3, "burst": 3000}  # the Pipelines connector's YAML: 3000 per 3 s

TRACK = ("customerio-track", "customerio-track.track_event", lambda w, i: {"identifier": f"r6-{w}", "name": "e"})
APP = ("customerio-app", "customerio-app.raw_http_request", lambda w, i: {"method": "GET", "endpoint": "/segments"})
PIPELINES = ("customerio-pipelines", "customerio-pipelines.track", lambda w, i: {"userId": f"r6-{w}", "event": "e"})


def hammer(rt, sandbox, call, stop_at, threads, counts, connection=None):
    """`threads` workers calling as fast as the client's limiter lets them (far above the limit)."""
    connector, name, make_input = call
    connection = {**sandbox.connection(connector), **(connection or {})}

    def worker(w):
        i = 0
        while time.time() < stop_at:
            try:
                rt.run(name, make_input(w, i), connection)
                counts[connector] += 1
            except Exception as exc:  # a RateLimitError from the server would show here
                counts[f"{connector}-error-{type(exc).__name__}"] += 1
            i += 1

    return [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(threads)]


def run_window(sandbox, calls, seconds=RUN, connection=None, **runtime_kw) -> tuple[Counter, list[dict], float]:
    """Hammer each (call, threads) for `seconds` (`connection`: extra connection fields); the counts,
    the journal and the start time."""
    sandbox.reset()
    sandbox.set_rate_limits({"enabled": True, "classes": {"track": TRACK_LIMIT, "app": APP_LIMIT,
                                                          "pipelines": PIPELINES_LIMIT}})
    rt = Runtime(timeouts={"total": 30}, **runtime_kw)
    counts: Counter = Counter()
    start = time.time()
    workers = [w for call, threads in calls
               for w in hammer(rt, sandbox, call, start + seconds, threads, counts, connection)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(30)
    rt.close()
    return counts, sandbox.journal(), start


def sent_within(times: list[float], seconds: float) -> int:
    """Requests the server saw within `seconds` of the first one (thread start-up is not the limiter's)."""
    return sum(1 for t in times if t < times[0] + seconds) if times else 0


@pytest.mark.slow
def test_no_window_sees_more_than_declared_and_classes_are_isolated(sandbox, figures):
    alone, journal_alone, _ = run_window(sandbox, [(TRACK, 6)])
    mixed, journal_mixed, _ = run_window(sandbox, [(TRACK, 6), (APP, 4)])
    sandbox.set_rate_limits(False)

    for journal in (journal_alone, journal_mixed):
        statuses = Counter(e["status"] for e in journal)
        assert statuses[429] == 0, statuses  # the server's buckets of the same size always had room
        # the busiest one-second window, counted where the server stamped each request (issue 12,
        # item 7: a token bucket let 175 Track and 17 App requests into one second)
        assert max_in_window(journal_times(journal, "customerio-track"), 1.0) <= 100
        assert max_in_window(journal_times(journal, "customerio-app"), 1.0) <= 10
    assert not [k for k in (*alone, *mixed) if "error" in k], (alone, mixed)
    track_alone = sent_within(journal_times(journal_alone, "customerio-track"), WINDOW)
    track_mixed = sent_within(journal_times(journal_mixed, "customerio-track"), WINDOW)
    app_mixed = sent_within(journal_times(journal_mixed, "customerio-app"), WINDOW)
    assert track_alone >= 0.9 * 100 * WINDOW  # at least 90% of the declared rate
    assert app_mixed >= 0.9 * 10 * WINDOW  # App really was saturated
    assert track_mixed >= 0.95 * track_alone  # and that cost Track less than 5%
    figures.add("R6", f"in {WINDOW:.0f} s: track alone {track_alone}, track with App saturated {track_mixed}, "
                f"app {app_mixed}; busiest second track "
                f"{max_in_window(journal_times(journal_alone, 'customerio-track'), 1.0)}/100; 429s 0")


@pytest.mark.slow
def test_pipelines_never_sends_more_than_3000_in_any_3_seconds(sandbox, figures):
    """Issue 12, item 7: 4,495 Pipelines calls went out in 3 s against 3000 per 3 s. At the declared
    limit this shared machine (300 to 1700 calls a second, depending on its other load) is at or
    below its own ceiling, so the 90% is asked of the same 3-second window lowered to 300 (100 a
    second, like Track) by a connection override."""
    counts, journal, _ = run_window(sandbox, [(PIPELINES, 8)], seconds=6.0)
    times = journal_times(journal, "customerio-pipelines")
    busiest = max_in_window(times, 3.0)
    assert busiest <= 3000
    assert Counter(e["status"] for e in journal)[429] == 0
    lowered, journal_low, _ = run_window(sandbox, [(PIPELINES, 8)], seconds=6.5,
                                                 connection={"rate_limits": {"pipelines": {"requests": 300}}})
    sandbox.set_rate_limits(False)

    assert not [k for k in (*counts, *lowered) if "error" in k], (counts, lowered)
    times_low = journal_times(journal_low, "customerio-pipelines")
    assert max_in_window(times_low, 3.0) <= 300
    sent_low = sent_within(times_low, 6.0)
    assert sent_low >= 0.9 * 300 * 2
    figures.add("R6", f"pipelines: {sent_within(times, 6.0)} calls in 6 s, busiest 3 s {busiest}/3000; "
                f"lowered to 300 per 3 s: {sent_low} in 6 s")

def test_a_huge_retry_after_pauses_the_credential_only_up_to_the_ceiling(sandbox):
    """Issue 12, item 6: one 429 with `Retry-After: 999999999` paused the credential for ~31 years,
    and every later call failed at once with `retry_after=0.01`. The pause is now clamped to the
    policy's `max_retry_after` (60 s for Track), and a refusal says how long is really left."""
    from relaykit import RateLimitError
    from transport_helpers import WarpClock

    clock = WarpClock()  # sleeps are recorded and move the clock on; nothing really waits
    rt = Runtime(clock=clock, sleep=clock.sleep, timeouts={"total": 30})
    connection = sandbox.connection("customerio-track")
    event = {"identifier": "r6-pause", "name": "e"}
    try:
        sandbox.set_rate_limits({"retry_after": "999999999", "classes": {"track": {"limit": 1, "per": 3600}}})
        rt.run("customerio-track.track_event", event, connection)
        with pytest.raises(RateLimitError) as first:
            rt.run("customerio-track.track_event", event, connection)
        assert first.value.retry_after == 999999999  # what the server said, for the caller to weigh
        sandbox.set_rate_limits(False)
        sent = len(sandbox.journal())

        with pytest.raises(RateLimitError) as later:  # 60 s of pause left, 30 s of deadline
            rt.run("customerio-track.track_event", event, connection)
        assert 50 < later.value.retry_after <= 60  # honest: when this credential sends again
        assert len(sandbox.journal()) == sent and clock.waits == []  # refused at once, nothing sent

        clock.offset += 45  # 15 s of pause left: the next call waits it out and goes through
        result = rt.run("customerio-track.track_event", event, connection)
        assert result.status == 200 and len(sandbox.journal()) == sent + 1
        assert clock.waits and 10 < sum(clock.waits) <= 15
    finally:
        rt.close()
