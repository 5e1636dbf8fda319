"""A bounded background deliverer: submit from any thread, workers send, and every item is accounted for.

Analytics clients in the Segment style put events on an in-memory queue and send them from a
background thread; what their users report most is events dropped without a word when that queue
is full, and events lost when the process exits. `DeliveryQueue` keeps the shape (a `submit` that
never blocks unless asked to, a few workers, a flush at exit) and keeps goal R2: every submitted
item ends delivered, rejected with a reason (queue full, queue closed, invalid input such as an
event over 32 KB) or dead-lettered with a reason (a failed call, or still queued or in flight when
the shutdown deadline passed). `report()` counts them at any time, with `pending` for the rest.

    queue = DeliveryQueue(runtime, "customerio-track.track_event", connection, dead_letter=save)
    if not queue.submit(event):          # refused at once; `.reason` says why, and it is counted
        ...
    report = queue.shutdown(deadline=5)  # flush; whatever is left is dead-lettered, never dropped
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .pool import DeliveryReport, ItemOutcome, run_item, with_dedupe_id

log = logging.getLogger("relaykit.delivery")

DEFAULT_DEADLINE = 5.0  # seconds `shutdown` (and the flush at exit) spends sending what is queued

# The `error` of outcomes the queue itself decides (the others are relaykit error class names).
QUEUE_FULL = "QueueFull"  # rejected: `max_queue` items were waiting
QUEUE_CLOSED = "QueueClosed"  # rejected: submitted after shutdown
NOT_SENT = "NotSent"  # dead-lettered: still queued at the shutdown deadline
IN_FLIGHT = "InFlight"  # dead-lettered: its call was running at the deadline and may yet land

DeadLetter = Callable[[Any, ItemOutcome], None]


@dataclass(frozen=True)
class Submission:
    """What `submit` did with an item: its index in the report and, if refused, why. Truthy when queued."""

    index: int
    accepted: bool
    error: str | None = None
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.accepted


class DeliveryQueue:
    """Run one operation over submitted items on background workers; `shutdown` returns the final report.

    Args:
        max_queue: items that may wait; beyond it `submit` rejects (or waits, with `block=True`).
        workers: sending threads, sharing the runtime's rate-limit buckets and retries.
        dead_letter: `callable(item, outcome)`, called once for every dead-lettered item, from a
            worker or from `shutdown`; an exception it raises is logged and changes no count.
        flush_at_exit: if the process exits before `shutdown`, shut down then with `exit_deadline`
            (the workers are daemon threads, which the interpreter would otherwise just stop).

    Items are handed to `Runtime.run` as given, except that a keyed operation's missing dedupe id
    (`event_id`, `messageId`) is filled in at `submit` (see `delivery.with_dedupe_id`): the item a
    `dead_letter` callback receives carries the id it was sent with, so resending it lands once.
    Do not change an item after submitting it.
    """

    def __init__(self, runtime: Any, operation: str, connection: Any = None, *, max_queue: int = 10_000,
                 workers: int = 4, dead_letter: DeadLetter | None = None, flush_at_exit: bool = True,
                 exit_deadline: float = DEFAULT_DEADLINE) -> None:
        if max_queue < 1 or workers < 1:
            raise ValueError("max_queue and workers must be at least 1")
        self.operation = operation
        self._idempotency = runtime.operation(operation).idempotency  # an unknown name fails here, not per item
        self.max_queue = max_queue
        self._runtime = runtime
        self._connection = connection
        self._dead_letter = dead_letter
        self._exit_deadline = exit_deadline
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)  # workers: an item was queued, or the queue closed
        self._changed = threading.Condition(self._lock)  # submitters and shutdown: an item moved on
        self._queue: deque[tuple[int, Any]] = deque()
        self._in_flight: dict[int, Any] = {}
        self._callbacks = 0  # dead-letter callbacks running: `shutdown` lets them finish within its deadline
        self._submitted = self._delivered = self._attempts = self._retried = 0
        self._rejected: list[ItemOutcome] = []
        self._failed: list[ItemOutcome] = []
        self._closed = False
        self._started = time.monotonic()
        self._finished: float | None = None
        self._threads = [threading.Thread(target=self._work, name=f"relaykit-queue-{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()
        self._exit_hook = flush_at_exit
        if flush_at_exit:
            atexit.register(self._at_exit)

    # -- producers ----------------------------------------------------------------------------
    def submit(self, item: Any, *, block: bool = False, timeout: float | None = None) -> Submission:
        """Queue `item`; when full, reject it at once, or with `block=True` wait up to `timeout` seconds first.

        A rejected item is counted (`QueueFull` or `QueueClosed`) and never sent. A blocked submit
        also returns when the queue shuts down, so with `timeout=None` it waits only as long as the
        queue is open and full.
        """
        item = with_dedupe_id(self._idempotency, item)
        with self._lock:
            if block and not self._closed and len(self._queue) >= self.max_queue:
                self._changed.wait_for(lambda: self._closed or len(self._queue) < self.max_queue, timeout)
            index = self._submitted
            self._submitted += 1
            if self._closed:
                outcome = ItemOutcome(index, QUEUE_CLOSED, "the queue is shut down; nothing was sent")
            elif len(self._queue) >= self.max_queue:
                outcome = ItemOutcome(index, QUEUE_FULL, f"the queue is full ({self.max_queue} items waiting); "
                                      "nothing was sent", retryable=True)
            else:
                self._queue.append((index, item))
                self._ready.notify()
                return Submission(index, True)
            self._rejected.append(outcome)
        return Submission(index, False, outcome.error, outcome.message)

    # -- workers ------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if not self._queue:  # closed, and drained (or emptied by the shutdown deadline)
                    return
                index, item = self._queue.popleft()
                self._in_flight[index] = item
                self._changed.notify_all()  # room for a blocked submit
            bucket, outcome, tries = run_item(self._runtime, self.operation, item, self._connection, index)
            self._settle(index, item, bucket, outcome, tries)

    def _settle(self, index: int, item: Any, bucket: str, outcome: ItemOutcome | None, tries: int) -> None:
        notify = False
        with self._lock:
            late = index not in self._in_flight  # dead-lettered as InFlight by `shutdown`: counted already
            if not late:
                del self._in_flight[index]
                self._attempts += tries
                self._retried += tries > 1
                if bucket == "delivered":
                    self._delivered += 1
                elif outcome is not None and bucket == "rejected":
                    self._rejected.append(outcome)
                elif outcome is not None:
                    self._failed.append(outcome)
                    notify = self._dead_letter is not None
                    self._callbacks += notify
            self._changed.notify_all()
        if late:
            log.warning("%s: item %d, dead-lettered in flight at the shutdown deadline, finished late: %s",
                        self.operation, index, bucket)
        elif notify and outcome is not None:
            self._call_dead_letter([(item, outcome)])

    def _call_dead_letter(self, letters: list[tuple[Any, ItemOutcome]]) -> None:
        assert self._dead_letter is not None
        for item, outcome in letters:
            try:
                self._dead_letter(item, outcome)
            except Exception:
                log.error("%s: the dead_letter callback failed for item %d", self.operation, outcome.index,
                          exc_info=True)
            finally:
                with self._lock:
                    self._callbacks -= 1
                    self._changed.notify_all()

    # -- lifecycle ----------------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or in flight (the queue stays open); False if `timeout` ran out."""
        with self._lock:
            return self._changed.wait_for(lambda: not (self._queue or self._in_flight or self._callbacks), timeout)

    def shutdown(self, deadline: float | None = DEFAULT_DEADLINE) -> DeliveryReport:
        """Stop accepting, send what can be sent within `deadline` seconds, dead-letter the rest: the final report.

        An item still queued at the deadline is dead-lettered `NotSent`; one whose call is running,
        `InFlight`: it may yet land, so resend it with the same idempotency key (event `id`,
        `messageId`), which the API deduplicates. Its worker finishes that call in the background
        without changing the report; `join` waits for it. Returns after the deadline plus the time
        the `dead_letter` callbacks for those items take. Calling it again returns the report.
        """
        if threading.current_thread() in self._threads:
            raise RuntimeError("shutdown() called from a dead_letter callback would wait for itself")
        end = None if deadline is None else time.monotonic() + max(0.0, deadline)
        with self._lock:
            self._closed = True
            self._ready.notify_all()
            self._changed.notify_all()  # blocked submits return (rejected: closed)
            while self._queue or self._in_flight or self._callbacks:
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._changed.wait(left)
            letters = [(item, ItemOutcome(index, NOT_SENT, "still queued when the shutdown deadline passed; "
                                          "nothing was sent", retryable=True)) for index, item in self._queue]
            letters += [(item, ItemOutcome(index, IN_FLIGHT, "in flight when the shutdown deadline passed: it may "
                                           "have been delivered; resend it with the same idempotency key",
                                           retryable=True)) for index, item in self._in_flight.items()]
            queued, running = len(self._queue), len(self._in_flight)
            self._queue.clear()
            self._in_flight.clear()
            self._failed.extend(outcome for _, outcome in letters)
            if self._dead_letter is not None:
                self._callbacks += len(letters)
            if self._finished is None:
                self._finished = time.monotonic()
            self._changed.notify_all()  # `flush` waiters
        if self._exit_hook:
            atexit.unregister(self._at_exit)
            self._exit_hook = False
        if letters:
            log.warning("%s: shutdown deadline passed with %d items queued and %d in flight; dead-lettered",
                        self.operation, queued, running)
            if self._dead_letter is not None:
                self._call_dead_letter(letters)
        return self.report()

    close = shutdown

    def join(self, timeout: float | None = None) -> bool:
        """After `shutdown`, wait for the workers to end (calls abandoned at the deadline included)."""
        if not self._closed:
            raise RuntimeError("the workers run until shutdown(): call it before join()")
        end = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if end is None else max(0.0, end - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def _at_exit(self) -> None:
        report = self.shutdown(self._exit_deadline)
        log.info("%s: flushed at exit: %s", self.operation, report.to_dict())

    def __enter__(self) -> DeliveryQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- accounting ---------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def report(self) -> DeliveryReport:
        """The counts so far; `delivered + rejected + failed + pending == total` holds at every moment."""
        with self._lock:
            end = self._finished if self._finished is not None else time.monotonic()
            return DeliveryReport(
                total=self._submitted, delivered=self._delivered,
                rejected=tuple(sorted(self._rejected, key=lambda o: o.index)),
                failed=tuple(sorted(self._failed, key=lambda o: o.index)), attempts=self._attempts,
                retried=self._retried, elapsed=end - self._started, pending=len(self._queue) + len(self._in_flight),
            )

    def __repr__(self) -> str:
        with self._lock:
            return (f"DeliveryQueue({self.operation!r}, queued={len(self._queue)}, in_flight={len(self._in_flight)}, "
                    f"closed={self._closed})")
