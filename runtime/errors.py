"""The relaykit exception tree: every error a caller can see, rooted in `RelaykitError`.

```text
RelaykitError                        str() never contains secrets or payload values
├── SpecError [problems]             an author's mistake in a YAML/JSON spec, found at load
├── PluginError                      hook or registration problems (duplicate connectors, ...)
├── UnknownNameError (KeyError)
│   ├── UnknownConnectorError [name, suggestions]
│   ├── UnknownOperationError [name, suggestions]
│   └── UnknownExampleError [name, suggestions]
├── ConnectionConfigError (ValueError) [connector, problems]     before sending
├── SettingsError (ValueError) [setting, problems]               a bad `Runtime(...)` setting
├── InputValidationError (ValueError) [connector, operation, problems]   before sending
├── RenderError [connector, operation, pointer]                   before sending
├── BulkError                        relaykit bulk cannot start or go on (no `batch:`, unreadable input)
└── CallError [connector, operation, method, url, attempts, retryable, request_id]
    ├── TransportError               no usable HTTP response (connect, read, TLS)
    │   └── RequestTimeoutError
    ├── RegionMismatchError [region]  a 3xx towards the connector's other region
    ├── RedirectError                 any other 3xx: never followed with credentials
    ├── HTTPStatusError [status, error_message]
    │   ├── AuthenticationError (401)    PermissionDeniedError (403)
    │   ├── NotFoundError (404)          ConflictError (409)
    │   ├── RateLimitError (429) [retry_after]
    │   ├── ClientError (other 4xx)      ServerError (5xx)
    └── OutputValidationError [problems]
```

The three bands answer a host engine's question: fix the spec, fix the call, or retry later.
Messages are built from structured fields (names, JSON pointers, statuses), never by
interpolating user values, so payload data stays out of logs by default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One located problem: where it is and what is wrong, without the offending value."""

    message: str
    pointer: str = ""
    file: str | None = None
    line: int | None = None
    column: int | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += " "
        pointer = self.pointer or "/"
        text = f"{where}{pointer}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class RelaykitError(Exception):
    """Base of every relaykit error. Subclasses keep structured fields; `to_dict()` serialises them."""

    kind = "error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"error": type(self).__name__, "kind": self.kind, "message": str(self)}
        for key, value in self._fields().items():
            if value is not None:
                data[key] = value
        return data

    def _fields(self) -> dict[str, Any]:
        return {}


class _ProblemsMixin:
    problems: list[Problem]

    def _problem_lines(self) -> str:
        return "\n".join(f"  {p}" for p in self.problems)

    def _message_and_problems(self, message: str) -> str:
        if len(self.problems) == 1:
            return f"{message}: {self.problems[0]}"
        return f"{message}:\n{self._problem_lines()}"


class SpecError(_ProblemsMixin, RelaykitError):
    """A connector, operation, schema or automation file is wrong; every problem is listed at once."""

    kind = "spec"

    def __init__(self, problems: list[Problem] | Problem, summary: str = "invalid specification") -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__(summary)

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        return f"{self.message} ({len(self.problems)} problems):\n{self._problem_lines()}"

    def _fields(self) -> dict[str, Any]:
        return {"problems": [p.to_dict() for p in self.problems]}


class PluginError(RelaykitError):
    """A plugin could not be loaded or registered something invalid or duplicated."""

    kind = "plugin"


class UnknownNameError(RelaykitError, KeyError):
    """A connector or operation name that is not registered; carries close matches."""

    kind = "usage"
    what = "name"

    def __init__(self, name: str, suggestions: list[str] | None = None) -> None:
        self.name = name
        self.suggestions = list(suggestions or [])
        text = f"unknown {self.what} {name!r}"
        if self.suggestions:
            text += " (did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?)"
        super().__init__(text)

    def __str__(self) -> str:  # KeyError would repr() the message otherwise
        return self.message

    def _fields(self) -> dict[str, Any]:
        return {"name": self.name, "suggestions": self.suggestions}


class UnknownConnectorError(UnknownNameError):
    """No connector of that name is registered."""

    what = "connector"


class UnknownOperationError(UnknownNameError):
    """The connector has no operation of that name."""

    what = "operation"


class UnknownExampleError(UnknownNameError):
    """No example automation of that name ships with relaykit."""

    what = "example"


class ConnectionConfigError(_ProblemsMixin, RelaykitError, ValueError):
    """The connection (credentials, region, sandbox_url) is invalid; raised before anything is sent."""

    kind = "connection"

    def __init__(self, connector: str, problems: list[Problem]) -> None:
        self.connector = connector
        self.problems = list(problems)
        super().__init__(f"{connector}: invalid connection")

    def __str__(self) -> str:
        return self._message_and_problems(self.message)

    def _fields(self) -> dict[str, Any]:
        return {"connector": self.connector, "problems": [p.to_dict() for p in self.problems]}


class SettingsError(_ProblemsMixin, RelaykitError, ValueError):
    """A `Runtime(...)` setting (such as `rate_limits`) is invalid; raised when the runtime is built."""

    kind = "usage"

    def __init__(self, setting: str, problems: list[Problem]) -> None:
        self.setting = setting
        self.problems = list(problems)
        super().__init__(f"Runtime({setting}=...): invalid setting")

    def __str__(self) -> str:
        return self._message_and_problems(self.message)

    def _fields(self) -> dict[str, Any]:
        return {"setting": self.setting, "problems": [p.to_dict() for p in self.problems]}


