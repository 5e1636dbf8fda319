"""R2 (no silent loss) for the background `DeliveryQueue`, over real loopback HTTP against the sandbox.

Every submitted item must end delivered, rejected with a reason or dead-lettered with a reason, and
the counts must sum to the number submitted: when the queue is full, for oversize events and
batches, for calls that fail under seeded faults, at a shutdown deadline reached mid-run, and at
process exit. What the report calls delivered is checked against the sandbox's state by event id.

Calls are held "in flight" deterministically in two ways: a `Gate` injected as the runtime's
`sleep` holds a call in its retry backoff (after a scheduled 503), and the sandbox's `drip` fault
commits an event and then answers one byte per 10 ms, so the call is really on the wire.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from canary_scan import PIPELINES_KEY, SITE_ID, TRACK_KEY
from relaykit import Runtime
from relaykit.call.ids import new_ulid
from relaykit.delivery.pool import deliver
from relaykit.delivery.queue import IN_FLIGHT, NOT_SENT, QUEUE_CLOSED, QUEUE_FULL, DeliveryQueue

TRACK_EVENT = "customerio-track.track_event"
ONLY_TRACK = ["customerio-track"]


class Gate:
    """An injected `sleep`: every retry backoff waits here until `open()`, so its call stays in flight."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self._cond = threading.Condition()
        self.held = 0

    def __call__(self, seconds: float) -> None:
        with self._cond:
            self.held += 1
            self._cond.notify_all()
        self._open.wait(10)  # bounded, so a failing test cannot hang the run

    def wait_held(self, count: int) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self.held >= count, 10), f"only {self.held} calls reached the gate"

    def open(self) -> None:
        self._open.set()


class Harness:
    """Runtimes, queues and gates of one test, all stopped afterwards so nothing leaks into the next test."""

    def __init__(self) -> None:
        self.runtimes: list[Runtime] = []
        self.queues: list[DeliveryQueue] = []
        self.gates: list[Gate] = []

    def runtime(self, **kw) -> Runtime:
        kw.setdefault("sleep", lambda seconds: None)  # backoff and rate-limit waits are not slept
        if isinstance(kw["sleep"], Gate):
            self.gates.append(kw["sleep"])
        self.runtimes.append(Runtime(**kw))
        return self.runtimes[-1]

    def queue(self, *args, **kw) -> DeliveryQueue:
        kw.setdefault("flush_at_exit", False)
        self.queues.append(DeliveryQueue(*args, **kw))
        return self.queues[-1]

    def close(self) -> None:
        for gate in self.gates:
            gate.open()
        for queue in self.queues:
            queue.shutdown(deadline=0)
            assert queue.join(timeout=15), "a worker thread did not finish"
        for runtime in self.runtimes:
            runtime.close()


@pytest.fixture
def harness():
    made = Harness()
    yield made
    made.close()


def event(event_id: str, **extra) -> dict:
    return {"identifier": "r2-person", "name": "r2_event", "event_id": event_id, **extra}


def ulids(count: int) -> list[str]:
    return [new_ulid() for _ in range(count)]


def committed_track_ids(sandbox) -> list[str]:
    return sorted(e["dedupe_id"] for e in sandbox.state()["events"] if e["source"] == "track-v1")


def assert_accounted(report, submitted: int) -> None:
    assert report.total == submitted
    assert report.pending == 0 and report.dropped == 0
    assert report.delivered + len(report.rejected) + len(report.failed) == submitted
    assert all(o.error and o.message for o in report.rejected + report.failed)  # every one has a reason


