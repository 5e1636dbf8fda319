"""Run a loaded automation: inputs, connections, then each step in order with if/for_each/retry/on_error.

Everything a step can do goes through the runtime's public pipeline (`Runtime.run` / `dry_run`)
or, for the built-in webhook step, the runtime's transport, so validation, rate limits, retries
and redaction are the same as for a single call. Loop items may run in a small thread pool; the
runtime's rate-limit buckets are shared and thread-safe, so parallel items stay within limits,
and results are kept in input order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..call.dedupe import input_idempotency, with_dedupe_id
from ..call.executor import validate_input
from ..call.pagination import Paginator
from ..errors import (
    AutomationError,
    CallError,
    ConnectionConfigError,
    InputValidationError,
    Problem,
    RelaykitError,
)
from ..specs.jsonschemas import apply_defaults, error_problems
from ..specs.values import value_problems
from ..templates.filters import MISSING, TemplateRenderError
from ..transport.waits import human_duration, log_wait
from .conditions import ConditionError
from .loader import WEBHOOK_VALIDATOR, load_automation
from .model import Automation, AutomationInputError, AutomationRun, Step, StepError, StepResult, StepRun
from .webhook_step import CREDENTIAL_HEADERS, WEBHOOK_INPUT_SCHEMA, render_webhook_request, send_webhook

if TYPE_CHECKING:
    import os

    from .host import AutomationHost
    from .journal import RunJournal
    from .resume import Resume

__all__ = ["MAX_ITEMS", "Runner", "resolve_connections", "run_automation"]

log = logging.getLogger("relaykit.automation")
MAX_ITEMS = 100_000


def _config_for_reference(rt: AutomationHost, connector: str, reference: str) -> dict[str, Any]:
    """The unvalidated config a reference names: the `resolve_connection` hook, then the environment."""
    return rt.connection_config(connector, reference)


def resolve_connections(rt: AutomationHost, automation: Automation,
                        supplied: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Config per used connection: the caller's entry (dict or reference), else the automation's `ref`.

    The automation's fixed non-secret `fields` are defaults under whatever the caller or the
    reference supplies. Each config is validated now, so a bad one fails before any step runs.
    """
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(supplied, Mapping):
        raise ConnectionConfigError(automation.name, [Problem(
            "the connections must be a mapping of connection names to fields or reference strings")])
    for name in automation.used_connections():
        declared = automation.connections[name]
        given = supplied.get(name)
        reference = None
        if given is None:
            reference = declared.ref
            config = _config_for_reference(rt, declared.connector, declared.ref)
        elif isinstance(given, str):
            reference = given
            config = _config_for_reference(rt, declared.connector, given)
        elif isinstance(given, Mapping):
            config = dict(given)
        else:
            raise ConnectionConfigError(declared.connector, [Problem(
                "must be a mapping of connection fields or a reference string", pointer=f"/{name}")])
        config = {**declared.fields, **config}
        try:
            rt.resolve_connection(declared.connector, config, reference=reference)
        except ConnectionConfigError as exc:
            raise ConnectionConfigError(f"{declared.connector} (connection {name!r})", exc.problems) from None
        out[name] = config
    return out


