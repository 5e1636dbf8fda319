"""`RelaykitTasks`: relaykit's operations and automations as Celery tasks, checked at enqueue and safe to redeliver.

What each guarantee rests on (docs/scaling.md says it at length):
- nothing secret in the broker: connections go by reference (`relaykit.celery.connections`);
- a dead worker's task runs again: `acks_late` and `reject_on_worker_lost`, so the broker keeps
  the message until the task has finished;
- a keyed operation lands once in effect: its dedupe id is fixed at enqueue
  (`relaykit.delivery.with_dedupe_id`), so every delivery and every retry resends the same id;
- an unsafe operation is sent at most once: a claim per task id (`relaykit.celery.claims`);
- the rate limit holds across workers: the runtime's windows live in Redis (`RedisStore`), and a
  `RateLimitError(retry_after)` becomes a Celery retry with that countdown instead of a blocked worker.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from celery import Celery
from celery.canvas import Signature
from celery.result import AsyncResult

from ..automation.loader import load_automation
from ..automation.model import Automation
from ..automation.runner import Runner
from ..call.dedupe import input_idempotency, with_dedupe_id
from ..call.executor import validate_input
from ..errors import CallError, Problem, RateLimitError, RelaykitError, SettingsError
from ..runtime import Runtime
from ..specs.models import OperationSpec
from .claims import RedisClaims
from .connections import Wire, for_broker, on_worker

RUN = "relaykit.run"
RUN_AUTOMATION = "relaykit.run_automation"
SAFE_METHODS = ("GET", "HEAD", "PUT", "DELETE")  # a raw request without a keyed rule is safe only with these
RETRY_INITIAL, RETRY_MAX = 1.0, 60.0  # seconds: Celery-level backoff after the runtime's own retries ran out


def call_mode(op: OperationSpec, input: Mapping[str, Any]) -> str:
    """safe, keyed or unsafe, as the rendered request will say (raw HTTP: its path rule, else its method)."""
    if op.kind != "raw_http":
        return op.idempotency.mode
    method, endpoint = str(input.get("method", "")).upper(), str(input.get("endpoint", ""))
    rule = next((r for r in op.connector.raw_rules if r.matches(method, endpoint)), None)
    if rule is not None and rule.idempotency is not None:
        mode = rule.idempotency.mode
    else:
        mode = "safe" if method in SAFE_METHODS else "unsafe"
    return "safe" if mode == "unsafe" and input.get("retry_unsafe") else mode  # the caller allowed resends


class NotResentError(CallError):
    """An unsafe task delivered again after an earlier delivery took its claim: maybe sent, so not resent."""

    retryable = False


def default_runtime(app: Celery) -> Callable[[], Runtime]:
    """A `Runtime` per worker process whose rate-limit windows live in the broker's Redis (if it is Redis)."""

    def make() -> Runtime:
        url = str(app.conf.broker_url or "")
        if url.startswith(("redis://", "rediss://")):
            from ..transport.ratelimit_redis import RedisStore

            return Runtime(rate_limit_store=RedisStore(url))
        return Runtime()

    return make