def test_queue_full_is_rejected_with_a_reason_and_counted(sandbox, harness):
    sandbox.set_faults({"schedule": ["503"], "apis": ONLY_TRACK})  # the first call then waits at the gate
    gate = Gate()
    queue = harness.queue(harness.runtime(sleep=gate), TRACK_EVENT, sandbox.connection("customerio-track"),
                          max_queue=3, workers=1)
    ids = ulids(10)
    assert queue.submit(event(ids[0]))
    gate.wait_held(1)  # the only worker holds item 0 in flight
    subs = [queue.submit(event(i)) for i in ids[1:9]]
    assert [bool(s) for s in subs] == [True] * 3 + [False] * 5
    assert all(s.error == QUEUE_FULL and "full" in s.reason for s in subs[3:])
    live = queue.report()
    assert (live.total, live.delivered, live.pending, len(live.rejected), live.dropped) == (9, 0, 4, 5, 0)

    bounded = queue.submit(event(ids[9]), block=True, timeout=0.05)  # back-pressure, bounded: still full
    assert not bounded and bounded.error == QUEUE_FULL
    result = {}
    waiter = threading.Thread(target=lambda: result.update(sub=queue.submit(event(ids[9]), block=True, timeout=10)))
    waiter.start()
    gate.open()  # the worker moves on, so the blocked submit gets in
    waiter.join(15)
    assert result["sub"].accepted

    report = queue.shutdown(deadline=10)
    assert_accounted(report, 11)
    assert (report.delivered, len(report.rejected), len(report.failed)) == (5, 6, 0)
    assert [o.index for o in report.rejected] == [4, 5, 6, 7, 8, 9]
    assert all(o.error == QUEUE_FULL and o.retryable for o in report.rejected)
    assert committed_track_ids(sandbox) == sorted(ids[:4] + ids[9:])  # the accepted ones, each once
    assert [e["status"] for e in sandbox.journal()] == [503] + [200] * 5  # nothing rejected was sent


def test_oversize_event_and_batch_are_rejected_with_a_reason_and_never_sent(sandbox, harness):
    runtime = harness.runtime()
    marker = "R2-PAYLOAD-VALUE"
    track = harness.queue(runtime, TRACK_EVENT, sandbox.connection("customerio-track"), workers=2)
    pipes = harness.queue(runtime, "customerio-pipelines.batch", sandbox.connection("customerio-pipelines"),
                          workers=2)
    ok_id, big_id = ulids(2)
    assert track.submit(event(ok_id))
    assert track.submit(event(big_id, data={"blob": marker * 2500}))  # one event of 40 KB: over 32 KB

    def call(message_id: str, blob: str = "") -> dict:
        return {"type": "track", "userId": "r2-person", "event": "R2", "messageId": message_id,
                "properties": {"blob": blob}}

    small = [f"small-{i}-{new_ulid()}" for i in range(3)]
    assert pipes.submit({"batch": [call(m) for m in small]})
    # 20 calls of about 29 KB each: every call is under 32 KB, the batch (about 580 KB) is over 500 KB
    assert pipes.submit({"batch": [call(f"big-{i}", marker * 1800) for i in range(20)]})
    assert pipes.submit({"batch": [call("big-call", marker * 2500)]})  # one call over 32 KB

    t_report, p_report = track.shutdown(deadline=10), pipes.shutdown(deadline=10)
    assert_accounted(t_report, 2)
    assert_accounted(p_report, 3)
    assert (t_report.delivered, p_report.delivered) == (1, 1)
    assert [(o.index, o.error) for o in t_report.rejected] == [(1, "InputValidationError")]
    assert [(o.index, o.error) for o in p_report.rejected] == [(1, "InputValidationError"),
                                                             (2, "InputValidationError")]
    messages = [o.message for o in t_report.rejected + p_report.rejected]
    assert "32768 bytes" in messages[0] and "512000 bytes" in messages[1] and "per item is 32768" in messages[2]
    assert not any(marker in m for m in messages)  # reasons name sizes and pointers, never payload values
    assert t_report.failed == () and p_report.failed == ()

    journal = sandbox.journal()
    assert sorted((e["connector"], e["status"]) for e in journal) == [("customerio-pipelines", 200),
                                                                      ("customerio-track", 200)]
    assert not any(marker in (e["body"] or "") for e in journal)
    assert committed_track_ids(sandbox) == [ok_id]
    assert sorted(c["messageId"] for c in sandbox.state()["pipelines_calls"]) == sorted(small)