class Runner:
    """One run of one automation (a fresh `Runner` per run; it holds the run's state)."""

    def __init__(self, rt: AutomationHost, automation: Automation, *, dry_run: bool = False,
                 sleep: Callable[[float], None] | None = None, resume: Resume | None = None) -> None:
        self.rt = rt
        self.automation = automation
        self.dry_run = dry_run
        self.sleep = sleep or rt.transport.sleep
        self.configs: dict[str, dict[str, Any]] = {}
        self.resume = None if dry_run else resume  # a journaled run (`automation.resume`)

    # -- the run ----------------------------------------------------------------------------------
    def run(self, inputs: Mapping[str, Any], connections: Mapping[str, Any]) -> AutomationRun:
        started = time.perf_counter()
        data = self.validate_inputs(inputs)
        self.configs = resolve_connections(self.rt, self.automation, connections)
        context_steps: dict[str, Any] = {}
        runs: dict[str, StepRun] = {}
        error: AutomationError | None = None
        failed_step = ""
        for step in self.automation.steps:
            if error is not None and not self.dry_run:
                runs[step.id] = StepRun(step.id, step.uses, "not_run", reason=f"step {failed_step!r} failed")
                continue
            recorded = self.resume.recorded(step) if self.resume is not None else None
            if recorded is not None:
                run = recorded
                log.info("automation %s: step %s finished before the run stopped; not run again",
                         self.automation.name, step.id)
            else:
                run = self.run_step(step, {"inputs": data, "steps": context_steps})
                if self.resume is not None:
                    self.resume.step_finished(run)
            if self.dry_run and run.outcome == "failed" and self._reads_unknown_output(step):
                run = StepRun(step.id, step.uses, "skipped", run.elapsed,
                              reason="dry run: it reads the output of a step that was not sent")
            runs[step.id] = run
            context_steps[step.id] = run.context()
            log.info("automation %s: step %s %s in %s", self.automation.name, step.id, run.outcome,
                     human_duration(run.elapsed))
            if run.outcome == "failed" and step.on_error == "fail" and error is None:
                failed_step = step.id
                error = AutomationError(self.automation.name, step.id, self._cause(run))
        if self.resume is not None:
            self.resume.run_finished()
        outputs, output_error = self.outputs({"inputs": data, "steps": context_steps}, error is None)
        if output_error is not None and error is None:
            error = output_error
        return AutomationRun(name=self.automation.name, steps=runs, outputs=outputs, error=error,
                             elapsed=time.perf_counter() - started, dry_run=self.dry_run, inputs=data)

    def _reads_unknown_output(self, step: Step) -> bool:
        """True when the step reads what an earlier step received, which a dry run does not know."""
        refs: set[tuple[str | int, ...]] = set()
        for part in (step.with_, step.condition, step.for_each):
            if part is not None:
                refs |= part.references()
        for ref in refs:
            if ref[0] != "steps" or len(ref) < 2 or not isinstance(ref[1], str):
                continue
            try:
                source = self.automation.step(ref[1])
            except KeyError:
                continue
            if source.kind != "set" and "input" not in ref[2:4]:
                return True
        return False

    @staticmethod
    def _cause(run: StepRun) -> RelaykitError:
        results = run.items if run.items is not None else ((run.result,) if run.result else ())
        for result in results:
            if result.outcome == "failed" and result.exception is not None:
                return result.exception
        return StepError(f"step {run.id!r} failed")

    def validate_inputs(self, inputs: Any) -> dict[str, Any]:
        if not isinstance(inputs, Mapping):
            raise AutomationInputError(self.automation.name, [Problem("the inputs must be an object")])
        hostile = value_problems(inputs)
        if hostile:
            raise AutomationInputError(self.automation.name, hostile)
        validator = self.automation.inputs_validator
        problems = error_problems(validator.iter_errors(dict(inputs))) if validator is not None else []
        if problems:
            raise AutomationInputError(self.automation.name, problems)
        return apply_defaults(self.automation.inputs_schema, dict(inputs))

    def outputs(self, context: Mapping[str, Any], strict: bool) -> tuple[dict[str, Any], AutomationError | None]:
        compiled = self.automation.outputs
        if compiled is None:
            return {}, None
        try:
            value = compiled.render(context)
        except TemplateRenderError as exc:
            if not strict or self.dry_run:
                return {}, None
            cause = StepError(f"cannot render {exc.pointer}: {exc.reason}")
            return {}, AutomationError(self.automation.name, "outputs", cause)
        return (value if isinstance(value, dict) else {}), None

    # -- one step ---------------------------------------------------------------------------------
    def run_step(self, step: Step, context: dict[str, Any]) -> StepRun:
        started = time.perf_counter()
        if step.condition is not None and not step.condition_per_item:
            try:
                go = step.condition.evaluate(context)
            except ConditionError as exc:
                result = self._failed(StepError(f"{step.pointer}/if: {exc}"), started)
                return StepRun(step.id, step.uses, "failed", time.perf_counter() - started, result=result)
            if not go:
                reason = f"if: {step.condition.source} is false" + (
                    " (dry run: earlier outputs are unknown)" if self.dry_run else "")
                return StepRun(step.id, step.uses, "skipped", time.perf_counter() - started, reason=reason)
        if not step.loops:
            result = self.run_once(step, context, started)
            return StepRun(step.id, step.uses, result.outcome, time.perf_counter() - started, result=result)
        return self.run_loop(step, context, started)

    def run_loop(self, step: Step, context: dict[str, Any], started: float) -> StepRun:
        assert step.for_each is not None
        try:
            items = step.for_each.render(context)
        except TemplateRenderError as exc:
            result = self._failed(StepError(f"cannot render {exc.pointer}: {exc.reason}"), started)
            return StepRun(step.id, step.uses, "failed", time.perf_counter() - started, result=result)
        if items is MISSING or items is None:
            items = []
        if not isinstance(items, (list, tuple)):
            kind = type(items).__name__.replace("dict", "mapping").replace("str", "string")
            result = self._failed(StepError(f"{step.pointer}/for_each: expected a list, got a {kind}"), started)
            return StepRun(step.id, step.uses, "failed", time.perf_counter() - started, result=result)
        if len(items) > MAX_ITEMS:
            result = self._failed(StepError(f"{step.pointer}/for_each: more than {MAX_ITEMS} items"), started)
            return StepRun(step.id, step.uses, "failed", time.perf_counter() - started, result=result)
        stop = threading.Event()

        def work(index: int, item: Any) -> StepResult:
            if stop.is_set():
                return StepResult("not_run")
            item_started = time.perf_counter()
            item_context = {**context, "item": item, "index": index}
            if step.condition is not None and step.condition_per_item:
                try:
                    if not step.condition.evaluate(item_context):
                        return StepResult("skipped", elapsed=time.perf_counter() - item_started)
                except ConditionError as exc:
                    outcome = self._failed(StepError(f"{step.pointer}/if (item {index}): {exc}"), item_started)
                    if step.on_error == "fail" and not self.dry_run:
                        stop.set()
                    return outcome
            outcome = self.run_once(step, item_context, item_started, key=f"{step.id}[{index}]")
            if outcome.outcome == "failed" and step.on_error == "fail" and not self.dry_run:
                stop.set()
            return outcome

        workers = min(step.max_parallel, len(items))
        if workers <= 1:
            results = [work(i, item) for i, item in enumerate(items)]
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"relaykit-{step.id}") as pool:
                futures = [pool.submit(work, i, item) for i, item in enumerate(items)]
                results = [f.result() for f in futures]
        outcomes = {r.outcome for r in results}
        if "failed" in outcomes:
            outcome = "failed"
        elif "ok" in outcomes or not results:
            outcome = "ok"
        else:
            outcome = "skipped"
        return StepRun(step.id, step.uses, outcome, time.perf_counter() - started, items=tuple(results))

    def run_once(self, step: Step, context: Mapping[str, Any], started: float, key: str | None = None) -> StepResult:
        """Render the step's input and execute it, with step-level retries (`key` names it in the journal)."""
        try:
            data = step.with_.render(context) if step.with_ is not None else {}
        except TemplateRenderError as exc:
            return self._failed(StepError(f"cannot render {exc.pointer}: {exc.reason}"), started)
        if data is MISSING or data is None:
            data = {}
        if step.kind == "set":
            return StepResult("ok", input=data, output=data, tries=1, elapsed=time.perf_counter() - started)
        if step.retry.max_attempts > 1:
            data = self._fix_dedupe_id(step, data)
        if self.resume is None:
            return self._call(step, data, started)
        data, recorded = self.resume.before_call(step, key or step.id, data)
        if recorded is not None:
            return recorded
        result = self._call(step, data, started)
        self.resume.after_call(key or step.id, result)
        return result

    def _call(self, step: Step, data: Any, started: float) -> StepResult:
        tries = attempts = 0
        shown_input: Any = data
        while True:
            tries += 1
            try:
                shown_input, output, status, used, request = self.execute(step, data)
                attempts += used
                return StepResult("ok", input=shown_input, output=output, status=status, attempts=attempts,
                                  tries=tries, elapsed=time.perf_counter() - started, request=request)
            except CallError as exc:
                attempts += exc.attempts
                wait = self._retry_wait(step, exc, tries)
                if wait is None:
                    return self._failed(exc, started, input=shown_input, attempts=attempts, tries=tries)
                log_wait(log, wait, "automation %s: step %s try %d of %d failed (%s); trying the step again",
                         self.automation.name, step.id, tries, step.retry.max_attempts, type(exc).__name__, retry=True)
                self.sleep(wait)
            except RelaykitError as exc:  # invalid input, connection or template: retrying cannot help
                return self._failed(exc, started, input=shown_input, attempts=attempts, tries=tries)

    def _fix_dedupe_id(self, step: Step, data: Any) -> Any:
        """`data` with its dedupe id (`event_id`, `messageId`) fixed for every try of this step run.

        A step retry is the same logical call: left to `Runtime.run`, each try would generate a new
        id, and a try that committed before its connection dropped would be counted twice.
        """
        if step.kind != "operation":
            return data
        try:
            op = self.rt.operation(step.uses)
        except RelaykitError:
            return data  # `execute` reports it
        return with_dedupe_id(input_idempotency(op, data), data)

    @staticmethod
    def _retry_wait(step: Step, exc: CallError, tries: int) -> float | None:
        policy = step.retry
        if tries >= policy.max_attempts or not (exc.retryable or policy.when == "call_error"):
            return None
        wait = policy.wait(tries)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            if retry_after > policy.max_delay:
                return None  # the server asks for longer than this step may wait: report it
            wait = max(wait, retry_after)
        return wait

    def execute(self, step: Step, data: Any) -> tuple[Any, Any, int | None, int, dict[str, Any] | None]:
        """One try: (input shown in the result, output, status, HTTP attempts, dry-run request)."""
        if step.kind == "webhook":
            return self._webhook(step, data)
        assert step.connection is not None
        op = self.rt.operation(step.uses)
        validated = validate_input(op, data)
        config = self.configs[step.connection]
        if self.dry_run:
            request = self.rt.dry_run(step.uses, validated, config)
            return validated, None, None, 0, request.to_dict()
        if step.paginate is not None:
            walk = Paginator(op, validated, lambda page: self.rt.run(step.uses, page, config), **step.paginate)
            items = list(walk)
            return validated, {"items": items, "pages": walk.pages_read, "stopped_by": walk.stopped_by}, 200, \
                walk.pages_read, None
        result = self.rt.run(step.uses, validated, config)
        return validated, result.output, result.status, result.attempts, None

    def _webhook(self, step: Step, data: Any) -> tuple[Any, Any, int | None, int, dict[str, Any] | None]:
        if not isinstance(data, Mapping):
            raise InputValidationError("webhook", step.id, [Problem("the input must be an object")])
        problems = error_problems(WEBHOOK_VALIDATOR.iter_errors(dict(data)))
        if problems:
            raise InputValidationError("webhook", step.id, problems)
        validated = apply_defaults(WEBHOOK_INPUT_SCHEMA, dict(data))
        try:
            request = render_webhook_request(step.id, validated)
        except ValueError as exc:
            raise InputValidationError("webhook", step.id, [Problem(str(exc))]) from None
        shown = _mask_credentials(validated)
        if self.dry_run:
            return shown, None, None, 0, request.to_dict()
        output, status, attempts = send_webhook(self.rt.transport, request, validated)
        return shown, output, status, attempts, None

    @staticmethod
    def _failed(exc: RelaykitError, started: float, *, input: Any = None, attempts: int = 0,
                tries: int = 1) -> StepResult:
        status = getattr(exc, "status", None)
        return StepResult("failed", input=input, status=status if isinstance(status, int) else None,
                          error=exc.to_dict(), attempts=attempts, tries=tries,
                          elapsed=time.perf_counter() - started, exception=exc)