class InputValidationError(_ProblemsMixin, RelaykitError, ValueError):
    """The operation input breaks its schema or a payload limit; nothing was sent."""

    kind = "input"

    def __init__(self, connector: str, operation: str, problems: list[Problem]) -> None:
        self.connector = connector
        self.operation = operation
        self.problems = list(problems)
        super().__init__(f"{connector}.{operation}: invalid input")

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return f"{self.message}: {self.problems[0]}"
        return f"{self.message} ({len(self.problems)} problems):\n{self._problem_lines()}"

    def _fields(self) -> dict[str, Any]:
        return {
            "connector": self.connector,
            "operation": self.operation,
            "problems": [p.to_dict() for p in self.problems],
        }


class BulkError(RelaykitError):
    """`relaykit bulk` cannot start or go on: an operation without `batch:`, an input file it cannot read."""

    kind = "input"


class RenderError(RelaykitError):
    """A request template could not be rendered from the given input (e.g. a required value is absent)."""

    kind = "input"

    def __init__(self, connector: str, operation: str, pointer: str, reason: str) -> None:
        self.connector = connector
        self.operation = operation
        self.pointer = pointer
        self.reason = reason
        super().__init__(f"{connector}.{operation}: cannot render {pointer or '/'}: {reason}")

    def _fields(self) -> dict[str, Any]:
        return {"connector": self.connector, "operation": self.operation, "pointer": self.pointer}


class CallError(RelaykitError):
    """The request was (or may have been) sent and the call did not succeed."""

    kind = "call"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        connector: str = "",
        operation: str = "",
        method: str = "",
        url: str = "",
        attempts: int = 0,
        request_id: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.connector = connector
        self.operation = operation
        self.method = method
        self.url = url  # redacted: scheme, host and path only, never the query string
        self.attempts = attempts
        self.request_id = request_id
        if retryable is not None:
            self.retryable = retryable
        super().__init__(message)

    def __str__(self) -> str:
        where = f"{self.connector}.{self.operation}" if self.connector else ""
        parts = [p for p in (where, f"{self.method} {self.url}".strip()) if p]
        prefix = " ".join(parts)
        text = f"{prefix}: {self.message}" if prefix else self.message
        if self.attempts > 1:
            text += f" (after {self.attempts} attempts)"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text

    def _fields(self) -> dict[str, Any]:
        return {
            "connector": self.connector or None,
            "operation": self.operation or None,
            "method": self.method or None,
            "url": self.url or None,
            "attempts": self.attempts,
            "retryable": self.retryable,
            "request_id": self.request_id,
        }


class TransportError(CallError):
    """No usable HTTP response: connection refused or reset, TLS failure, truncated body."""

    retryable = True


class RequestTimeoutError(TransportError):
    """A connect or read timeout, or the call's total deadline, ran out."""


class RedirectError(CallError):
    """The server answered with a redirect; relaykit never follows one with credentials attached."""

    def __init__(self, message: str, *, status: int, **kw: Any) -> None:
        self.status = status
        super().__init__(message, **kw)

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "status": self.status}


class RegionMismatchError(RedirectError):
    """The account lives in another region; `region` names the one to configure."""

    def __init__(self, message: str, *, region: str, **kw: Any) -> None:
        self.region = region
        super().__init__(message, **kw)

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "region": self.region}


class HTTPStatusError(CallError):
    """The API answered with an error status; `error_message` is the API's own (scrubbed) text."""

    def __init__(self, message: str, *, status: int, error_message: str | None = None, **kw: Any) -> None:
        self.status = status
        self.error_message = error_message
        super().__init__(message, **kw)

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "status": self.status, "error_message": self.error_message}


class AuthenticationError(HTTPStatusError):
    """401: the credentials were refused."""


class PermissionDeniedError(HTTPStatusError):
    """403: the credentials lack the scope for this call."""


class NotFoundError(HTTPStatusError):
    """404: the addressed resource does not exist."""


class ConflictError(HTTPStatusError):
    """409: the request conflicts with the resource's current state."""


class RateLimitError(HTTPStatusError):
    """429, or a wait longer than the call may spend; `retry_after` (seconds) lets a host reschedule."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        kw.setdefault("status", 429)
        super().__init__(message, **kw)

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "retry_after": self.retry_after}


class ClientError(HTTPStatusError):
    """Any other 4xx: the request itself is wrong; retrying it will not help."""


class ServerError(HTTPStatusError):
    """5xx: the service failed; safe calls are retried, the rest are reported as retryable."""

    retryable = True


class OutputValidationError(_ProblemsMixin, CallError):
    """The response does not match the operation's output schema (strict mode)."""

    def __init__(self, message: str, *, problems: list[Problem], **kw: Any) -> None:
        self.problems = list(problems)
        super().__init__(message, **kw)

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "problems": [p.to_dict() for p in self.problems]}


class AutomationError(RelaykitError):
    """A step of an automation failed; wraps the step's error with where it happened."""

    kind = "automation"

    def __init__(self, automation: str, step_id: str, cause: RelaykitError) -> None:
        self.automation = automation
        self.step_id = step_id
        self.cause = cause
        super().__init__(f"automation {automation!r}, step {step_id!r}: {cause}")

    def _fields(self) -> dict[str, Any]:
        return {"automation": self.automation, "step_id": self.step_id, "cause": self.cause.to_dict()}


STATUS_ERRORS: dict[int, type[HTTPStatusError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def status_error_class(status: int) -> type[HTTPStatusError]:
    """The error class for an HTTP error status (the default status table)."""
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    return ServerError if status >= 500 else ClientError
