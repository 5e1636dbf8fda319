"""The data model of a loaded automation and of one run: the immutable values loader and runner exchange.

An automation is a YAML workflow (`spec_version`, `name`, `inputs`, `connections`, `steps`,
`outputs`) whose steps call connector operations or the built-in `webhook` and `set` steps, with
`if:` conditions, `for_each:` loops, `on_error` and step-level retries. Loading and validation live
in `automation.loader`, running in `automation.runner`, the built-in webhook step in `automation.webhook_step` and
the command line in `cli.automations`; the functions embedders call (`load_automation`,
`run_automation`, `check_automation`) are re-exported by `relaykit.automation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import AutomationError, InputValidationError, Problem, RelaykitError

if TYPE_CHECKING:

    from ..templates.compiled import Compiled
    from .conditions import Condition

__all__ = [
    "BUILTIN_STEPS",
    "Automation",
    "AutomationInputError",
    "AutomationRun",
    "ConnectionRef",
    "RetrySpec",
    "Step",
    "StepError",
    "StepResult",
    "StepRun",
]

BUILTIN_STEPS = ("set", "webhook")
"""Step types that need no connector: `webhook` sends an HTTP request to any URL, `set` computes values."""


class StepError(RelaykitError):
    """A step failed for a reason of its own (a condition, a loop list, a template), not an API call."""

    kind = "step"


class AutomationInputError(InputValidationError):
    """The automation's inputs break its `inputs` schema; no step ran."""

    def __init__(self, automation: str, problems: list[Problem]) -> None:
        super().__init__("automation", automation, problems)
        self.message = f"automation {automation!r}: invalid inputs"


# -- the loaded automation ------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionRef:
    """A named connection: the connector, where its config comes from, and non-secret fixed fields."""

    name: str
    connector: str
    ref: str
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RetrySpec:
    """Step-level retries: the whole step runs again after `delay * factor**n` seconds (capped)."""

    max_attempts: int = 1
    delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 60.0
    when: str = "retryable"  # retryable | call_error

    def wait(self, tries_done: int) -> float:
        """Seconds to wait after `tries_done` failed tries."""
        return min(self.max_delay, self.delay * self.factor ** (tries_done - 1))


@dataclass(frozen=True)
class Step:
    """One step as loaded: what it uses, its compiled templates and its control fields."""

    id: str
    uses: str
    kind: str  # operation | webhook | set
    pointer: str  # e.g. /steps/2, for messages
    title: str = ""
    connection: str | None = None
    with_: Compiled | None = None
    condition: Condition | None = None
    condition_per_item: bool = False  # the condition reads item/index: it filters loop items
    for_each: Compiled | None = None
    max_parallel: int = 1
    paginate: Mapping[str, int] | None = None  # walk a paged operation: {} (declared stops), max_items, max_pages
    on_error: str = "fail"
    retry: RetrySpec = RetrySpec()

    @property
    def loops(self) -> bool:
        return self.for_each is not None


@dataclass(frozen=True)
class Automation:
    """A validated automation, ready to run any number of times (immutable, thread-safe)."""

    name: str
    file: str
    steps: tuple[Step, ...]
    connections: Mapping[str, ConnectionRef]
    inputs_schema: Mapping[str, Any]
    inputs_validator: Any = field(repr=False, compare=False)
    outputs: Compiled | None = field(default=None, repr=False, compare=False)
    title: str = ""
    description: str = ""

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def used_connections(self) -> list[str]:
        """Connection names that some step uses, in first-use order."""
        seen: list[str] = []
        for step in self.steps:
            if step.connection and step.connection not in seen:
                seen.append(step.connection)
        return seen

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "file": self.file,
            "inputs_schema": dict(self.inputs_schema),
            "connections": {n: {"connector": c.connector, "ref": c.ref, "fields": dict(c.fields)}
                            for n, c in self.connections.items()},
            "steps": [{"id": s.id, "uses": s.uses, "connection": s.connection, "loops": s.loops,
                       "on_error": s.on_error} for s in self.steps],
        }