def _mask_credentials(data: dict[str, Any]) -> dict[str, Any]:
    """The webhook input as results show it: credential header values masked, like dry-run requests."""
    headers = data.get("headers")
    if not isinstance(headers, Mapping) or not any(k.lower() in CREDENTIAL_HEADERS for k in headers):
        return data
    masked = {k: ("***" if k.lower() in CREDENTIAL_HEADERS else v) for k, v in headers.items()}
    return {**data, "headers": masked}


def run_automation(
    rt: AutomationHost,
    automation: Automation | str | os.PathLike[str],
    inputs: Mapping[str, Any] | None = None,
    connections: Mapping[str, Any] | None = None,
    *,
    dry_run: bool = False,
    sleep: Callable[[float], None] | None = None,
    journal: RunJournal | str | os.PathLike[str] | None = None,
    run_id: str | None = None,
) -> AutomationRun:
    """Run an automation once and return every step's result and the outputs.

    `automation` is a loaded `Automation` (load once, run many times) or a path to load.
    `connections` maps connection names to a config dict (secrets allowed: it comes from the
    caller, never from the automation) or a reference string; a connection not given is resolved
    from its `ref` through the `resolve_connection` hook, then `RELAYKIT_<REF>_<FIELD>` variables.
    With `dry_run`, every request is rendered (and returned per step) but nothing is sent.
    `sleep` waits between step-level retries (default: the runtime's own, so an injected clock
    makes them instant in tests).

    With `journal` (a `RunJournal` or a path) and a `run_id`, each finished step is recorded, and
    running the same `run_id` again after a crash resumes it (see `relaykit.automation.journal`):
    the recorded inputs are used, finished steps are not run again, an unfinished keyed call is
    resent with its dedupe id and an unfinished unsafe one fails with `MaybeSentError`.

    Raises `AutomationInputError` for inputs that break the schema and `ConnectionConfigError`
    for a connection that cannot be resolved — both before any step runs. A failing step does
    not raise: the returned run has `ok == False` and `error` set (see `raise_for_error`).
    """
    if not isinstance(automation, Automation):
        automation = load_automation(rt, automation)
    if journal is None or dry_run:
        return Runner(rt, automation, dry_run=dry_run, sleep=sleep).run(inputs or {}, connections or {})
    from .journal import RunJournal
    from .resume import Resume

    if not run_id:
        raise ValueError("a journaled run needs a run_id (resume it by running the same id again)")
    book = journal if isinstance(journal, RunJournal) else RunJournal(journal)
    try:
        first_inputs, _, records = book.open_run(run_id, automation.name, inputs or {})
        resume = Resume(rt, book, run_id, records)
        return Runner(rt, automation, sleep=sleep, resume=resume).run(first_inputs, connections or {})
    finally:
        if book is not journal:
            book.close()
