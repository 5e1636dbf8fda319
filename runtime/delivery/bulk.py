"""Bulk delivery: stream inputs of one operation into its batch operation and account for every item.

`bulk(runtime, "customerio-track.track_event", items, connection)` validates each input against the
operation's own schema and limits, fixes its dedupe id before its first send, renders it into the
batch item its YAML declares (`batch:`), packs items into requests exactly within the batch
operation's byte and count limits, and sends the requests on a few threads (the runtime's rate
limits and retries apply to each request). Memory holds what is in flight, never the input.

Every item ends in exactly one bucket, and `delivered + rejected + failed == total` also when the
run is stopped:
- delivered: its request succeeded and the API did not single it out;
- rejected, with the pointer and reason: invalid before sending, or refused by the API on its own
  (a 207 entry, or isolated by bisecting a batch the API refused whole, per `batch_response`);
- failed (dead-lettered): its request failed after retries, or it was still queued or in flight
  when the run stopped. The dead letter carries the item with its fixed dedupe id, so a resend
  lands it once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from ..call.dedupe import with_dedupe_id
from ..call.executor import api_error_text, decode_body, validate_input
from ..call.ids import new_ulid
from ..call.limits import check_input_limits, pointer_parts, resolve_pointer
from ..call.render import dump_json, render_http
from ..errors import BulkError, CallError, InputValidationError, Problem, RelaykitError, status_error_class
from ..redact import REDACTOR, mask_payload
from ..templates.filters import TemplateRenderError
from .packing import SENTINEL, Envelope, Packer, Pending
from .pool import DeliveryReport, ItemOutcome
from .sources import Record

log = logging.getLogger("relaykit.bulk")

NOT_SENT = "NotSent"  # dead-lettered: read, but the run stopped before its request went out
IN_FLIGHT = "InFlight"  # dead-lettered: its request was running when the run stopped; it may have landed
ITEM_REJECTED = "ItemRejected"  # rejected by the API on its own (207 entry, or isolated by bisecting)
UNREADABLE = "UnreadableInput"  # a line or row that does not decode
MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class BulkProgress:
    """A snapshot for progress displays: counts so far, requests, elapsed seconds and the total if known."""

    read: int
    delivered: int
    rejected: int
    failed: int
    in_flight: int
    requests: int
    elapsed: float
    total: int | None = None

    @property
    def settled(self) -> int:
        return self.delivered + self.rejected + self.failed

    @property
    def rate(self) -> float:
        """Settled items per second."""
        return self.settled / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, when the total is known."""
        if self.total is None or self.rate <= 0:
            return None
        return max(0.0, (self.total - self.settled) / self.rate)


@dataclass(frozen=True)
class BulkReport(DeliveryReport):
    """A `DeliveryReport` plus the requests sent, batches bisected, and why the run stopped early (if it did)."""

    requests: int = 0
    splits: int = 0
    stopped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "requests": self.requests, "splits": self.splits, "stopped": self.stopped}


DeadLetter = Callable[[Any, ItemOutcome, int], None]  # (item as sent, outcome, HTTP attempts)


def batch_operations(runtime: Any, operation: str) -> tuple[Any, Any]:
    """`operation` and the batch operation it declares; `BulkError` (with the ones that can) if it declares none."""
    op = runtime.operation(operation)
    if op.batch is None:
        batchable = [n for n in runtime.operations(op.connector.name) if runtime.operation(n).batch is not None]
        raise BulkError(f"{operation}: declares no batch (`batch:` in its YAML), so it cannot be sent in bulk"
                        + (f"; these can: {', '.join(batchable)}" if batchable else ""))
    batch_op = runtime.operation(f"{op.connector.name}.{op.batch.operation}")
    if not batch_op.settings.limits.get("items") or batch_op.kind != "http":
        raise BulkError(f"{batch_op.qualified_name}: is not a batch operation (it declares no limits.items)")
    return op, batch_op


