"""D1: acknowledged durable submits per second (`DeliveryQueue(store=...)`), against baselines from the same run.

Every variant submits the same Track event N times. The queue's one worker is parked: its first
call meets a refused loopback port and waits in a backoff that never ends, so the figure is the
submit path alone, not sending. Variants, each run once per round in rotating order, each on a
fresh store file:

* `store, 32 threads` (the target, >= 5,000/s): 32 submitting threads, `sync=full` (an fsync per
  commit); concurrent submits share commits (group commit), every one returns only once on disk,
  so the rate is about (submits waiting per commit) / (commit time);
* `store, 8 threads`: fewer concurrent submitters, smaller groups;
* `store, 1 thread` with `sync=full` and `sync=normal` (no fsync: survives SIGKILL, not power loss),
  and `submit_many` of 100 items (one commit per call);
* `memory, 32 threads` and `memory, 1 thread`: the same submits with no store (the upper bound);
* `sqlite, commit per insert`: raw `sqlite3` inserts of the same JSON, WAL, `synchronous=FULL`, one
  transaction each (what one durable submit at a time costs without relaykit);
* `sqlite, one transaction`: the same inserts in a single transaction (no durability per item).

The two variants that pay one fsync per submit run a fifth of N (a rate needs no more). The rate
of every fsync-bound variant follows the disk's commit latency, which on a shared machine moves
with the other tenants' load: compare variants within one run, as the ratios do.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.stats import summarise

TARGET = 5000.0
THREADS = 32  # the headline: concurrent submitters share commits (rate ~ group size / commit time)
EVENT = {"identifier": "bench-person", "name": "bench_event", "data": {"plan": "pro", "seats": 12}}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _queue_variant(store: str | None, threads: int, sync: str = "full", batch: int = 1) -> Callable[[int, Path], float]:
    def run(count: int, folder: Path) -> float:
        from relaykit import Runtime
        from relaykit.delivery.queue import DeliveryQueue
        from relaykit.sandbox import DEFAULT_SITE_ID, DEFAULT_TRACK_KEY

        parked = threading.Event()
        runtime = Runtime(sleep=lambda seconds: parked.wait(60))
        connection = {"site_id": DEFAULT_SITE_ID, "api_key": DEFAULT_TRACK_KEY, "region": "us",
                      "sandbox_url": f"http://127.0.0.1:{_closed_port()}"}
        queue = DeliveryQueue(runtime, "customerio-track.track_event", connection, workers=1, max_queue=count + 10,
                              flush_at_exit=False, store=None if store is None else folder / store, store_sync=sync)
        per = count // threads
        ready = threading.Barrier(threads + 1)
        refused = []

        def submit() -> None:
            ready.wait()
            if batch > 1:
                for _ in range(per // batch):
                    refused.extend(1 for s in queue.submit_many([EVENT] * batch) if not s)
                return
            for _ in range(per):
                if not queue.submit(EVENT):
                    refused.append(1)

        workers = [threading.Thread(target=submit) for _ in range(threads)]
        for worker in workers:
            worker.start()
        ready.wait()
        started = time.perf_counter()
        for worker in workers:
            worker.join()
        took = time.perf_counter() - started
        queue.shutdown(deadline=0)
        parked.set()
        queue.join(timeout=10)
        runtime.close()
        if refused:
            raise RuntimeError(f"{len(refused)} submits were refused")
        return (per // batch) * batch * threads / took

    return run


def _sqlite_variant(one_transaction: bool) -> Callable[[int, Path], float]:
    def run(count: int, folder: Path) -> float:
        import sqlite3

        from relaykit.delivery.outbox import SCHEMA

        conn = sqlite3.connect(folder / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(SCHEMA)
        row = json.dumps({**EVENT, "event_id": "01JBENCH0000000000000000000"}, separators=(",", ":"))
        sql = "INSERT INTO outbox (queue, item, stored) VALUES (?, ?, ?)"
        started = time.perf_counter()
        if one_transaction:
            conn.execute("BEGIN")
        for _ in range(count):
            if not one_transaction:
                conn.execute("BEGIN")
            conn.execute(sql, ("bench", row, time.time()))
            if not one_transaction:
                conn.execute("COMMIT")
        if one_transaction:
            conn.execute("COMMIT")
        took = time.perf_counter() - started
        conn.close()
        return count / took

    return run


SERIAL_FSYNC = {"store, 1 thread", "sqlite, commit per insert"}  # one fsync per submit: a fifth of N is plenty
VARIANTS: dict[str, Callable[[int, Path], float]] = {
    "store, 32 threads": _queue_variant("outbox.db", THREADS),
    "store, 8 threads": _queue_variant("outbox.db", 8),
    "store, 1 thread": _queue_variant("outbox.db", 1),
    "store, 1 thread, submit_many(100)": _queue_variant("outbox.db", 1, batch=100),
    "store, 1 thread, sync=normal": _queue_variant("outbox.db", 1, "normal"),
    "store, 32 threads, sync=normal": _queue_variant("outbox.db", THREADS, "normal"),
    "memory, 32 threads": _queue_variant(None, THREADS),
    "memory, 1 thread": _queue_variant(None, 1),
    "sqlite, commit per insert": _sqlite_variant(False),
    "sqlite, one transaction": _sqlite_variant(True),
}


def measure(*, rounds: int, count: int) -> dict[str, list[float]]:
    """Submits per second of every variant, one value per round (order rotated round by round)."""
    import logging

    logging.getLogger("relaykit.delivery").setLevel(logging.ERROR)  # the parked queues' shutdown warnings
    names = list(VARIANTS)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        order = names[index % len(names):] + names[:index % len(names)]
        for name in order:
            with tempfile.TemporaryDirectory(prefix="relaykit-bench-outbox-") as folder:
                rates[name].append(VARIANTS[name](count // 5 if name in SERIAL_FSYNC else count, Path(folder)))
    return rates


def run_outbox(*, rounds: int, count: int) -> list[dict[str, Any]]:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rates = measure(rounds=rounds, count=count)
    load = max(load, os.getloadavg()[0]) if hasattr(os, "getloadavg") else load
    context = {name: statistics.median(values) for name, values in rates.items()}
    head = summarise(rates["store, 32 threads"])
    label = (f"acknowledged durable submits/s ({THREADS} threads, sync=full, {count} per round; "
             f"machine load average up to {load:.1f})")
    figures = [{"id": "D1", "figure": label,
                "kind": "rate", "value": head["median"], "spread": head, "target": TARGET,
                "target_text": f">= {TARGET:,.0f}/s", "met": head["median"] >= TARGET, "context_rate": context}]
    for a, b in (("store, 32 threads", "memory, 32 threads"), ("store, 1 thread", "sqlite, commit per insert"),
                 ("store, 32 threads", "sqlite, commit per insert"), ("store, 32 threads", "sqlite, one transaction")):
        spread = summarise([x / y for x, y in zip(rates[a], rates[b], strict=True)])
        figures.append({"id": "D1b", "figure": f"submits/s: {a} / {b}", "kind": "ratio", "value": spread["median"],
                        "spread": spread, "target": None, "target_text": "(context)", "met": True, "scored": False,
                        "context_rate": {a: context[a], b: context[b]}})
    return figures
