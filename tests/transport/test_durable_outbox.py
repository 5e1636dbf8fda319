"""Issue 14 section 1: a `DeliveryQueue` with a store loses nothing across a crash, against the real sandbox.

The in-process tests pin the store's contract: an item is on disk (dedupe id fixed) when `submit`
returns, leaves only when final, what a shutdown deadline leaves is kept and resent by the next
queue with the same ids. The kill tests run real child processes (`outbox_child.py`) that submit
paced items and write an `ack` line as each `submit` returns; the test SIGKILLs them at seeded
random moments, restarts a drainer on the same store, and checks the sandbox's state: every
acknowledged keyed event landed exactly once; every unsafe send landed at most once and each
acknowledged one either landed or is a `MaybeSent` dead letter on disk. SIGTERM and SIGHUP drain
within the exit deadline and keep the rest for the next run.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from relaykit import Runtime
from relaykit.delivery import deliver
from relaykit.delivery.outbox import Outbox
from relaykit.delivery.queue import MAYBE_SENT, STORE_FAILED, DeliveryQueue
from relaykit.delivery.sources import read_jsonl
from relaykit.durable import StoreLockedError

TRACK_EVENT = "customerio-track.track_event"
SEND = "customerio-app.raw_http_request"
ONLY_TRACK = ["customerio-track"]
CHILD = str(Path(__file__).with_name("outbox_child.py"))


@pytest.fixture
def runtime():
    made = Runtime(sleep=lambda seconds: None)
    yield made
    made.close()


def event(tag: str, **extra) -> dict:
    return {"identifier": "kill-person", "name": "kill_event", "data": {"tag": tag}, **extra}


def stored_rows(path: Path) -> list[tuple[str, int]]:
    """Read the store from another connection, as a restarted process would."""
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT item, sending FROM outbox ORDER BY seq").fetchall()


def landed_tags(sandbox, prefix: str = "") -> Counter:
    return Counter(e["data"].get("tag") for e in sandbox.state()["events"]
                   if e["source"] == "track-v1" and str(e["data"].get("tag", "")).startswith(prefix))


def sent_subjects(sandbox, prefix: str = "") -> Counter:
    return Counter(m["subject"] for m in sandbox.state()["messages"] if str(m["subject"]).startswith(prefix))


def test_submit_returns_with_the_item_and_its_dedupe_id_on_disk_and_it_leaves_only_when_final(
        sandbox, runtime, tmp_path):
    store = tmp_path / "outbox.db"
    sandbox.set_faults({"schedule": ["503"], "apis": ONLY_TRACK})  # the first call waits at the gate below
    gate, held = threading.Event(), threading.Event()

    def sleep(seconds: float) -> None:
        held.set()
        gate.wait(10)

    slow = Runtime(sleep=sleep)
    queue = DeliveryQueue(slow, TRACK_EVENT, sandbox.connection("customerio-track"), workers=1, store=store,
                          flush_at_exit=False)
    try:
        assert queue.submit(event("first"))
        assert queue.submit(event("second"))
        rows = stored_rows(store)  # both on disk the moment submit returned, ids fixed
        items = [json.loads(item) for item, _ in rows]
        assert [i["data"]["tag"] for i in items] == ["first", "second"]
        assert all(len(i["event_id"]) == 26 for i in items)
        assert held.wait(10)  # "first" is in flight: still stored
        assert len(stored_rows(store)) == 2 and sandbox.state()["events"] == []
        gate.set()
        assert queue.flush(timeout=10)
        report = queue.shutdown(deadline=5)
    finally:
        gate.set()
        queue.shutdown(deadline=0)
        slow.close()
    assert (report.delivered, report.dropped, report.kept) == (2, 0, 0)
    assert stored_rows(store) == []
    assert sorted(landed_tags(sandbox)) == ["first", "second"]
    assert {e["dedupe_id"] for e in sandbox.state()["events"]} == {i["event_id"] for i in items}  # the stored ids


def test_rejected_items_leave_the_store_and_dead_letters_are_kept_on_disk_with_their_reason(
        sandbox, runtime, tmp_path):
    store = tmp_path / "outbox.db"
    sandbox.set_faults({"schedule": [{"kind": "status", "status": 400}], "apis": ONLY_TRACK})
    letters = []
    queue = DeliveryQueue(runtime, TRACK_EVENT, sandbox.connection("customerio-track"), workers=1, store=store,
                          flush_at_exit=False, dead_letter=lambda item, outcome: letters.append(item))
    assert queue.submit(event("refused-by-the-api"))
    assert queue.submit(event("too-big", data={"blob": "x" * 40_000}))  # over 32 KB: rejected before sending
    assert queue.submit(event("fine"))
    not_json = queue.submit(event("not-json", data={"a set": {1, 2}}))
    assert not not_json and not_json.error == STORE_FAILED and "JSON" in not_json.reason
    report = queue.shutdown(deadline=10)
    assert (report.total, report.delivered, len(report.rejected), len(report.failed), report.dropped) == (4, 1, 2, 1, 0)
    assert stored_rows(store) == []
    outbox = Outbox(store)
    try:
        dead = outbox.dead_letters()
    finally:
        outbox.close()
    assert [(d.item["data"]["tag"], d.error) for d in dead] == [("refused-by-the-api", "ClientError")]
    assert letters == [dead[0].item]  # the callback got the item with the id it was sent with
    assert landed_tags(sandbox) == Counter({"fine": 1})


def test_dead_letters_on_disk_export_to_a_resendable_file_and_are_forgotten_only_then(sandbox, runtime, tmp_path):
    store, exported = tmp_path / "outbox.db", tmp_path / "dead.jsonl"
    sandbox.set_faults({"schedule": [{"kind": "status", "status": 503}] * 40, "apis": ONLY_TRACK})
    queue = DeliveryQueue(runtime, TRACK_EVENT, sandbox.connection("customerio-track"), workers=1, store=store,
                          flush_at_exit=False)
    assert all(queue.submit(event(f"later-{i}")) for i in range(2))
    report = queue.shutdown(deadline=10)
    assert len(report.failed) == 2 and landed_tags(sandbox) == Counter()
    outbox = Outbox(store)
    try:
        ids = sorted(d.item["event_id"] for d in outbox.dead_letters())
        assert outbox.export_dead_letters(exported, forget=True) == 2
        assert outbox.dead_letters() == [] and outbox.forget_dead_letters([1, 2, 3]) == 0
    finally:
        outbox.close()
    with exported.open("rb") as stream:
        records = list(read_jsonl(stream, "dead.jsonl"))
    assert sorted(r.value["event_id"] for r in records) == ids  # each item with the id it was first sent with
    sandbox.set_faults(None)
    resend = deliver(runtime, TRACK_EVENT, [r.value for r in records], sandbox.connection("customerio-track"))
    assert resend.delivered == 2
    assert landed_tags(sandbox) == Counter({"later-0": 1, "later-1": 1})


def test_a_second_queue_cannot_open_a_store_in_use(sandbox, runtime, tmp_path):
    store = tmp_path / "outbox.db"
    queue = DeliveryQueue(runtime, TRACK_EVENT, sandbox.connection("customerio-track"), store=store,
                          flush_at_exit=False)
    try:
        code = ("import sys; from relaykit.delivery.outbox import Outbox\n"
                "from relaykit.durable import StoreLockedError\n"
                "try: Outbox(sys.argv[1])\nexcept StoreLockedError as e: print(e); sys.exit(3)")
        proc = subprocess.run([sys.executable, "-c", code, str(store)], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 3 and "another process" in proc.stdout, proc.stderr
    finally:
        queue.shutdown(deadline=0)
    Outbox(store).close()  # released at shutdown
    with pytest.raises(StoreLockedError):  # and a second open in one process is refused as well
        first = Outbox(store)
        try:
            Outbox(store)
        finally:
            first.close()


def test_what_the_deadline_leaves_is_kept_and_the_next_queue_sends_it_with_the_same_ids(sandbox, tmp_path):
    store = tmp_path / "outbox.db"
    gate = threading.Event()
    sandbox.set_faults({"schedule": ["503"], "apis": ONLY_TRACK})
    held = Runtime(sleep=lambda seconds: gate.wait(10))  # the first call holds its worker in a backoff
    first = DeliveryQueue(held, TRACK_EVENT, sandbox.connection("customerio-track"), workers=1, store=store,
                          flush_at_exit=False)
    for n in range(5):
        assert first.submit(event(f"kept-{n}"))
    report = first.shutdown(deadline=0.2)
    gate.set()
    assert first.join(timeout=10)
    held.close()
    assert (report.total, report.delivered, report.failed, report.kept, report.dropped) == (5, 0, (), 5, 0)
    ids = {json.loads(item)["data"]["tag"]: json.loads(item)["event_id"] for item, _ in stored_rows(store)}
    assert sorted(ids) == [f"kept-{n}" for n in range(5)]  # the in-flight one too: it may have landed

    fresh = Runtime(sleep=lambda seconds: None)
    try:
        second = DeliveryQueue(fresh, TRACK_EVENT, sandbox.connection("customerio-track"), store=store,
                               flush_at_exit=False)
        assert second.flush(timeout=10)
        again = second.shutdown(deadline=5)
    finally:
        fresh.close()
    assert (again.total, again.recovered, again.delivered, again.dropped) == (5, 5, 5, 0)
    assert landed_tags(sandbox) == Counter({f"kept-{n}": 1 for n in range(5)})
    assert {e["data"]["tag"]: e["dedupe_id"] for e in sandbox.state()["events"]} == ids
    assert stored_rows(store) == []


# -- kill tests: real child processes ---------------------------------------------------------------------


class Child:
    """An `outbox_child.py` process; its `ack` lines are collected as they arrive."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, CHILD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(10)
        return code

    def acks(self) -> set[str]:
        return {line.split()[1] for line in self.lines if line.startswith("ack ")}

    def report(self) -> dict:
        reports = [json.loads(line[7:]) for line in self.lines if line.startswith("report ")]
        assert len(reports) == 1, (self.lines[-5:], self.proc.stderr.read() if self.proc.stderr else "")
        return reports[0]

    def wait_for(self, predicate, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while not predicate() and time.monotonic() < end:
            time.sleep(0.02)
        assert predicate(), self.lines[-3:]


def drain(store: Path, connection: dict, kind: str) -> dict:
    child = Child("drain", str(store), json.dumps(connection), kind)
    assert child.wait(90) == 0, child.proc.stderr.read() if child.proc.stderr else ""
    return child.report()


def test_sigkill_at_random_moments_loses_no_acknowledged_keyed_event_and_duplicates_none(sandbox, tmp_path, figures):
    rng = random.Random(14)
    connection = sandbox.connection("customerio-track")
    for round_ in range(3):
        store = tmp_path / f"track-{round_}.db"
        prefix = f"k{round_}"
        child = Child("submit", str(store), json.dumps(connection), "track", prefix, "400", "1000", "5", "4")
        child.wait_for(lambda c=child: len(c.acks()) >= 20)
        time.sleep(rng.uniform(0.0, 0.9))  # mid-submit, mid-send, or after the last submit
        child.proc.send_signal(signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
        acked = child.acks()
        before = landed_tags(sandbox, prefix + "-")
        left = len(stored_rows(store))
        report = drain(store, connection, "track")
        landed = landed_tags(sandbox, prefix + "-")
        figures.add("R9", f"SIGKILL round {round_}: {len(acked)} acked, {sum(before.values())} landed before, "
                          f"{left} left in the store, drained {report['delivered']}")
        assert report["recovered"] == left and report["dropped"] == 0 and report["failed"] == 0
        assert acked <= set(landed), f"lost: {sorted(acked - set(landed))[:5]}"
        assert max(landed.values()) == 1  # resent with the stored ids: every resend of a landed one was absorbed
        assert stored_rows(store) == []


def test_sigkill_never_sends_an_unsafe_item_twice_and_accounts_for_every_acknowledged_one(sandbox, tmp_path, figures):
    rng = random.Random(41)
    connection = sandbox.connection("customerio-app")
    for round_ in range(2):
        store = tmp_path / f"send-{round_}.db"
        prefix = f"u{round_}"
        child = Child("submit", str(store), json.dumps(connection), "send", prefix, "150", "1000", "5", "4")
        child.wait_for(lambda c=child: len(c.acks()) >= 20)
        time.sleep(rng.uniform(0.0, 0.5))
        child.proc.send_signal(signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
        acked = child.acks()
        report = drain(store, connection, "send")
        sent = sent_subjects(sandbox, prefix + "-")
        outbox = Outbox(store)
        try:
            dead = outbox.dead_letters()
        finally:
            outbox.close()
        maybe = {d.item["body"]["json"]["subject"] for d in dead}
        figures.add("R9", f"SIGKILL unsafe round {round_}: {len(acked)} acked, {sum(sent.values())} sent, "
                          f"{len(maybe)} dead-lettered MaybeSent")
        assert all(d.error == MAYBE_SENT for d in dead) and report["failed"] == len(dead)
        assert max(sent.values()) == 1  # at most once
        assert acked <= set(sent) | maybe, f"lost: {sorted(acked - set(sent) - maybe)[:5]}"
        assert report["dropped"] == 0 and stored_rows(store) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_drain_within_the_deadline_and_keep_the_rest(sandbox, tmp_path, signum, figures):
    connection = sandbox.connection("customerio-track")
    store = tmp_path / "outbox.db"
    prefix = f"t{signum}"
    child = Child("submit", str(store), json.dumps(connection), "track", prefix, "1000", "5000", "1")
    child.wait_for(lambda: "submitted" in child.lines)
    signalled = time.monotonic()
    child.proc.send_signal(signum)
    assert child.wait() == 128 + signum  # an orderly exit, not death by the signal
    took = time.monotonic() - signalled
    report = child.report()
    acked = child.acks()
    figures.add("R9", f"{signal.Signals(signum).name}: exit in {took:.2f} s, {report['delivered']} delivered, "
          f"{report['kept']} kept")
    assert len(acked) == 1000 and report["total"] == 1000 and report["dropped"] == 0
    assert report["kept"] > 0 and report["failed"] == 0  # the deadline passed: kept on disk, not dead-lettered
    assert took < 1 + 3  # the 1 s exit deadline plus start-up slack
    assert len(stored_rows(store)) == report["kept"]
    drained = drain(store, connection, "track")
    assert drained["recovered"] == report["kept"] and drained["delivered"] == report["kept"]
    landed = landed_tags(sandbox, prefix + "-")
    assert set(landed) == acked and max(landed.values()) == 1


def test_sigterm_without_a_store_dead_letters_what_is_left_instead_of_losing_it(sandbox, figures):
    connection = sandbox.connection("customerio-track")
    child = Child("submit", "-", json.dumps(connection), "track", "nostore", "1000", "5000", "0.5")
    child.wait_for(lambda: "submitted" in child.lines)
    child.proc.send_signal(signal.SIGTERM)
    assert child.wait() == 128 + signal.SIGTERM
    report = child.report()
    landed = landed_tags(sandbox, "nostore-")
    figures.add("R9", f"SIGTERM without a store: {report['delivered']} delivered, {report['failed']} dead-lettered")
    assert report["total"] == 1000 and report["dropped"] == 0 and report["failed"] > 0
    # dead-lettered InFlight (at most one per worker) may have landed too
    assert report["delivered"] <= sum(landed.values()) <= report["delivered"] + 4


def test_submit_many_stores_a_batch_in_one_commit_and_rejects_what_does_not_fit(sandbox, runtime, tmp_path):
    store = tmp_path / "outbox.db"
    parked = threading.Event()
    held = Runtime(sleep=lambda seconds: parked.wait(10))
    sandbox.set_faults({"schedule": ["503"], "apis": ONLY_TRACK})  # the worker parks on the first item
    queue = DeliveryQueue(held, TRACK_EVENT, sandbox.connection("customerio-track"), workers=1, max_queue=4,
                          store=store, flush_at_exit=False)
    try:
        outbox = queue._outbox
        commits = outbox.store.commits
        subs = queue.submit_many([event(f"many-{n}") for n in range(6)])
        assert outbox.store.commits == commits + 1  # one group commit for the accepted ones
        assert [bool(s) for s in subs] == [True] * 4 + [False] * 2 and subs[4].error == "QueueFull"
        assert [json.loads(item)["data"]["tag"] for item, _ in stored_rows(store)] == [f"many-{n}" for n in range(4)]
        parked.set()
        assert queue.flush(timeout=10)
    finally:
        parked.set()
        report = queue.shutdown(deadline=5)
        held.close()
    assert (report.delivered, len(report.rejected), report.dropped) == (4, 2, 0)
    assert landed_tags(sandbox) == Counter({f"many-{n}": 1 for n in range(4)})


def test_exit_signals_are_held_by_open_queues_and_leave_other_handlers_alone(sandbox, runtime, tmp_path):
    from relaykit import exit_signals

    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    first = DeliveryQueue(runtime, TRACK_EVENT, sandbox.connection("customerio-track"))  # flush_at_exit: holds
    second = DeliveryQueue(runtime, TRACK_EVENT, sandbox.connection("customerio-track"))
    try:
        assert signal.getsignal(signal.SIGTERM) is exit_signals._exit
        with pytest.raises(SystemExit) as raised:
            signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)
        assert raised.value.code == 128 + signal.SIGTERM
        first.shutdown(deadline=1)
        assert signal.getsignal(signal.SIGTERM) is exit_signals._exit  # the second queue still holds it
    finally:
        first.shutdown(deadline=0)
        second.shutdown(deadline=1)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and signal.getsignal(signal.SIGHUP) is signal.SIG_DFL

    def mine(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        third = DeliveryQueue(runtime, TRACK_EVENT, sandbox.connection("customerio-track"))
        assert signal.getsignal(signal.SIGTERM) is mine  # someone else's handler is never replaced
        third.shutdown(deadline=1)
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_new_store_is_readable_by_its_owner_only(sandbox, runtime, tmp_path):
    import os
    import stat

    store = tmp_path / "outbox.db"
    queue = DeliveryQueue(runtime, TRACK_EVENT, sandbox.connection("customerio-track"), store=store,
                          flush_at_exit=False)
    try:
        assert queue.submit(event("private"))
        for path in (store, Path(f"{store}-wal"), Path(f"{store}.lock")):
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    finally:
        queue.shutdown(deadline=5)