class _Run:
    """The state of one bulk run: counters, the items in flight, and the request template."""

    def __init__(self, runtime: Any, operation: str, connection: Any, *, dead_letter: DeadLetter | None,
                 progress: Callable[[BulkProgress], None] | None, total: int | None, interval: float,
                 batch_items: int | None = None) -> None:
        self.runtime = runtime
        self.op, self.batch_op = batch_operations(runtime, operation)
        limits = self.batch_op.settings.limits
        self.conn = runtime.resolve_connection(self.op.connector.name, connection)
        envelope_input: Any = [SENTINEL]
        for part in reversed(pointer_parts(limits["items"])):
            envelope_input = {part: envelope_input}
        template = render_http(self.batch_op, envelope_input, self.conn)
        if batch_items is not None:
            if batch_items < 1:
                raise ValueError("batch_items must be at least 1")
            limits = {**limits, "max_items": min(batch_items, limits.get("max_items") or batch_items)}
        self.envelope = Envelope.split(template.body or b"", limits)
        # Every item's dedupe id is fixed before its first send, or its operation is safe to repeat:
        # a batch of them may be resent after an ambiguous failure and lands once.
        mode = "keyed" if self.op.idempotency.mode in ("keyed", "safe") else "unsafe"
        self.template = replace(template, body=None, json=None, idempotency=mode, idempotency_key=None)
        self.response = self.batch_op.batch_response
        idem = self.op.idempotency
        key = pointer_parts(idem.input_key) if idem.mode == "keyed" and idem.input_key else ()
        self.id_field = key[0] if len(key) == 1 and key[0] != "*" else None
        self.input_limits = {k: v for k, v in self.op.settings.limits.items()
                             if k not in ("max_body_bytes", "max_item_bytes", "items", "max_items")}
        self.dead_letter = dead_letter
        self.progress = progress
        self.total = total
        self.interval = interval
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)  # notified when nothing is in flight
        self.open: dict[int, Pending] = {}  # in flight, by input index
        self.read = self.delivered = self.requests = self.attempts = self.retried = self.splits = 0
        self.rejected: list[ItemOutcome] = []
        self.failed: list[ItemOutcome] = []
        self.started = time.monotonic()
        self.last_progress = 0.0

    # -- reading (main thread) ----------------------------------------------------------------
    def prepare(self, index: int, raw: Any) -> Pending | None:
        """The item ready to pack, or None when it was rejected (and counted) here."""
        try:
            return self._prepare(index, raw)
        except Exception as exc:  # a bug somewhere (a plugin's filter, say): still accounted for, never dropped
            log.error("%s: item %d raised %s", self.op.qualified_name, index, type(exc).__name__, exc_info=True)
            self.reject(ItemOutcome(index, type(exc).__name__, "unexpected error (see logs)"))
            return None

    def _prepare(self, index: int, raw: Any) -> Pending | None:
        where, plain = "", False
        if isinstance(raw, Record):
            where, plain = raw.where, raw.plain
            if raw.problem is not None:
                self.reject(ItemOutcome(index, UNREADABLE, f"{where}: {raw.problem}"))
                return None
            raw = raw.value
        op = self.op
        item = self.fix_id(raw)
        try:
            data = validate_input(op, item, vetted=plain)
            if self.input_limits:
                problems = check_input_limits(data, self.input_limits)
                if problems:
                    raise InputValidationError(op.connector.name, op.name, problems)
            rendered = op.batch.render(data)  # type: ignore[union-attr]
            try:
                encoded = dump_json(rendered)
            except ValueError as exc:  # NaN, Infinity, or a value JSON cannot carry
                raise InputValidationError(op.connector.name, op.name, [Problem(str(exc))]) from None
        except TemplateRenderError as exc:
            self.reject(ItemOutcome(index, "RenderError", _at(where, f"{op.qualified_name}: {exc.pointer}: "
                                                                     f"{exc.reason}")))
            return None
        except RelaykitError as exc:
            self.reject(ItemOutcome(index, type(exc).__name__, _at(where, str(exc))))
            return None
        problem = self.envelope.item_problem(len(encoded))
        if problem:
            self.reject(ItemOutcome(index, "InputValidationError", _at(where, f"{op.qualified_name}: {problem}")))
            return None
        return Pending(index, item, encoded, where)

    def fix_id(self, item: Any) -> Any:
        """The item with its dedupe id fixed (a copy, when one had to be added): the same on every resend."""
        if self.id_field is None:
            return with_dedupe_id(self.op.idempotency, item)
        if not isinstance(item, dict) or item.get(self.id_field) not in (None, ""):
            return item  # fast path for a top-level key: no copy, no walk
        return {**item, self.id_field: new_ulid()}

    def reject(self, outcome: ItemOutcome) -> None:
        with self.lock:
            self.rejected.append(outcome)
            self._tick()

    # -- sending (workers) --------------------------------------------------------------------
    def send(self, batch: list[Pending]) -> None:
        """Send one batch and settle each of its items; bisect when the API refuses it whole."""
        try:
            self._send(batch)
        except Exception as exc:  # a bug somewhere: still accounted for, never dropped
            log.error("%s: a batch raised %s", self.op.qualified_name, type(exc).__name__, exc_info=True)
            self.settle(batch, "failed", type(exc).__name__, "unexpected error (see logs)", 0)

    def _send(self, batch: list[Pending]) -> None:
        request = replace(self.template, body=self.envelope.body(batch))
        with self.lock:
            self.requests += 1
        try:
            raw = self.runtime.send_request(self.batch_op, request, self.conn)
        except CallError as exc:
            self._count(exc.attempts)
            self.settle(batch, "failed", type(exc).__name__, str(exc), exc.attempts, exc.retryable)
            return
        self._count(raw.attempts)
        status, response = raw.status, self.response
        if response is not None and status in response.partial:
            self._partial(batch, raw)
        elif status in self.batch_op.success or (not self.batch_op.success and 200 <= status < 300):
            self.settle(batch, "delivered", "", "", raw.attempts)
        elif response is not None and status in response.split_on:
            if len(batch) == 1:
                text = self._api_text(raw, batch)
                self.settle(batch, "rejected", ITEM_REJECTED, f"{self.batch_op.qualified_name}: HTTP {status}: "
                            f"refused by the API: {text or 'no reason given'}", raw.attempts)
                return
            with self.lock:
                self.splits += 1
            middle = len(batch) // 2
            self._send(batch[:middle])
            self._send(batch[middle:])
        else:
            cls = status_error_class(status)
            text = self._api_text(raw, batch)
            message = f"{self.batch_op.qualified_name}: HTTP {status}" + (f": {text}" if text else "")
            retryable = cls.retryable or status in (408, 429) or status >= 500
            self.settle(batch, "failed", cls.__name__, message, raw.attempts, retryable)

    def _partial(self, batch: list[Pending], raw: Any) -> None:
        """Map a partial answer (207) back to the batch: the listed items are rejected, the rest delivered."""
        response = self.response
        assert response is not None
        body = decode_body(raw.body, raw.headers)
        found = resolve_pointer(body, response.errors) if body is not None else []
        errors = found[0][1] if found else None
        reasons: dict[int, list[str]] = {}
        mappable = isinstance(errors, list)
        for error in errors if isinstance(errors, list) else ():
            hits = resolve_pointer(error, response.index) if response.index else []
            position = hits[0][1] if hits else None
            if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < len(batch):
                mappable = False
                break
            parts = [str(v) for p in response.message for _, v in resolve_pointer(error, p) if v not in (None, "")]
            reasons.setdefault(position, []).append(": ".join(parts) or "refused")
        if not mappable:
            self.settle(batch, "failed", "ServerError", f"{self.batch_op.qualified_name}: HTTP {raw.status}: the "
                        "answer does not say which items were refused; resend them (same dedupe ids)",
                        raw.attempts, True)
            return
        self.settle([p for i, p in enumerate(batch) if i not in reasons], "delivered", "", "", raw.attempts)
        for position, pending in enumerate(batch):
            if position in reasons:
                text = _clip(mask_payload(REDACTOR.scrub("; ".join(reasons[position])), _View(pending.item)))
                message = f"{self.batch_op.qualified_name}: HTTP {raw.status}: refused by the API: {text}"
                self.settle([pending], "rejected", ITEM_REJECTED, message, raw.attempts)

    def _api_text(self, raw: Any, batch: list[Pending]) -> str | None:
        body = decode_body(raw.body, raw.headers)
        text = api_error_text(body, self.batch_op.connector.message_from) if body is not None else None
        return _clip(mask_payload(text, _View([p.item for p in batch]))) if text else None

    def _count(self, attempts: int) -> None:
        with self.lock:
            self.attempts += attempts
            self.retried += attempts > 1

    # -- accounting ---------------------------------------------------------------------------
    def settle(self, batch: list[Pending], bucket: str, error: str, message: str, attempts: int,
               retryable: bool = False) -> None:
        letters = []
        with self.lock:
            for pending in batch:
                if self.open.pop(pending.index, None) is None:
                    continue  # dead-lettered in flight when the run stopped: counted already
                if bucket == "delivered":
                    self.delivered += 1
                    continue
                outcome = ItemOutcome(pending.index, error, _at(pending.where, message), retryable)
                if bucket == "rejected":
                    self.rejected.append(outcome)
                else:
                    self.failed.append(outcome)
                    letters.append((pending.item, outcome))
            self._tick()
            if not self.open:
                self.idle.notify_all()
        self._letters(letters, attempts)

    def abandon(self, pending: Iterable[Pending], error: str, message: str) -> None:
        """Dead-letter items that will not be sent (or whose request is still running) as the run stops."""
        letters = []
        with self.lock:
            for item in pending:
                self.open.pop(item.index, None)
                outcome = ItemOutcome(item.index, error, _at(item.where, message), True)
                self.failed.append(outcome)
                letters.append((item.item, outcome))
        self._letters(letters, 0)

    def _letters(self, letters: list[tuple[Any, ItemOutcome]], attempts: int) -> None:
        if self.dead_letter is None:
            return
        for item, outcome in letters:
            try:
                self.dead_letter(item, outcome, attempts)
            except Exception:
                log.error("%s: the dead_letter callback failed for item %d", self.op.qualified_name, outcome.index,
                          exc_info=True)

    def snapshot(self) -> BulkProgress:
        return BulkProgress(self.read, self.delivered, len(self.rejected), len(self.failed), len(self.open),
                            self.requests, time.monotonic() - self.started, self.total)

    def _tick(self, force: bool = False) -> None:
        """Report progress at most every `interval` seconds (call with the lock held)."""
        if self.progress is None:
            return
        now = time.monotonic()
        if force or now - self.last_progress >= self.interval:
            self.last_progress = now
            try:
                self.progress(self.snapshot())
            except Exception:
                log.error("%s: the progress callback failed", self.op.qualified_name, exc_info=True)

    def report(self, stopped: str | None) -> BulkReport:
        with self.lock:
            self._tick(force=True)
            return BulkReport(
                total=self.read, delivered=self.delivered,
                rejected=tuple(sorted(self.rejected, key=lambda o: o.index)),
                failed=tuple(sorted(self.failed, key=lambda o: o.index)), attempts=self.attempts,
                retried=self.retried, elapsed=time.monotonic() - self.started, pending=len(self.open),
                requests=self.requests, splits=self.splits, stopped=stopped,
            )


