"""The built-in `webhook` step: an HTTP request to any URL an automation names, through relaykit's transport.

It is Customer.io's "webhook action" for automations: no connector credentials are attached, but
the request still gets timeouts, a total deadline, retries of idempotent methods, the response
size cap, no redirects and secret redaction, because it goes through the same `Transport` as
every operation. Headers that carry credentials are masked in dry runs and registered with the
redactor; writing one literally in an automation is refused at load.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from ..call.executor import decode_body
from ..call.headers import normalise, refusal
from ..errors import CallError, Problem, status_error_class
from ..models import HttpRequest
from ..redact import REDACTOR, mask_path
from ..transport.retry import status_error_retryable

if TYPE_CHECKING:
    from ..transport.sender import Transport

__all__ = [
    "CREDENTIAL_HEADERS",
    "FORBIDDEN_HEADERS",
    "WEBHOOK_INPUT_SCHEMA",
    "header_problems",
    "render_webhook_request",
    "send_webhook",
]

WEBHOOK_INPUT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "webhook step: input",
    "type": "object",
    "required": ["url"],
    "additionalProperties": False,
    "properties": {
        "url": {"type": "string", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]", "maxLength": 8192},
        "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"], "default": "POST"},
        "headers": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 8192}},
        "query": {
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean", "array"],
                                     "items": {"type": ["string", "number", "boolean"]}},
        },
        "json": {"description": "A JSON body (sent as application/json)."},
        "form": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
        "body": {"type": "string", "description": "A raw text body; give content_type too."},
        "content_type": {"type": "string"},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 120, "default": 10},
        "fail_on_http_error": {"type": "boolean", "default": True},
        "idempotent": {"type": "boolean", "description": "Safe to repeat: lets the transport retry a POST/PATCH."},
    },
}

FORBIDDEN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "te", "upgrade"})
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"})
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})
_BODY_KEYS = ("json", "form", "body")


def header_problems(headers: Mapping[str, Any], pointer: str, *, literal_check: bool) -> list[Problem]:
    """Bad header names, and (at load) credentials written literally in the automation."""
    problems = []
    for name, value in headers.items():
        where = f"{pointer}/{name.replace('~', '~0').replace('/', '~1')}"
        if not name or any(c not in _TOKEN_CHARS for c in name):
            problems.append(Problem("is not a valid header name", where))
        elif normalise(name) in FORBIDDEN_HEADERS:
            problems.append(Problem("is set by the transport and may not be given", where))
        elif (reason := refusal(name)) is not None:
            problems.append(Problem(f"may not be given: it {reason}", where))
        elif literal_check and name.lower() in CREDENTIAL_HEADERS and isinstance(value, str) and "{{" not in value:
            problems.append(Problem("a credential must not be written in an automation", where,
                                    hint="pass it in the inputs or use a connector whose connection holds it"))
    return problems


def _check_value(value: str) -> bool:
    return not any(c in value for c in "\r\n\x00")


def render_webhook_request(step_id: str, data: Mapping[str, Any]) -> HttpRequest:
    """The request a webhook step sends, from its validated input; `ValueError` for an unusable one."""
    bodies = [k for k in _BODY_KEYS if k in data]
    if len(bodies) > 1:
        raise ValueError(f"give at most one of json, form and body (got {', '.join(bodies)})")
    url = data["url"]
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("url must be an absolute http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("url must not contain user information; use a header")
    if not _check_value(url) or any(c.isspace() for c in url):
        raise ValueError("url contains whitespace or control characters")
    query = data.get("query")
    if query:
        extra = urlencode({k: (_query_text(v) if not isinstance(v, list) else [_query_text(x) for x in v])
                           for k, v in query.items()}, doseq=True)
        parts = parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra)
        url = urlunsplit(parts)
    method = data.get("method", "POST")
    headers = {"User-Agent": _user_agent(), "Accept": "application/json, */*;q=0.5"}
    user_headers = dict(data.get("headers") or {})
    problems = header_problems(user_headers, "/headers", literal_check=False)
    if problems:
        raise ValueError(f"header {problems[0].pointer[len('/headers/'):]!r} {problems[0].message}")
    for name, value in user_headers.items():
        if not _check_value(value):
            raise ValueError(f"header {name!r} contains a line break or NUL")
    body: bytes | None = None
    decoded: Any = None
    if "json" in data:
        try:
            text = json.dumps(data["json"], separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):
            raise ValueError("json holds something that is not JSON data (NaN, infinity or an object)") from None
        body, decoded = text.encode("utf-8"), data["json"]
        headers["Content-Type"] = "application/json"
    elif "form" in data:
        body = urlencode({k: _query_text(v) for k, v in data["form"].items()}).encode("ascii")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif "body" in data:
        body = data["body"].encode("utf-8")
        headers["Content-Type"] = data.get("content_type") or "text/plain; charset=utf-8"
    if data.get("content_type") and body is not None:
        headers["Content-Type"] = data["content_type"]
    lowered = {k.lower(): k for k in headers}
    for name, value in user_headers.items():  # the author's headers win, whatever their case
        if name.lower() in lowered:
            headers.pop(lowered[name.lower()])
        headers[name] = value
    credentials = tuple(n for n in headers if n.lower() in CREDENTIAL_HEADERS)
    for name in credentials:
        REDACTOR.add_secret(headers[name])
    idempotent = data.get("idempotent")
    safe = method in _SAFE_METHODS if idempotent is None else bool(idempotent)
    return HttpRequest(
        method=method, url=url, headers=headers, body=body, connector="webhook", operation=step_id, json=decoded,
        rate_limit_class=None, idempotency="safe" if safe else "unsafe", auth_headers=credentials,
        path_template=f"{parts.scheme}://{parts.netloc}{mask_path(parts.path)}",
    )


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("a query value is not a finite number")
    return str(value)


def _user_agent() -> str:
    from ..version import __version__

    return f"relaykit/{__version__} (automation webhook step)"


_SENSITIVE_RESPONSE_HEADERS = frozenset({"set-cookie", "authorization", "proxy-authorization", "cookie"})


def send_webhook(transport: Transport, request: HttpRequest, data: Mapping[str, Any]) -> tuple[dict[str, Any], int,
                                                                                             int]:
    """Send through `transport`; (output, status, attempts), or a `CallError` for a failure.

    The output is `{status, headers, body}` with the body decoded (JSON or text).
    """
    from ..specs.models import Settings, Timeouts
    from ..transport.auth import Auth

    seconds = float(data.get("timeout", 10))
    settings = Settings(timeout=Timeouts(connect=min(5.0, seconds), read=seconds, total=max(30.0, 3 * seconds)))
    from ..transport.sender import SendOptions

    options = SendOptions(settings=settings, rate_limit=None, fingerprint=f"webhook:{urlsplit(request.url).netloc}")
    raw = transport.send(request, Auth(), options)
    body = decode_body(raw.body, raw.headers)
    headers = {k: ("***" if k.lower() in _SENSITIVE_RESPONSE_HEADERS else v) for k, v in raw.headers.items()}
    output = {"status": raw.status, "headers": headers, "body": body}
    if not 200 <= raw.status < 300 and data.get("fail_on_http_error", True):
        cls = status_error_class(raw.status)
        retryable, note = status_error_retryable(raw.status, request.idempotency)
        error: CallError = cls(f"HTTP {raw.status} {note}".rstrip(), status=raw.status, connector="webhook",
                               operation=request.operation, method=request.method, url=request.path_template,
                               attempts=raw.attempts, request_id=raw.request_id, retryable=retryable)
        raise error
    return output, raw.status, raw.attempts
