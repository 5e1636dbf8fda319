"""One journaled automation run: skip recorded steps, fix dedupe ids before sending, refuse to resend unsafe calls.

The `Runner` asks a `Resume` three things (see `automation.journal` for the guarantees): is this
step already finished (`recorded`), may this call go out and with which input (`before_call`), and
records what came back (`after_call`, `step_finished`). Results come back from the journal as the
same `StepRun` / `StepResult` values a live run makes, minus the exception objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..call.dedupe import input_idempotency, with_dedupe_id
from .model import Step, StepError, StepResult, StepRun

if TYPE_CHECKING:
    from .host import AutomationHost
    from .journal import Record, RunJournal

__all__ = ["MaybeSentError", "Resume"]

_SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})


class MaybeSentError(StepError):
    """The run stopped while this unsafe call was being sent: it may have landed, so it is not sent again."""


def result_from(data: Mapping[str, Any]) -> StepResult:
    """A `StepResult` from its `to_dict()`."""
    return StepResult(data["outcome"], input=data.get("input"), output=data.get("output"), status=data.get("status"),
                      error=data.get("error"), attempts=data.get("attempts", 0), tries=data.get("tries", 0),
                      elapsed=data.get("elapsed", 0.0), request=data.get("request"))


def step_run_from(data: Mapping[str, Any]) -> StepRun:
    """A `StepRun` from its `to_dict()`."""
    items = data.get("items")
    return StepRun(data["id"], data["uses"], data["outcome"], data.get("elapsed", 0.0),
                   result=result_from(data["result"]) if data.get("result") else None,
                   items=tuple(result_from(i) for i in items) if items is not None else None, reason=data.get("reason"))


class Resume:
    """The journal's view of one run, used by the `Runner` (thread-safe: the journal serialises writes)."""

    def __init__(self, rt: AutomationHost, journal: RunJournal, run_id: str, records: Mapping[str, Record]) -> None:
        self.rt = rt
        self.journal = journal
        self.run_id = run_id
        self.records = dict(records)

    def recorded(self, step: Step) -> StepRun | None:
        """The step's run if it finished before (it is not run again)."""
        record = self.records.get(f"step:{step.id}")
        return step_run_from(record.result) if record is not None and record.state == "done" else None

    def before_call(self, step: Step, key: str, data: Any) -> tuple[Any, StepResult | None]:
        """The input to send (a started keyed call keeps its recorded input and dedupe id), or the result to use."""
        record = self.records.get(f"call:{key}")
        if record is not None and record.state == "done":
            return data, result_from(record.result)
        if record is not None and not self._resendable(step, data):
            exc = MaybeSentError(f"step {step.id!r} was being sent when the run stopped and may have been "
                                 "delivered; it is not idempotent, so it is not sent again (check, then rerun it)")
            return data, StepResult("failed", input=None if step.kind == "webhook" else data, error=exc.to_dict(),
                                    exception=exc)
        if record is not None and record.input is not None:
            data = record.input
        elif step.kind == "operation" and isinstance(data, Mapping):
            data = with_dedupe_id(input_idempotency(self.rt.operation(step.uses), data), data)
        self.journal.started(self.run_id, f"call:{key}", None if step.kind == "webhook" else data)
        return data, None

    def after_call(self, key: str, result: StepResult) -> None:
        self.journal.finished(self.run_id, f"call:{key}", result.to_dict())

    def step_finished(self, run: StepRun) -> None:
        self.journal.finished(self.run_id, f"step:{run.id}", run.to_dict())

    def run_finished(self) -> None:
        self.journal.finish_run(self.run_id)

    def _resendable(self, step: Step, data: Any) -> bool:
        method = data.get("method", "POST") if isinstance(data, Mapping) else "POST"
        if step.kind == "webhook":
            idempotent = data.get("idempotent") if isinstance(data, Mapping) else None
            return method in _SAFE_METHODS if idempotent is None else bool(idempotent)
        op = self.rt.operation(step.uses)
        if op.kind == "raw_http":
            return method in _SAFE_METHODS
        return op.idempotency.mode != "unsafe"
