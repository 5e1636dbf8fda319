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

With `store="outbox.db"` (see `relaykit.delivery.outbox`) the queue survives its process: `submit` returns
only once the item, dedupe id fixed, is on disk, what the shutdown deadline leaves stays there
(`kept`) instead of being dead-lettered, and a queue opened later on the same file sends it first
with the same ids. SIGTERM and SIGHUP shut the queue down like Ctrl-C does (`relaykit.exit_signals`).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .. import exit_signals
from ..durable import StoreError
from .outbox import Outbox
from .pool import DeliveryReport, ItemOutcome, run_item, with_dedupe_id

log = logging.getLogger("relaykit.delivery")

DEFAULT_DEADLINE = 5.0  # seconds `shutdown` (and the flush at exit) spends sending what is queued

# The `error` of outcomes the queue itself decides (the others are relaykit error class names).
QUEUE_FULL = "QueueFull"  # rejected: `max_queue` items were waiting
QUEUE_CLOSED = "QueueClosed"  # rejected: submitted after shutdown
NOT_SENT = "NotSent"  # dead-lettered: still queued at the shutdown deadline
IN_FLIGHT = "InFlight"  # dead-lettered: its call was running at the deadline and may yet land
MAYBE_SENT = "MaybeSent"  # dead-lettered after a restart: an item that must not be resent was being sent
STORE_FAILED = "StoreError"  # rejected: the store could not take it (nothing was sent)

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
            (the workers are daemon threads, which the interpreter would otherwise just stop);
            SIGTERM and SIGHUP then exit through it too, when created in the main thread and
            nobody else handles them.
        store: a path (or an open `Outbox`) that makes the queue durable: see the module docstring.
            Items are sent oldest first, those left by an earlier run before new ones.
        store_sync: `full` (default) survives a power cut; `normal` only a crash of the process,
            several times faster per lone submit.

    Items are handed to `Runtime.run` as given, except that a keyed operation's missing dedupe id
    (`event_id`, `messageId`) is filled in at `submit` (see `delivery.with_dedupe_id`): the item a
    `dead_letter` callback receives carries the id it was sent with, so resending it lands once.
    Do not change an item after submitting it.
    """

    def __init__(self, runtime: Any, operation: str, connection: Any = None, *, max_queue: int = 10_000,
                 workers: int = 4, dead_letter: DeadLetter | None = None, flush_at_exit: bool = True,
                 exit_deadline: float = DEFAULT_DEADLINE, store: str | os.PathLike[str] | Outbox | None = None,
                 store_sync: str = "full") -> None:
        if max_queue < 1 or workers < 1:
            raise ValueError("max_queue and workers must be at least 1")
        self.operation = operation
        spec = runtime.operation(operation)  # an unknown name fails here, not per item
        self._idempotency = spec.idempotency
        self._raw = spec.kind == "raw_http"
        self.max_queue = max_queue
        self._runtime = runtime
        self._connection = connection
        self._dead_letter = dead_letter
        self._exit_deadline = exit_deadline
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)  # workers: an item was queued, or the queue closed
        self._changed = threading.Condition(self._lock)  # submitters and shutdown: an item moved on
        self._queue: deque[tuple[int, Any, int | None]] = deque()  # index, item, store sequence number
        self._in_flight: dict[int, tuple[Any, int | None]] = {}
        self._callbacks = 0  # dead-letter callbacks running: `shutdown` lets them finish within its deadline
        self._submitted = self._delivered = self._attempts = self._retried = 0
        self._storing = 0  # accepted submits whose store write is not yet committed
        self._kept = self._recovered = 0
        self._rejected: list[ItemOutcome] = []
        self._failed: list[ItemOutcome] = []
        self._closed = False
        self._started = time.monotonic()
        self._finished: float | None = None
        self._outbox: Outbox | None = None
        self._owns_outbox = False
        letters: list[tuple[Any, ItemOutcome]] = []
        if store is not None:
            self._outbox = store if isinstance(store, Outbox) else Outbox(store, sync=store_sync)
            self._owns_outbox = not isinstance(store, Outbox)
            letters = self._recover()
        self._threads = [threading.Thread(target=self._work, name=f"relaykit-queue-{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()
        self._exit_hook = flush_at_exit
        self._signals = flush_at_exit and exit_signals.hold()
        if flush_at_exit:
            atexit.register(self._at_exit)
        if letters and self._dead_letter is not None:
            self._call_dead_letter(letters)

    def _recover(self) -> list[tuple[Any, ItemOutcome]]:
        """Queue what an earlier run left in the store; dead-letter what was being sent and must not be resent."""
        assert self._outbox is not None
        letters = []
        for stored in self._outbox.unfinished(self.operation):
            index = self._submitted
            self._submitted += 1
            self._recovered += 1
            if stored.sending and not self._resendable(stored.item):
                outcome = ItemOutcome(index, MAYBE_SENT, "the process stopped while this item was being sent: it "
                                      "may have been delivered, and the operation is not idempotent; check before "
                                      "sending it again")
                self._outbox.dead_letter(stored.seq, outcome)
                self._failed.append(outcome)
                letters.append((stored.item, outcome))
            else:
                self._queue.append((index, stored.item, stored.seq))
        if self._dead_letter is not None:
            self._callbacks += len(letters)
        if self._recovered:
            log.info("%s: %d item(s) left by an earlier run found in the store: %d queued, %d dead-lettered "
                     "(may have been sent)", self.operation, self._recovered, len(self._queue), len(letters))
        return letters

    def _resendable(self, item: Any) -> bool:
        """False when sending `item` twice may do something twice (an unsafe operation or raw request)."""
        if not self._raw:
            return self._idempotency.mode != "unsafe"
        try:
            return self._runtime.dry_run(self.operation, item, self._connection).idempotency != "unsafe"
        except Exception:  # it would be refused before sending anyway; "no" is the safe answer
            return False

    # -- producers ----------------------------------------------------------------------------
    def submit(self, item: Any, *, block: bool = False, timeout: float | None = None) -> Submission:
        """Queue `item`; when full, reject it at once, or with `block=True` wait up to `timeout` seconds first.

        A rejected item is counted (`QueueFull` or `QueueClosed`) and never sent. A blocked submit
        also returns when the queue shuts down, so with `timeout=None` it waits only as long as the
        queue is open and full. With a store it returns once the item is on disk.
        """
        item = with_dedupe_id(self._idempotency, item)
        with self._lock:
            if block and not self._closed and self._waiting() >= self.max_queue:
                self._changed.wait_for(lambda: self._closed or self._waiting() < self.max_queue, timeout)
            verdict = self._admit(item)
        return verdict if isinstance(verdict, Submission) else self._store([(verdict, item)])[0]

    def submit_many(self, items: Iterable[Any]) -> list[Submission]:
        """`submit` for a batch, never blocking: with a store, the accepted items share one commit."""
        keyed = [with_dedupe_id(self._idempotency, item) for item in items]
        with self._lock:
            verdicts = [self._admit(item) for item in keyed]
        stored = iter(self._store([(v, item) for v, item in zip(verdicts, keyed, strict=True)
                                   if not isinstance(v, Submission)]))
        return [v if isinstance(v, Submission) else next(stored) for v in verdicts]

    def _admit(self, item: Any) -> Submission | int:
        """Under the lock: the rejection, the accepted in-memory submission, or the index of an item to store."""
        index = self._submitted
        self._submitted += 1
        if self._closed:
            outcome = ItemOutcome(index, QUEUE_CLOSED, "the queue is shut down; nothing was sent")
        elif self._waiting() >= self.max_queue:
            outcome = ItemOutcome(index, QUEUE_FULL, f"the queue is full ({self.max_queue} items waiting); "
                                  "nothing was sent", retryable=True)
        elif self._outbox is None:
            self._queue.append((index, item, None))
            self._ready.notify()
            return Submission(index, True)
        else:
            self._storing += 1
            return index
        self._rejected.append(outcome)
        return Submission(index, False, outcome.error, outcome.message)

    def _waiting(self) -> int:
        return len(self._queue) + self._storing

    def _store(self, batch: list[tuple[int, Any]]) -> list[Submission]:
        """Put accepted items on disk (group-committed with concurrent submits), then queue them."""
        if not batch:
            return []
        assert self._outbox is not None
        try:
            seqs = self._outbox.put(self.operation, [item for _, item in batch])
        except StoreError as exc:
            outcomes = [ItemOutcome(index, STORE_FAILED, str(exc)) for index, _ in batch]
            with self._lock:
                self._storing -= len(batch)
                self._rejected.extend(outcomes)
                self._changed.notify_all()
            return [Submission(o.index, False, o.error, o.message) for o in outcomes]
        with self._lock:
            self._storing -= len(batch)
            if self._closed:  # shut down meanwhile: on disk, for the next queue on the store
                self._kept += len(batch)
                self._changed.notify_all()
            else:
                self._queue.extend((index, item, seq) for (index, item), seq in zip(batch, seqs, strict=True))
                self._ready.notify(len(batch))
        return [Submission(index, True) for index, _ in batch]

    # -- workers ------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if not self._queue:  # closed, and drained (or emptied by the shutdown deadline)
                    return
                index, item, seq = self._queue.popleft()
                self._in_flight[index] = (item, seq)
                self._changed.notify_all()  # room for a blocked submit
            verdict = self._mark_sending(index, item, seq)
            if verdict is None:
                verdict = run_item(self._runtime, self.operation, item, self._connection, index)
            bucket, outcome, tries = verdict
            self._settle(index, item, seq, bucket, outcome, tries)

    def _mark_sending(self, index: int, item: Any, seq: int | None) -> tuple[str, ItemOutcome, int] | None:
        """For a stored item that must not be sent twice, record on disk that it is being sent; None to go on."""
        if seq is None or self._resendable(item):
            return None
        assert self._outbox is not None
        try:
            self._outbox.mark_sending(seq)
        except StoreError as exc:
            return "failed", ItemOutcome(index, STORE_FAILED, f"{exc}; nothing was sent", retryable=True), 0
        return None

    def _settle(self, index: int, item: Any, seq: int | None, bucket: str, outcome: ItemOutcome | None,
                tries: int) -> None:
        notify = False
        with self._lock:
            late = index not in self._in_flight  # left at the shutdown deadline (dead-lettered or kept): counted
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
                if seq is not None:  # queued for the store under the lock, so `shutdown` closes it after this
                    self._finish_stored(seq, bucket, outcome)
            self._changed.notify_all()
        if late:
            log.warning("%s: item %d, left in flight at the shutdown deadline, finished late: %s",
                        self.operation, index, bucket)
        elif notify and outcome is not None:
            self._call_dead_letter([(item, outcome)])

    def _finish_stored(self, seq: int, bucket: str, outcome: ItemOutcome | None) -> None:
        assert self._outbox is not None
        try:
            if bucket == "failed" and outcome is not None:
                self._outbox.dead_letter(seq, outcome)
            else:
                self._outbox.settle(seq)
        except StoreError as exc:  # the item stays stored, so the next run resends it (with its id)
            log.warning("%s: could not record an item's outcome in the store (%s)", self.operation,
                        type(exc).__name__)

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
            return self._changed.wait_for(lambda: not (self._queue or self._in_flight or self._callbacks
                                                       or self._storing), timeout)

    def shutdown(self, deadline: float | None = DEFAULT_DEADLINE) -> DeliveryReport:
        """Stop accepting, send what can be sent within `deadline` seconds, dead-letter the rest: the final report.

        An item still queued at the deadline is dead-lettered `NotSent`; one whose call is running,
        `InFlight`: it may yet land, so resend it with the same idempotency key (event `id`,
        `messageId`), which the API deduplicates. Its worker finishes that call in the background
        without changing the report; `join` waits for it. Returns after the deadline plus the time
        the `dead_letter` callbacks for those items take. Calling it again returns the report.

        With a store, nothing is dead-lettered at the deadline: what is left stays on disk and is
        counted `kept`; the next queue on the store sends it (an in-flight item with the same id).
        """
        if threading.current_thread() in self._threads:
            raise RuntimeError("shutdown() called from a dead_letter callback would wait for itself")
        end = None if deadline is None else time.monotonic() + max(0.0, deadline)
        with self._lock:
            self._closed = True
            self._ready.notify_all()
            self._changed.notify_all()  # blocked submits return (rejected: closed)
            while self._queue or self._in_flight or self._callbacks or self._storing:
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._changed.wait(left)
            queued, running = len(self._queue), len(self._in_flight)
            letters = []
            if self._outbox is not None:
                self._kept += queued + running
            else:
                letters = [(item, ItemOutcome(index, NOT_SENT, "still queued when the shutdown deadline passed; "
                                              "nothing was sent", retryable=True)) for index, item, _ in self._queue]
                letters += [(item, ItemOutcome(index, IN_FLIGHT, "in flight when the shutdown deadline passed: it "
                                               "may have been delivered; resend it with the same idempotency key",
                                               retryable=True)) for index, (item, _) in self._in_flight.items()]
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
        if self._signals:
            self._signals = False
            exit_signals.release()
        if self._outbox is not None and (queued or running):
            log.warning("%s: shutdown deadline passed with %d items queued and %d in flight; kept in the store "
                        "for the next run", self.operation, queued, running)
        if self._owns_outbox and self._outbox is not None:
            self._outbox.close()  # what is queued for it is committed first (`_settle` queues under the lock)
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
                retried=self._retried, elapsed=end - self._started,
                pending=len(self._queue) + len(self._in_flight) + self._storing, kept=self._kept,
                recovered=self._recovered,
            )

    def __repr__(self) -> str:
        with self._lock:
            return (f"DeliveryQueue({self.operation!r}, queued={len(self._queue)}, in_flight={len(self._in_flight)}, "
                    f"closed={self._closed})")