def test_failed_calls_are_dead_lettered_with_reasons_under_seeded_faults(sandbox, harness):
    # Two scheduled 400s fail for sure (not retried); then 30% of requests get a 503, a reset before
    # the request is read, or a 429, none of which commits; with 2 attempts some of those fail too.
    sandbox.set_faults({"seed": 11, "rate": 0.3, "mix": {"503": 1, "reset_before": 1, "429": 1},
                        "schedule": [{"kind": "status", "status": 400}] * 2, "apis": ONLY_TRACK})
    letters = []
    letters_lock = threading.Lock()

    def dead_letter(item, outcome):
        with letters_lock:
            letters.append((item, outcome))

    queue = harness.queue(harness.runtime(retry={"max_attempts": 2}), TRACK_EVENT,
                          sandbox.connection("customerio-track"), workers=4, max_queue=1000, dead_letter=dead_letter)
    submitted: dict[int, dict] = {}
    submitted_lock = threading.Lock()

    def produce(worker: int) -> None:  # four producers submit at once: the queue is shared between threads
        for n in range(15):
            item = event(new_ulid()) if (worker, n) != (0, 7) else {"identifier": "..", "name": "bad"}
            sub = queue.submit(item)
            assert sub
            with submitted_lock:
                submitted[sub.index] = item

    producers = [threading.Thread(target=produce, args=(w,)) for w in range(4)]
    for thread in producers:
        thread.start()
    for thread in producers:
        thread.join(15)
    report = queue.shutdown(deadline=10)

    assert_accounted(report, 60)
    assert sorted(submitted) == list(range(60))
    assert [o.error for o in report.rejected] == ["InputValidationError"]
    assert len(report.failed) >= 2
    assert {o.error for o in report.failed} <= {"ClientError", "ServerError", "TransportError", "RateLimitError"}
    assert sum(o.error == "ClientError" and "HTTP 400" in o.message and not o.retryable for o in report.failed) == 2
    # the callback got each dead letter exactly once, with the item itself
    assert sorted(o.index for _, o in letters) == [o.index for o in report.failed]
    assert all(item is submitted[o.index] for item, o in letters)
    delivered_ids = sorted(item["event_id"] for index, item in submitted.items()
                           if index not in {o.index for o in report.rejected + report.failed})
    assert len(delivered_ids) == report.delivered
    assert committed_track_ids(sandbox) == delivered_ids  # exactly once each, and nothing dead-lettered landed


def test_shutdown_mid_run_dead_letters_queued_and_in_flight_items_and_a_resend_lands_once(sandbox, harness):
    # One worker, so the order is fixed: items 0, 2, 3 are delivered, item 1 is oversize, item 4's
    # call drips its answer (the event is already committed), items 5-11 are still queued.
    sandbox.set_faults({"schedule": [None, None, None, {"kind": "drip", "interval": 0.01}], "apis": ONLY_TRACK})
    runtime = harness.runtime()
    connection = sandbox.connection("customerio-track")
    letters = []
    queue = harness.queue(runtime, TRACK_EVENT, connection, workers=1,
                          dead_letter=lambda item, outcome: letters.append((item, outcome)))
    ids = ulids(12)
    items = [event(i) for i in ids]
    items[1] = event(ids[1], data={"blob": "x" * 40_000})
    assert all(queue.submit(item) for item in items)
    waited = time.monotonic()
    while not any(e["fault"] == "drip" for e in sandbox.journal()):
        assert time.monotonic() - waited < 10, "the dripping call never reached the sandbox"
        time.sleep(0.01)

    started = time.monotonic()
    report = queue.shutdown(deadline=0.2)
    assert time.monotonic() - started < 5  # the deadline holds although a call is still on the wire
    assert_accounted(report, 12)
    assert (report.delivered, len(report.rejected), len(report.failed)) == (3, 1, 8)
    assert [(o.index, o.error) for o in report.rejected] == [(1, "InputValidationError")]
    assert [(o.index, o.error) for o in report.failed] == [(4, IN_FLIGHT)] + [(i, NOT_SENT) for i in range(5, 12)]
    assert "may have been delivered" in report.failed[0].message and "nothing was sent" in report.failed[1].message
    assert all(o.retryable for o in report.failed)
    assert sorted(o.index for _, o in letters) == list(range(4, 12))

    late = queue.submit(event(new_ulid()))
    assert not late and late.error == QUEUE_CLOSED and late.index == 12
    after = queue.report()
    assert (after.total, len(after.rejected), after.dropped) == (13, 2, 0)

    assert queue.join(timeout=10)  # the dripping call finishes in the background...
    assert queue.report().failed == report.failed and queue.report().delivered == 3  # ...and changes no count
    assert committed_track_ids(sandbox) == sorted([ids[0], ids[2], ids[3], ids[4]])  # item 4 did land

    resent = deliver(runtime, TRACK_EVENT, [item for item, _ in letters], connection, workers=4)
    assert (resent.delivered, resent.dropped) == (8, 0)
    assert committed_track_ids(sandbox) == sorted(ids[:1] + ids[2:])  # every valid item exactly once
    assert sandbox.stats()["duplicates"]["customerio-track"] == 1  # item 4's resend was absorbed