# -- one run ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepResult:
    """What one execution of a step (or of one loop item) produced.

    `input` is the rendered, defaulted input; `status` the HTTP status when there was a response;
    `error` the failure's `to_dict()`; `outcome` is `ok`, `failed` or `skipped`. `attempts` counts
    HTTP attempts (transport retries included) over all `tries` (step-level retries).
    """

    outcome: str
    input: Any = None
    output: Any = None
    status: int | None = None
    error: Mapping[str, Any] | None = None
    attempts: int = 0
    tries: int = 0
    elapsed: float = 0.0
    request: Mapping[str, Any] | None = None  # dry runs: the request that would be sent
    exception: RelaykitError | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def context(self) -> dict[str, Any]:
        """The value templates see as `steps.<id>` (or one item of it for loops)."""
        return {"input": self.input, "output": self.output, "ok": self.ok, "status": self.status,
                "error": self.error, "outcome": self.outcome}

    def to_dict(self) -> dict[str, Any]:
        data = {**self.context(), "attempts": self.attempts, "tries": self.tries,
                "elapsed": round(self.elapsed, 6)}
        if self.request is not None:
            data["request"] = self.request
        return data


@dataclass(frozen=True)
class StepRun:
    """A step's part of a run: its outcome and its result, or the list of per-item results for loops."""

    id: str
    uses: str
    outcome: str  # ok | failed | skipped | not_run
    elapsed: float = 0.0
    result: StepResult | None = None
    items: tuple[StepResult, ...] | None = None
    reason: str | None = None  # why it was skipped or not run

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def attempts(self) -> int:
        if self.items is not None:
            return sum(r.attempts for r in self.items)
        return self.result.attempts if self.result else 0

    def counts(self) -> dict[str, int]:
        """For loops: how many items ended ok, failed and skipped."""
        out = {"ok": 0, "failed": 0, "skipped": 0}
        for item in self.items or ():
            out[item.outcome] = out.get(item.outcome, 0) + 1
        return out

    def context(self) -> Any:
        if self.items is not None:
            return [r.context() for r in self.items]
        return self.result.context() if self.result else None

    def errors(self) -> list[Mapping[str, Any]]:
        results = self.items if self.items is not None else ((self.result,) if self.result else ())
        return [r.error for r in results if r.error]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "uses": self.uses, "outcome": self.outcome,
                                "elapsed": round(self.elapsed, 6), "attempts": self.attempts}
        if self.reason:
            data["reason"] = self.reason
        if self.items is not None:
            data["counts"] = self.counts()
            data["items"] = [r.to_dict() for r in self.items]
        elif self.result is not None:
            data["result"] = self.result.to_dict()
        return data


@dataclass(frozen=True)
class AutomationRun:
    """The outcome of `run_automation`: every step's result, the outputs, and the error that stopped it."""

    name: str
    steps: Mapping[str, StepRun]
    outputs: Mapping[str, Any]
    error: AutomationError | None = None
    elapsed: float = 0.0
    dry_run: bool = False
    inputs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", MappingProxyType(dict(self.steps)))

    @property
    def ok(self) -> bool:
        """True when no step failed with `on_error: fail` (a dry run: when every request rendered)."""
        return self.error is None

    @property
    def results(self) -> dict[str, Any]:
        """`{step_id: {input, output, ok, status, error, outcome}}` (a list of them for loops)."""
        return {sid: run.context() for sid, run in self.steps.items() if run.outcome != "not_run"}

    def raise_for_error(self) -> AutomationRun:
        """Raise the `AutomationError` if the run failed; return self otherwise."""
        if self.error is not None:
            raise self.error
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "automation": self.name,
            "ok": self.ok,
            "dry_run": self.dry_run,
            "elapsed": round(self.elapsed, 6),
            "steps": [run.to_dict() for run in self.steps.values()],
            "outputs": dict(self.outputs),
            "error": self.error.to_dict() if self.error else None,
        }
