"""Request, response and error values passed between the server, the dispatcher and the API handlers."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json; charset=utf-8"
_UNSET: Any = object()


class ApiError(Exception):
    """A request the API refuses; the owning API turns it into its own error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        reason: str | None = None,
        outcome: str = "rejected",
        headers: list[tuple[str, str]] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.body = body
        self.status = status
        self.message = message
        self.field = field
        self.reason = reason
        self.outcome = outcome
        self.headers = headers or []


@dataclass
class Response:
    """One HTTP answer plus what the journal and counters need to know about it."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    outcome: str = "ok"
    writes: int = 0
    duplicates: int = 0


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, the way the sandbox writes every body."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(
    status: int,
    obj: Any,
    *,
    outcome: str = "ok",
    headers: list[tuple[str, str]] | None = None,
    writes: int = 0,
    duplicates: int = 0,
) -> Response:
    """Build a JSON response."""
    return Response(
        status,
        dumps(obj),
        [("Content-Type", JSON_TYPE), *(headers or [])],
        outcome,
        writes,
        duplicates,
    )


def empty_response(status: int = 204, *, outcome: str = "ok", writes: int = 0) -> Response:
    """Build a response without a body (204)."""
    return Response(status, b"", [], outcome, writes, 0)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> Any:
    """Parse a request body strictly: UTF-8, no NaN/Infinity, bounded nesting."""
    text = raw.decode("utf-8")
    value = json.loads(text, parse_constant=_refuse_constant)
    return value


@dataclass
class Request:
    """An API request after the sandbox prefix has been split off."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connector: str
    region: str
    segments: list[str]
    query: dict[str, list[str]]
    root: str
    ws: Any = None
    #: Root of this API in the workspace's home region, in the layout the request arrived through.
    home_root: str = ""
    params: dict[str, str] = field(default_factory=dict)
    _json: Any = _UNSET

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def q(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def json(self, *, required: bool = True) -> Any:
        """The body parsed as JSON, or an ApiError(400) the API shapes."""
        if self._json is _UNSET:
            if not self.body.strip():
                if required:
                    raise ApiError(400, "request body is empty; a JSON object is required", reason="empty")
                self._json = None
                return None
            try:
                self._json = parse_json(self.body)
            except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                raise ApiError(400, f"malformed JSON body: {_short(exc)}", reason="malformed") from None
        return self._json

    def json_object(self, *, required: bool = True) -> dict[str, Any]:
        """The body as a JSON object (400 when it is another JSON type)."""
        value = self.json(required=required)
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            raise ApiError(400, "request body must be a JSON object", reason="malformed")
        return value


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]


def is_finite_number(value: Any) -> bool:
    """True for JSON numbers (not booleans) that are finite."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)
