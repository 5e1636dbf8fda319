"""Run one operation over many inputs and account for every item: delivered, rejected or failed.

A backfill must never lose an item silently (goal R2): each input ends in exactly one bucket, and
the report says so with counts that sum to the input count. Items go through `Runtime.run` (so
they get the same validation, rate limits, retries and dedupe ids as single calls) on a small
thread pool; the runtime is thread-safe and its rate-limit buckets are shared by the workers.

    events = with_dedupe_ids(runtime, "customerio-track.track_event", events)   # one id per item, now
    report = deliver(runtime, "customerio-track.track_event", events, connection, workers=8)
    report.delivered, report.rejected, report.failed
    retry = [events[o.index] for o in report.failed]    # same ids: what already landed is counted once

For items that arrive over time (an analytics-style client), `relaykit.delivery.DeliveryQueue`
keeps the same accounting with a bounded queue, background workers and a shutdown deadline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..call.dedupe import with_dedupe_id
from ..errors import CallError, RelaykitError

__all__ = ["DeliveryReport", "ItemOutcome", "deliver", "run_item", "with_dedupe_id", "with_dedupe_ids"]

log = logging.getLogger("relaykit.delivery")


@dataclass(frozen=True)
class ItemOutcome:
    """One item that did not make it: its input index, the error class and the error's message.

    `error` is a relaykit error class name, or a `DeliveryQueue`'s own reason (`QueueFull`, `NotSent`, ...).
    Messages follow relaykit's rule: pointers, statuses and API error text, never payload values.
    """

    index: int
    error: str
    message: str
    retryable: bool = False


@dataclass(frozen=True)
class DeliveryReport:
    """Counts of one delivery run; `delivered + len(rejected) + len(failed) + pending + kept == total` always holds."""

    total: int
    delivered: int
    rejected: tuple[ItemOutcome, ...] = ()  # refused before sending (invalid input, limits): fix and resend
    failed: tuple[ItemOutcome, ...] = ()  # not confirmed (retries exhausted, 4xx/5xx, left at a queue's
    # shutdown deadline): dead letters
    attempts: int = 0  # HTTP attempts over all items
    retried: int = 0  # items that needed more than one attempt
    elapsed: float = 0.0
    pending: int = 0  # queued or in flight: only a live `DeliveryQueue` report has any
    kept: int = 0  # a queue with a store: left on disk at shutdown, sent by the next queue on the store
    recovered: int = 0  # of `total`, items a queue with a store found left by an earlier run

    @property
    def dropped(self) -> int:
        """Items in no bucket; 0 unless relaykit has a bug (the tests hold it to 0)."""
        return self.total - self.delivered - len(self.rejected) - len(self.failed) - self.pending - self.kept

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total, "delivered": self.delivered, "rejected": len(self.rejected),
            "failed": len(self.failed), "dropped": self.dropped, "attempts": self.attempts,
            "retried": self.retried, "elapsed": round(self.elapsed, 3), "pending": self.pending,
            "kept": self.kept, "recovered": self.recovered,
        }


Verdict = tuple[str, ItemOutcome | None, int]  # bucket, why it did not make it, HTTP attempts


def with_dedupe_ids(runtime: Any, operation: str, items: Iterable[Any]) -> list[Any]:
    """`with_dedupe_id` for a whole backfill: keep the returned list, and re-queue failures from it.

    A failed item (retries exhausted, maybe sent) re-queued from the original inputs would get a
    fresh id and could be counted twice; re-queued from this list it carries the id it was sent with.
    """
    idempotency = runtime.operation(operation).idempotency
    return [with_dedupe_id(idempotency, item) for item in items]


def run_item(runtime: Any, operation: str, item: Any, connection: Any, index: int) -> Verdict:
    """Run one item: its bucket (`delivered`, `rejected` or `failed`), why it did not make it, HTTP attempts.

    Shared by `deliver` and `DeliveryQueue` so both classify an error the same way.
    """
    try:
        result = runtime.run(operation, item, connection)
    except CallError as exc:
        return "failed", ItemOutcome(index, type(exc).__name__, str(exc), exc.retryable), exc.attempts
    except RelaykitError as exc:  # refused before anything was sent
        return "rejected", ItemOutcome(index, type(exc).__name__, str(exc)), 0
    except Exception as exc:  # a bug somewhere: still accounted for, never dropped
        log.error("%s: item %d raised %s", operation, index, type(exc).__name__, exc_info=True)
        return "failed", ItemOutcome(index, type(exc).__name__, "unexpected error (see logs)", False), 0
    return "delivered", None, result.attempts


def deliver(runtime: Any, operation: str, inputs: Iterable[Mapping[str, Any]], connection: Any = None, *,
            workers: int = 8) -> DeliveryReport:
    """Run `operation` once per input on `workers` threads and report what became of each item."""
    items = list(inputs)
    lock = threading.Lock()
    delivered = attempts = retried = 0
    rejected: list[ItemOutcome] = []
    failed: list[ItemOutcome] = []
    started = time.monotonic()

    def one(index: int) -> None:
        nonlocal delivered, attempts, retried
        bucket, outcome, tries = run_item(runtime, operation, items[index], connection, index)
        with lock:
            attempts += tries
            retried += tries > 1
            if bucket == "delivered":
                delivered += 1
            elif outcome is not None:
                (rejected if bucket == "rejected" else failed).append(outcome)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="relaykit-deliver") as pool:
        for future in [pool.submit(one, i) for i in range(len(items))]:
            future.result()
    return DeliveryReport(
        total=len(items), delivered=delivered, rejected=tuple(sorted(rejected, key=lambda o: o.index)),
        failed=tuple(sorted(failed, key=lambda o: o.index)), attempts=attempts, retried=retried,
        elapsed=time.monotonic() - started,
    )
