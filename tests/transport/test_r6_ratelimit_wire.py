"""R6 against the sandbox: the client's buckets keep a server enforcing the same limits happy, and one
saturated API class does not slow another.

The pure 60-simulated-second envelope test is tests/transport/test_ratelimit.py; here the sandbox's
own buckets (real time) judge the client, so each run lasts WINDOW real seconds.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from relaykit import Runtime
from relaykit.transport.ratelimit import SERVER_LAG

WINDOW = 2.0
TRACK_LIMIT = {"limit": 100, "per": 1, "burst": 100}  # the Track connector's YAML: 100/s
APP_LIMIT = {"limit": 10, "per": 1, "burst": 10}  # the App connector's YAML: 10/s


def hammer(rt, sandbox, connector, name, make_input, stop_at, threads, counts, key):
    """`threads` workers calling as fast as the client's bucket lets them (far above 5x the limit)."""
    connection = sandbox.connection(connector)

    def worker(w):
        i = 0
        while time.time() < stop_at:
            try:
                rt.run(name, make_input(w, i), connection)
                counts[key] += 1
            except Exception as exc:  # RateLimitError from the server would show here
                counts[f"{key}-error-{type(exc).__name__}"] += 1
            i += 1

    return [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(threads)]


def run_window(sandbox, with_app: bool) -> tuple[Counter, list[dict]]:
    sandbox.reset()
    sandbox.set_rate_limits({"enabled": True, "classes": {"track": TRACK_LIMIT, "app": APP_LIMIT}})
    rt = Runtime(timeouts={"total": 30})
    counts: Counter = Counter()
    start = time.time()
    stop_at = start + WINDOW
    workers = hammer(rt, sandbox, "customerio-track", "customerio-track.track_event",
                     lambda w, i: {"identifier": f"r6-{w}", "name": "e"}, stop_at, 6, counts, "track")
    if with_app:
        workers += hammer(rt, sandbox, "customerio-app", "customerio-app.raw_http_request",
                          lambda w, i: {"method": "GET", "endpoint": "/segments"}, stop_at, 4, counts, "app")
    for t in workers:
        t.start()
    for t in workers:
        t.join(10)
    rt.close()
    journal = [e for e in sandbox.journal() if e["time"] <= stop_at]
    return counts, journal


@pytest.mark.slow
def test_client_limits_match_a_server_enforcing_them_and_classes_are_isolated(sandbox, figures):
    alone, journal_alone = run_window(sandbox, with_app=False)
    mixed, journal_mixed = run_window(sandbox, with_app=True)
    sandbox.set_rate_limits(False)

    for journal in (journal_alone, journal_mixed):
        statuses = Counter(e["status"] for e in journal)
        assert statuses[429] <= 0.01 * len(journal), statuses
        by_class = Counter(e["connector"] for e in journal)
        # emitted rate within the envelope: burst + limit x window (+1 for the boundary)
        assert by_class["customerio-track"] <= 100 + 100 * WINDOW + 1
        assert by_class["customerio-app"] <= 10 + 10 * WINDOW + 1
    assert not [k for k in (*alone, *mixed) if "error" in k], (alone, mixed)
    track_alone = sum(1 for e in journal_alone if e["connector"] == "customerio-track")
    track_mixed = sum(1 for e in journal_mixed if e["connector"] == "customerio-track")
    app_mixed = sum(1 for e in journal_mixed if e["connector"] == "customerio-app")
    lag = SERVER_LAG  # the client starts refilling a drained bucket this late, once per burst
    assert track_alone >= 0.7 * (100 + 100 * (WINDOW - lag))  # the limit, not the machine, is the bottleneck
    assert app_mixed >= 0.7 * (10 + 10 * (WINDOW - lag))  # App really was saturated
    assert track_mixed >= 0.95 * track_alone  # and that cost Track less than 5%
    figures.add("R6", f"track alone {track_alone}, track with App saturated {track_mixed}, app {app_mixed} "
              f"in {WINDOW}s; 429s {sum(1 for e in journal_alone + journal_mixed if e['status'] == 429)}")