def test_shutdown_while_workers_wait_to_retry_keeps_the_final_report_when_calls_finish_late(sandbox, harness):
    sandbox.set_faults({"schedule": ["503"] * 3, "apis": ONLY_TRACK})
    gate = Gate()
    queue = harness.queue(harness.runtime(sleep=gate), TRACK_EVENT, sandbox.connection("customerio-track"),
                          workers=3, max_queue=50)
    ids = ulids(20)
    assert all(queue.submit(event(i)) for i in ids)
    gate.wait_held(3)  # each worker got a 503 and waits to retry: 3 calls in flight, 17 queued
    live = queue.report()
    assert (live.total, live.pending, live.delivered, live.dropped) == (20, 20, 0, 0)

    started = time.monotonic()
    report = queue.shutdown(deadline=0.1)
    assert time.monotonic() - started < 5
    assert_accounted(report, 20)
    assert [o.error for o in report.failed].count(IN_FLIGHT) == 3
    assert [o.error for o in report.failed].count(NOT_SENT) == 17
    in_flight = sorted(ids[o.index] for o in report.failed if o.error == IN_FLIGHT)

    gate.open()  # the three retries now succeed, after the deadline
    assert queue.join(timeout=10)
    assert queue.report() == report  # late completions change nothing: the final report stands
    assert committed_track_ids(sandbox) == in_flight  # they landed, as "may have been delivered" warned


def test_context_manager_flushes_and_later_submits_are_rejected(sandbox, harness):
    runtime = harness.runtime()
    ids = ulids(25)
    with DeliveryQueue(runtime, TRACK_EVENT, sandbox.connection("customerio-track"), workers=4,
                       flush_at_exit=False) as queue:
        assert all(queue.submit(event(i)) for i in ids)
        assert queue.flush(timeout=10) and not queue.closed
        assert queue.report().delivered == 25
    final = queue.report()
    assert queue.closed
    assert_accounted(final, 25)
    assert final.delivered == 25
    late = queue.submit(event(new_ulid()))
    assert not late and late.error == QUEUE_CLOSED
    assert queue.report().total == 26 and queue.report().rejected[-1].index == 25
    assert queue.join(timeout=10)
    assert committed_track_ids(sandbox) == sorted(ids)


EXIT_SCRIPT = """
import json, sys
from relaykit import Runtime
from relaykit.delivery.queue import DeliveryQueue

connection, ids = json.loads(sys.argv[1]), json.loads(sys.argv[2])
queue = DeliveryQueue(Runtime(), "customerio-track.track_event", connection, workers=2,
                      dead_letter=lambda item, outcome: print("dead", item["event_id"], outcome.error, flush=True))
for event_id in ids:
    assert queue.submit({"identifier": "r2-exit", "name": "at_exit", "event_id": event_id})
print("pending", queue.report().pending, flush=True)
# no shutdown(): the flush at exit must deliver or dead-letter every item
"""