class RelaykitTasks:
    """Register relaykit's two tasks on a Celery app and enqueue operations and automations onto it.

        app = Celery("jobs", broker="redis://127.0.0.1:6379/0")
        relaykit = RelaykitTasks(app)                     # in the module both producers and workers import
        relaykit.enqueue("customerio-track.track_event", {"identifier": "ada", "name": "signed_up"},
                         connection="prod")               # RELAYKIT_PROD_* on the workers

    Args:
        runtime: builds the `Runtime` of a process (once per process, after a fork). Default: one
            whose rate limits are shared through the broker's Redis.
        claims: where unsafe tasks take their claim. Default: the broker's Redis; without one,
            unsafe operations are refused at enqueue.
        max_retries: Celery retries per task (rate limits, and retryable failures of safe and keyed calls).
    """

    def __init__(self, app: Celery, runtime: Callable[[], Runtime] | None = None, *,
                 claims: RedisClaims | None = None, max_retries: int = 10) -> None:
        self.app = app
        self._factory = runtime or default_runtime(app)
        url = str(app.conf.broker_url or "")
        self.claims = claims if claims is not None else (
            RedisClaims(url) if url.startswith(("redis://", "rediss://")) else None)
        self.max_retries = max_retries
        self._lock = threading.Lock()
        self._runtime: tuple[int, Runtime] | None = None
        self._automations: dict[str, Automation] = {}
        options = {"bind": True, "acks_late": True, "reject_on_worker_lost": True, "max_retries": max_retries}

        def run(task: Any, operation: str, input: dict[str, Any], connection: Wire) -> dict[str, Any]:
            return self._run(task, operation, input, connection)

        def run_automation(task: Any, path: str, inputs: dict[str, Any],
                           connections: dict[str, Wire]) -> dict[str, Any]:
            return self._run_automation(task, path, inputs, connections)

        self.run_task = app.task(name=RUN, **options)(run)
        self.automation_task = app.task(name=RUN_AUTOMATION, **options)(run_automation)

    # -- per process ---------------------------------------------------------------------------
    @property
    def runtime(self) -> Runtime:
        """The runtime of this process (a forked worker child builds its own: sockets are not shared)."""
        with self._lock:
            if self._runtime is None or self._runtime[0] != os.getpid():
                self._runtime = (os.getpid(), self._factory())
                self._automations.clear()
            return self._runtime[1]

    def automation(self, path: str) -> Automation:
        runtime = self.runtime
        with self._lock:
            if path not in self._automations:
                self._automations[path] = load_automation(runtime, path)
            return self._automations[path]

    # -- enqueue -------------------------------------------------------------------------------
    def signature(self, operation: str, input: Mapping[str, Any], connection: Any = None) -> Signature:
        """The checked task for one call: unknown names, invalid input and inline secrets fail here, unpublished.

        A keyed operation's missing dedupe id is filled in now, so every delivery sends the same one.
        """
        rt = self.runtime
        op = rt.operation(operation)
        validate_input(op, input)
        wire = for_broker(rt, op.connector.name, connection)
        if call_mode(op, input) == "unsafe":
            self._need_claims(operation)
        return self.run_task.s(operation, with_dedupe_id(input_idempotency(op, input), dict(input)), wire)

    def enqueue(self, operation: str, input: Mapping[str, Any], connection: Any = None,
                **options: Any) -> AsyncResult:
        """Check and publish one call; `options` go to `apply_async` (queue, countdown, ...)."""
        return self.signature(operation, input, connection).apply_async(**options)

    def enqueue_many(self, operation: str, inputs: Iterable[Mapping[str, Any]], connection: Any = None,
                     **options: Any) -> list[AsyncResult]:
        """Check every item first (nothing is published if one is bad), then publish them on one connection."""
        signatures = [self.signature(operation, item, connection) for item in inputs]
        with self.app.producer_or_acquire() as producer:
            return [sig.apply_async(producer=producer, **options) for sig in signatures]

    def automation_signature(self, path: str, inputs: Mapping[str, Any] | None = None,
                             connections: Mapping[str, Any] | None = None) -> Signature:
        """The checked task for one automation run (inputs against its schema, connections by reference)."""
        automation = self.automation(path)
        Runner(self.runtime, automation).validate_inputs(inputs or {})
        wires: dict[str, Wire] = {}
        for name, given in (connections or {}).items():
            declared = automation.connections.get(name)
            if declared is None:
                raise SettingsError("connections", [Problem(f"is not a connection of automation {automation.name!r}",
                                                            pointer=f"/{name}")])
            wires[name] = for_broker(self.runtime, declared.connector, given)
        if self._unsafe_steps(automation):
            self._need_claims(automation.name)
        return self.automation_task.s(path, dict(inputs or {}), wires)

    def enqueue_automation(self, path: str, inputs: Mapping[str, Any] | None = None,
                           connections: Mapping[str, Any] | None = None, **options: Any) -> AsyncResult:
        return self.automation_signature(path, inputs, connections).apply_async(**options)

    def _need_claims(self, what: str) -> None:
        if self.claims is None:
            raise SettingsError("claims", [Problem(
                f"{what} is unsafe (never resent) and needs a claim store to stay at most once when a worker "
                "dies; pass RelaykitTasks(..., claims=RedisClaims(url)) or use a Redis broker")])

    def _unsafe_steps(self, automation: Automation) -> list[str]:
        return [s.id for s in automation.steps if s.kind == "webhook"
                or (s.kind == "operation" and self.runtime.operation(s.uses).idempotency.mode == "unsafe")]

    # -- on the worker -------------------------------------------------------------------------
    def _run(self, task: Any, operation: str, input: dict[str, Any], connection: Wire) -> dict[str, Any]:
        rt = self.runtime
        op = rt.operation(operation)
        unsafe = call_mode(op, input) == "unsafe"
        return self._guarded(task, unsafe, lambda: rt.run(
            operation, input, on_worker(rt, op.connector.name, connection)).to_dict())

    def _run_automation(self, task: Any, path: str, inputs: dict[str, Any],
                        connections: dict[str, Wire]) -> dict[str, Any]:
        rt = self.runtime
        automation = self.automation(path)
        configs = {}
        for name, wire in connections.items():
            declared = automation.connections[name]
            configs[name] = on_worker(rt, declared.connector, {**wire, "ref": wire.get("ref") or declared.ref})
        return self._guarded(task, bool(self._unsafe_steps(automation)),
                             lambda: rt.run_automation(automation, inputs, configs).to_dict())

    def _guarded(self, task: Any, unsafe: bool, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run `call` under the task's claim (if unsafe) and turn rate limits and retryable failures into retries."""
        task_id = str(task.request.id)
        if unsafe and self.claims is not None and not self.claims.take(task_id):
            raise NotResentError("an earlier delivery of this task took its claim and may have sent it (its worker "
                                 "stopped mid-call, or it is still running); not resent: unsafe operations go out "
                                 "at most once")
        try:
            result = call()
        except RateLimitError as exc:  # a 429 or a client-side wait: the server did not process it
            if unsafe and self.claims is not None:
                self.claims.release(task_id)
            countdown = exc.retry_after if exc.retry_after is not None else self._backoff(task)
            raise task.retry(exc=exc, countdown=max(countdown, 0.0), max_retries=self.max_retries) from None
        except CallError as exc:
            if unsafe:
                if self.claims is not None:
                    self.claims.settle(task_id)
                raise
            if exc.retryable:
                raise task.retry(exc=exc, countdown=self._backoff(task), max_retries=self.max_retries) from None
            raise
        except RelaykitError:  # refused before sending (input, connection, spec): nothing went out
            if unsafe and self.claims is not None:
                self.claims.release(task_id)
            raise
        if unsafe and self.claims is not None:
            self.claims.settle(task_id)
        return result

    @staticmethod
    def _backoff(task: Any) -> float:
        return min(RETRY_MAX, RETRY_INITIAL * 2 ** int(task.request.retries or 0))
