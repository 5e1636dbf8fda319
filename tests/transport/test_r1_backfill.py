"""R1 (effectively-once backfill) and R2's accounting: 10,000 Track events and 10,000 Pipelines calls
under the seeded F20 fault mix land exactly once each, over real loopback HTTP, without real waits."""

from __future__ import annotations

import time

import pytest
from relaykit.call.ids import new_ulid
from relaykit.delivery.pool import deliver

N = 10_000
FAULTS = {"preset": "F20", "seed": 20, "stall_seconds": 0.6}


@pytest.mark.slow
def test_r1_backfill_under_f20_lands_exactly_once(sandbox, make_rt, figures):
    sandbox.set_faults(FAULTS)
    # Simulated time 20x real: Track's 100/s bucket never blocks (waits are recorded, not slept);
    # a stalled server is abandoned after 0.25 s of real read timeout. With 20% of requests faulted
    # independently, 4 attempts would lose 0.2**4 = 0.16% of items to exhausted retries; a backfill
    # allows 10 (0.2**10 ~ 1e-7).
    rt = make_rt(speed=20.0, advance=False, timeouts={"read": 0.25}, retry={"max_attempts": 10})
    track_ids = [new_ulid() for _ in range(N)]
    track_inputs = [{"identifier": f"person-{i % 500}", "name": "backfilled", "data": {"n": i}, "event_id": eid}
                    for i, eid in enumerate(track_ids)]
    pipe_ids = [f"msg-{i:05d}-{new_ulid()}" for i in range(N)]
    pipe_inputs = [{"userId": f"person-{i % 500}", "event": "Backfilled", "properties": {"n": i}, "messageId": mid}
                   for i, mid in enumerate(pipe_ids)]
    started = time.monotonic()
    track = deliver(rt, "customerio-track.track_event", track_inputs, sandbox.connection("customerio-track"),
                    workers=8)
    pipes = deliver(rt, "customerio-pipelines.track", pipe_inputs, sandbox.connection("customerio-pipelines"),
                    workers=8)
    duration = time.monotonic() - started

    for report in (track, pipes):
        assert report.failed == () and report.rejected == (), report.failed[:3]
        assert (report.total, report.delivered, report.dropped) == (N, N, 0)
        assert report.retried > 0

    state, stats = sandbox.state(), sandbox.stats()
    committed_events = [e["dedupe_id"] for e in state["events"] if e["source"] == "track-v1"]
    committed_calls = [c["messageId"] for c in state["pipelines_calls"]]
    assert sorted(committed_events) == sorted(track_ids)  # each input id, each exactly once
    assert sorted(committed_calls) == sorted(pipe_ids)
    dupes = stats["duplicates"]
    assert dupes["customerio-track"] > 0 and dupes["customerio-pipelines"] > 0  # resent after commit, absorbed
    assert stats["faults"].get("reset_after", 0) > 0 and stats["faults"].get("stall", 0) > 0
    assert rt.waits and max(rt.waits) < 90  # backoff was recorded, never slept
    assert duration < 120
    figures.add("R1", f"{duration:.1f}s; track {track.to_dict()}; pipelines {pipes.to_dict()}; "
              f"duplicates absorbed {dupes}; faults {stats['faults']}")