def test_items_still_queued_at_process_exit_are_flushed_or_dead_lettered(sandbox):
    sandbox.set_faults({"schedule": [{"kind": "status", "status": 400}], "apis": ONLY_TRACK})
    ids = ulids(30)
    proc = subprocess.run([sys.executable, "-c", EXIT_SCRIPT, json.dumps(sandbox.connection("customerio-track")),
                           json.dumps(ids)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = [line.split() for line in proc.stdout.splitlines()]
    pending = [int(words[1]) for words in lines if words[0] == "pending"]
    dead = [words[1:] for words in lines if words[0] == "dead"]
    assert pending and pending[0] > 0  # work was left when the script's last line ran
    assert len(dead) == 1 and dead[0][1] == "ClientError"
    assert committed_track_ids(sandbox) == sorted(set(ids) - {dead[0][0]})


def test_items_without_an_id_get_one_at_submit_so_a_resent_dead_letter_lands_once(sandbox, harness):
    """The caller gives no event id: the queue fixes one per item, and the dead letter carries it."""
    sandbox.set_faults({"schedule": ["reset_after"] * 3, "apis": ONLY_TRACK})  # committed, then the answer is lost
    letters = []
    queue = harness.queue(harness.runtime(retry={"max_attempts": 1}), TRACK_EVENT,
                          sandbox.connection("customerio-track"), workers=1, dead_letter=lambda i, o: letters.append(i))
    items = [{"identifier": "r2-person", "name": "r2_event", "data": {"n": n}} for n in range(5)]
    for item in items:
        assert queue.submit(item)
    report = queue.shutdown(deadline=10)
    assert_accounted(report, 5)
    assert report.delivered == 2 and len(letters) == 3
    assert all("event_id" not in item for item in items)  # the caller's items are never modified
    assert all(len(item["event_id"]) == 26 for item in letters)
    resent = deliver(harness.runtime(), TRACK_EVENT, letters, sandbox.connection("customerio-track"))
    assert resent.delivered == 3
    assert len(committed_track_ids(sandbox)) == 5  # the three resends were absorbed by id, not counted twice
    assert sandbox.stats()["duplicates"]["customerio-track"] == 3


def _force(node, parts, value):
    """A copy of `node` with `value` at the pointer `parts` (`*` walks a list), replacing what was there."""
    if not parts:
        return value
    head, rest = parts[0], parts[1:]
    if head == "*":
        return [_force(item, rest, value) for item in node]
    return {**node, head: _force(node.get(head), rest, value)}


def test_every_keyed_operation_says_where_its_id_goes_in_the_input(rt):
    """`input_key` must be an input field (the schemas refuse unknown ones) whose value a dry run sends."""
    keyed = [rt.operation(name) for name in rt.operations() if rt.operation(name).idempotency.mode == "keyed"]
    assert len(keyed) >= 8
    fixed = "01JAAAAAAAAAAAAAAAAAAAAAAA"  # a well-formed ULID no example uses
    for op in keyed:
        assert op.idempotency.input_key, op.qualified_name
        parts = op.idempotency.input_key.strip("/").split("/")
        assert op.examples, op.qualified_name
        given = _force(op.examples[0]["input"], parts, fixed)
        connection = {"site_id": SITE_ID, "api_key": TRACK_KEY} if op.connector.name == "customerio-track" \
            else {"api_key": PIPELINES_KEY}
        request = rt.dry_run(op.qualified_name, given, connection)
        sent_ids = json.dumps(request.json).count(fixed)
        assert sent_ids == json.dumps(given).count(fixed) >= 1, op.qualified_name


def test_a_backfill_requeued_from_with_dedupe_ids_lands_once(sandbox, harness):
    """`deliver` + `with_dedupe_ids`: failures re-queued by index carry the ids they were first sent with."""
    from relaykit.delivery.pool import with_dedupe_ids

    sandbox.set_faults({"schedule": ["reset_after"] * 4, "apis": ONLY_TRACK})  # committed, then the answer is lost
    inputs = [{"identifier": "r2-backfill", "name": "r2_event", "data": {"n": n}} for n in range(10)]
    items = with_dedupe_ids(harness.runtime(), TRACK_EVENT, inputs)
    assert all("event_id" not in item for item in inputs) and len({i["event_id"] for i in items}) == 10
    connection = sandbox.connection("customerio-track")
    report = deliver(harness.runtime(retry={"max_attempts": 1}), TRACK_EVENT, items, connection, workers=2)
    assert report.delivered == 6 and len(report.failed) == 4
    again = deliver(harness.runtime(), TRACK_EVENT, [items[o.index] for o in report.failed], connection)
    assert again.delivered == 4
    assert len(committed_track_ids(sandbox)) == 10  # not 14: the four re-sends were absorbed by id
    assert sandbox.stats()["duplicates"]["customerio-track"] == 4
