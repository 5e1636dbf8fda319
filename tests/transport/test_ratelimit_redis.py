"""Rate limits shared through Redis: three real processes on one credential stay within the declared
limit together, in every window, and still reach at least 90% of it.

Real Redis (the `redis_server` fixture, tests/redis_server.py), real processes
(shared_limit_worker.py), and the sandbox's journal as the count. The same semantics on a fake
clock, for both stores, are tests/runtime/test_ratelimit.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from relaykit import Runtime
from relaykit.transport.ratelimit_redis import RedisStore
from window_counts import journal_times, max_in_window

WORKER = Path(__file__).with_name("shared_limit_worker.py")
PROCESSES, THREADS, SECONDS, MEASURED = 3, 4, 4.0, 3.0


@pytest.mark.slow
def test_three_processes_sharing_a_credential_stay_within_the_limit_together(sandbox, redis_server, figures,
                                                                           tmp_path):
    redis_server.flush()
    sandbox.set_rate_limits({"enabled": True, "classes": {"track": {"limit": 100, "per": 1, "burst": 100}}})
    start = time.time() + 3.0  # time for every process to start and import
    settings = {"redis": redis_server.url, "connection": sandbox.connection("customerio-track"),
                "operation": "customerio-track.track_event", "input": {"identifier": "shared", "name": "e"},
                "start": start, "seconds": SECONDS, "threads": THREADS}
    logs = [tmp_path / f"worker-{i}.log" for i in range(PROCESSES)]
    procs = []
    for log in logs:  # every process gets its settings before any is waited for
        with log.open("w") as err:
            procs.append(subprocess.Popen([sys.executable, str(WORKER)], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=err, text=True))
        procs[-1].stdin.write(json.dumps(settings))  # type: ignore[union-attr]
        procs[-1].stdin.close()  # type: ignore[union-attr]
    results = []
    for proc, log in zip(procs, logs, strict=True):
        out = proc.stdout.read()  # type: ignore[union-attr]
        assert proc.wait(timeout=120) == 0, log.read_text()[-2000:]
        results.append(json.loads(out))
    sandbox.set_rate_limits(False)

    assert [r["errors"] for r in results] == [{}] * PROCESSES
    assert all(r["sent"] > 0 for r in results), results  # every process took part
    journal = sandbox.journal()
    assert Counter(e["status"] for e in journal)[429] == 0  # the server, enforcing 100/s, always had room
    times = journal_times(journal, "customerio-track")
    assert len(times) == sum(r["sent"] for r in results)
    busiest = max_in_window(times, 1.0)
    assert busiest <= 100  # the declared limit, for the three processes combined
    first = times[0]
    measured = sum(1 for t in times if first <= t < first + MEASURED)
    assert measured >= 0.9 * 100 * MEASURED
    figures.add("R6-shared", f"{PROCESSES} processes x {THREADS} threads through Redis: {measured} Track calls "
                f"in {MEASURED:.0f} s (limit 100/s), busiest second {busiest}, per process "
                f"{[r['sent'] for r in results]}, 429s 0")


def test_an_unreachable_redis_fails_the_call_before_anything_is_sent(sandbox):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    from relaykit import TransportError

    runtime = Runtime(rate_limit_store=RedisStore(f"redis://127.0.0.1:{port}/0"))
    try:
        with pytest.raises(TransportError) as info:
            runtime.run("customerio-track.track_event", {"identifier": "x", "name": "e"},
                        sandbox.connection("customerio-track"))
        assert "rate-limit store" in str(info.value) and info.value.connector == "customerio-track"
        assert sandbox.journal() == []
    finally:
        runtime.close()


def test_runtimes_sharing_a_redis_store_share_the_window(sandbox, redis_server):
    """Two runtimes (as two processes would) on one credential: the second sees the first's calls."""
    redis_server.flush()
    runtimes = [Runtime(rate_limit_store=RedisStore(redis_server.url), timeouts={"total": 0.5}) for _ in range(2)]
    connection = sandbox.connection("customerio-app")
    trigger = {"broadcast_id": 1}
    try:
        runtimes[0].run("customerio-app.trigger_broadcast", trigger, connection)
        from relaykit import RateLimitError

        with pytest.raises(RateLimitError) as info:  # 1 per 10 s, and it was just used
            runtimes[1].run("customerio-app.trigger_broadcast", trigger, connection)
        assert 9 < info.value.retry_after <= 10
        assert len(sandbox.journal()) == 1
    finally:
        for runtime in runtimes:
            runtime.close()