class _View:
    """What `mask_payload` reads from a request: the values to mask in an API's error text."""

    path_template = ""
    url = ""

    def __init__(self, json: Any) -> None:
        self.json = json


def _unaccounted(run: _Run, candidates: list[Pending]) -> list[Pending]:
    """Of the items an interrupt caught between two steps, those in no bucket yet and not in flight (once each)."""
    with run.lock:
        counted = set(run.open) | {o.index for o in run.rejected[-1:]}
    out: dict[int, Pending] = {}
    for pending in candidates:
        if pending.index not in counted:
            out.setdefault(pending.index, pending)
    return list(out.values())


def _value(raw: Any) -> Any:
    return raw.value if isinstance(raw, Record) else raw


def _at(where: str, message: str) -> str:
    return f"{where}: {message}" if where else message


def _clip(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."


def bulk(runtime: Any, operation: str, items: Iterable[Any], connection: Any = None, *, workers: int = 4,
         max_in_flight: int | None = None, dead_letter: DeadLetter | None = None,
         progress: Callable[[BulkProgress], None] | None = None, total: int | None = None,
         stop: threading.Event | None = None, drain_deadline: float = 30.0,
         progress_interval: float = 0.5, batch_items: int | None = None) -> BulkReport:
    """Send `items` (inputs of `operation`, or `delivery.sources.Record`s) through its batch operation.

    Args:
        runtime: the `Runtime` to send with (its rate limits and retries apply to each request).
        operation: `connector.operation`; it must declare `batch:`.
        connection: as for `Runtime.run`.
        items: inputs of `operation`, or `delivery.sources.Record`s (from a file reader).
        workers: requests sent at once (the runtime's rate-limit bucket paces them all).
        max_in_flight: batches read ahead and sending (default `2 * workers`): what bounds memory.
        dead_letter: `callable(item, outcome, attempts)` for every failed item, e.g. a
            `dead_letters.DeadLetterFile`; `item` carries its fixed dedupe id.
        progress: `callable(BulkProgress)`, at most every `progress_interval` seconds and once at the end.
        total: the item count if known (for the progress ETA).
        stop: when set, reading stops; what was read is sent, and what is still in flight after
            `drain_deadline` seconds is dead-lettered `InFlight`. KeyboardInterrupt does the same
            and is raised again once every item is accounted for.
        drain_deadline: seconds a stopped run waits for the requests in flight.
        progress_interval: seconds between progress callbacks.
        batch_items: at most this many items per request, below the declared limits (smaller
            batches: less to resend after a failure, sooner progress).

    Raises `BulkError` (nothing sent) when the operation cannot be batched, and `UnknownOperationError`
    or `ConnectionConfigError` as `Runtime.run` would. An input that breaks mid-way (a JSON array cut
    short) stops the run like `stop`; the report's `stopped` says why.
    """
    run = _Run(runtime, operation, connection, dead_letter=dead_letter, progress=progress, total=total,
               interval=progress_interval, batch_items=batch_items)
    slots = threading.BoundedSemaphore(max_in_flight or 2 * max(1, workers))
    packer = Packer(run.envelope)
    stopped: str | None = None
    interrupt: BaseException | None = None
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="relaykit-bulk")

    staged: list[Pending] = []  # a full batch waiting for a slot: still accounted for if interrupted there
    current: list[tuple[int, Any]] = []  # the item being prepared, likewise

    def dispatch(batch: list[Pending]) -> None:
        if not batch:
            return
        staged[:] = batch
        slots.acquire()
        with run.lock:
            for pending in batch:
                run.open[pending.index] = pending
        staged.clear()

        def task() -> None:
            try:
                run.send(batch)
            finally:
                slots.release()

        pool.submit(task)

    try:
        try:
            iterator = iter(items)
            while True:
                if stop is not None and stop.is_set():  # checked before taking an item: none is taken unread
                    stopped = "stopped"
                    break
                try:
                    raw = next(iterator)
                except StopIteration:
                    break
                with run.lock:
                    index = run.read
                    run.read += 1
                current[:] = [(index, raw)]
                pending = run.prepare(index, raw)
                if pending is not None:
                    done = packer.add(pending) or []
                    current.clear()
                    staged[:] = done
                    dispatch(done)
                current.clear()
        except BulkError as exc:
            stopped = str(exc)
        dispatch(packer.flush())
    except BaseException as exc:  # KeyboardInterrupt (or SystemExit): account for everything, then re-raise
        interrupt, stopped = exc, "interrupted"
        caught = [*staged, *packer.flush(), *(Pending(i, _value(raw), b"") for i, raw in current)]
        run.abandon(_unaccounted(run, caught), NOT_SENT, "read, but the run stopped before it was sent; resend it")
    if stopped is None:
        pool.shutdown(wait=True)
    else:
        with run.lock:
            run.idle.wait_for(lambda: not run.open, drain_deadline)
        pool.shutdown(wait=False, cancel_futures=True)
    with run.lock:
        abandoned = list(run.open.values())
    if abandoned:
        run.abandon(abandoned, IN_FLIGHT, "in flight when the run stopped: it may have been delivered; "
                    "resend it (same dedupe id)")
    report = run.report(stopped)
    if interrupt is not None:
        raise interrupt
    return report
