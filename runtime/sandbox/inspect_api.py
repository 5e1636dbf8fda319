"""The `/_sandbox/` inspection API: state, journal, stats, reset, faults, rate limits, info, export files.

No auth (the sandbox binds to loopback), never journaled, never faulted.
"""

from __future__ import annotations

from typing import Any, Protocol

from .dispatch import RawRequest, Reply
from .messages import Response, dumps, json_response, parse_json


class Inspected(Protocol):
    """What the inspection API reads and drives: the running sandbox, handed in by its owner."""

    def info(self) -> dict[str, Any]: ...
    def state(self) -> dict[str, Any]: ...
    def journal(self, since: int | None = None) -> list[dict[str, Any]]: ...
    def stats(self) -> dict[str, Any]: ...
    def reset(self) -> None: ...
    def set_faults(self, spec: Any) -> None: ...
    def faults_config(self) -> dict[str, Any] | None: ...
    def set_rate_limits(self, spec: Any) -> None: ...
    def rate_limits_config(self) -> dict[str, Any]: ...
    def export_rows(self, export_id: str) -> list[dict[str, Any]] | None: ...


ENDPOINTS = {
    "state": "GET",
    "journal": "GET",
    "stats": "GET",
    "reset": "POST",
    "faults": "GET, PUT",
    "rate_limits": "GET, PUT",
    "info": "GET",
    "exports/{id}": "GET",
}


def _error(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> Reply:
    return Reply(json_response(status, {"error": message}, headers=headers))


def _body(raw: RawRequest) -> tuple[bool, Any]:
    try:
        return True, parse_json(raw.body) if raw.body.strip() else None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return False, str(exc)


def handle(sandbox: Inspected, raw: RawRequest, target: Any) -> Reply:
    """Serve one `/_sandbox/...` request."""
    parts = [p for p in target.segments if p]
    name = parts[0] if parts else ""
    method = raw.method
    if name == "":
        return Reply(json_response(200, {"endpoints": ENDPOINTS, **sandbox.info()}))
    if name == "exports" and len(parts) == 2 and method == "GET":
        return _export_file(sandbox, parts[1])
    allowed = ENDPOINTS.get(name)
    if allowed is None or len(parts) != 1:
        return _error(404, "unknown sandbox endpoint")
    if method not in allowed.split(", "):
        return _error(405, f"{method} is not allowed here", [("Allow", allowed)])
    if name == "state":
        return Reply(json_response(200, sandbox.state()))
    if name == "journal":
        since = (target.query.get("since") or [None])[0]
        try:
            since_seq = int(since) if since not in (None, "") else None
        except ValueError:
            return _error(400, "since must be an integer sequence number")
        return Reply(json_response(200, {"entries": sandbox.journal(since=since_seq)}))
    if name == "stats":
        return Reply(json_response(200, sandbox.stats()))
    if name == "info":
        return Reply(json_response(200, sandbox.info()))
    if name == "reset":
        sandbox.reset()
        return Reply(json_response(200, {"reset": True}))
    ok, value = _body(raw) if method == "PUT" else (True, None)
    if not ok:
        return _error(400, f"malformed JSON: {value}")
    try:
        if name == "faults":
            if method == "PUT":
                sandbox.set_faults(value)
            return Reply(json_response(200, {"faults": sandbox.faults_config()}))
        if method == "PUT":
            sandbox.set_rate_limits(value if value is not None else False)
        return Reply(json_response(200, {"rate_limits": sandbox.rate_limits_config()}))
    except (ValueError, OSError) as exc:
        return _error(400, str(exc))


def _export_file(sandbox: Inspected, export_id: str) -> Reply:
    rows = sandbox.export_rows(export_id)
    if rows is None:
        return _error(404, "no finished export with this id")
    data = b"".join(dumps(row) + b"\n" for row in rows)
    return Reply(Response(200, data, [("Content-Type", "application/x-ndjson")]))
