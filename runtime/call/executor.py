"""The pipeline of one operation call: validate input, render, send, classify, shape, validate output.

Everything before `Transport.send` is pure and raises before any byte leaves the process
(`InputValidationError`, `RenderError`); everything after turns the response into a `Result` or a
typed `CallError` whose message carries the API's own error text, scrubbed, but never the payload.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import (
    HTTPStatusError,
    InputValidationError,
    OutputValidationError,
    RateLimitError,
    RenderError,
    status_error_class,
)
from ..models import HttpRequest, Result
from ..redact import REDACTOR, mask_payload
from ..specs.jsonschemas import apply_defaults, error_problems
from ..specs.values import value_problems
from ..templates.filters import MISSING, TemplateRenderError
from ..transport.ratelimit_config import LimitOverride, effective_limit
from ..transport.retry import parse_retry_after, status_error_retryable
from ..transport.sender import RawResponse, SendOptions, Transport, _safe_url, display_url

if TYPE_CHECKING:
    from ..specs.models import OperationSpec
    from .connection import ResolvedConnection

log = logging.getLogger("relaykit.executor")
ERROR_TEXT_LIMIT = 300


def validate_input(op: OperationSpec, data: Any, *, vetted: bool = False) -> dict[str, Any]:
    """The input with schema defaults applied, or `InputValidationError` listing every problem.

    `vetted` says the data was decoded from JSON text already proven free of hostile values
    (`specs.values.json_text_is_plain`), so the walk that looks for them is skipped.
    """
    if not isinstance(data, Mapping):
        from ..errors import Problem

        raise InputValidationError(op.connector.name, op.name, [Problem("the input must be an object")])
    # before jsonschema, which fails on these with a traceback of its own
    hostile = [] if vetted else value_problems(data)
    if hostile:
        raise InputValidationError(op.connector.name, op.name, hostile)
    if op.input_check is not None and op.input_check(data) is True:
        problems = []  # proven valid: jsonschema would find nothing (see specs.fast_check)
    else:
        problems = error_problems(op.input_validator.iter_errors(data))
    if problems:
        raise InputValidationError(op.connector.name, op.name, problems)
    return apply_defaults(op.input_schema, data)  # a copy: the caller's data stays as it was


def decode_body(body: bytes, headers: Mapping[str, str]) -> Any:
    """JSON when it parses as JSON (Customer.io sometimes omits the content type), else text, else None."""
    if not body:
        return None
    text = body.decode("utf-8", errors="replace")
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if "json" in content_type or text[:1] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def api_error_text(body: Any, pointers: tuple[str, ...]) -> str | None:
    """The API's own message found at the connector's `message_from` pointers, scrubbed and truncated."""
    from .limits import resolve_pointer

    for pointer in pointers:
        for _, value in resolve_pointer(body, pointer):
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                text = REDACTOR.scrub(str(value))
                return text if len(text) <= ERROR_TEXT_LIMIT else text[: ERROR_TEXT_LIMIT - 3] + "..."
    return None


_NEEDS: dict[int, tuple[Any, bool, bool]] = {}


def _output_needs(output: Any) -> tuple[bool, bool]:
    """Whether an output template reads `response.headers` / `request.path` (else they are not built)."""
    hit = _NEEDS.get(id(output))
    if hit is not None and hit[0] is output:
        return hit[1], hit[2]
    refs = output.references()
    headers = any(r[0] == "response" and (len(r) == 1 or r[1] == "headers") for r in refs)
    path = any(r[0] == "request" and (len(r) == 1 or r[1] == "path") for r in refs)
    if len(_NEEDS) >= 4096:
        _NEEDS.clear()
    _NEEDS[id(output)] = (output, headers, path)
    return headers, path


class Executor:
    """Runs operations for a `Runtime` over its transport."""

    def __init__(self, transport: Transport, strict_output: bool = False,
                 rate_limits: Mapping[str, Mapping[str, LimitOverride]] | None = None) -> None:
        self.transport = transport
        self.strict_output = strict_output
        self.rate_limits = rate_limits or {}  # Runtime(rate_limits=...), already checked
        # (op, connection, rate class) -> SendOptions: both are immutable and cached by the runtime,
        # so the options (and the sandbox's per-region URLs) are built once, not on every call.
        self._options: dict[tuple[int, int, str | None], tuple[Any, Any, SendOptions]] = {}

    def send_options(self, op: OperationSpec, conn: ResolvedConnection, rate_class: str | None) -> SendOptions:
        key = (id(op), id(conn), rate_class)
        hit = self._options.get(key)
        if hit is not None and hit[0] is op and hit[1] is conn:  # the entry holds both, so ids are not reused
            return hit[2]
        connector = op.connector
        declared = connector.rate_limits.get(rate_class) if rate_class else None
        limit = effective_limit(declared, self.rate_limits.get(connector.name, {}).get(rate_class or ""),
                                dict(conn.rate_limits).get(rate_class or ""))
        options = SendOptions(
            settings=op.settings,
            rate_limit=limit,
            fingerprint=conn.fingerprint,
            region_bases=self._region_bases(op, conn),
            request_id_header=connector.request_id_header,
        )
        if len(self._options) >= 1024:
            self._options.clear()
        self._options[key] = (op, conn, options)
        return options

    def send(self, op: OperationSpec, request: HttpRequest, conn: ResolvedConnection,
             data: Mapping[str, Any], fail_on_http_error: bool = True) -> Result:
        connector = op.connector
        options = self.send_options(op, conn, request.rate_limit_class)
        raw = self.transport.send(request, conn.auth, options)
        body = decode_body(raw.body, raw.headers)
        ok = raw.status in op.success if op.success else 200 <= raw.status < 300
        if op.kind == "raw_http":
            if not ok and fail_on_http_error:
                raise self._status_error(op, request, raw, body)
            output: Any = {"status": raw.status, "headers": dict(raw.headers), "body": body,
                           "request_id": raw.request_id}
        else:
            if not ok:
                raise self._status_error(op, request, raw, body)
            output = self._shape(op, request, raw, body, data)
        self._check_output(op, request, raw, output)
        return Result(output=output, status=raw.status, headers=raw.headers, request_id=raw.request_id,
                      attempts=raw.attempts, elapsed=raw.elapsed, connector=connector.name, operation=op.name,
                      warnings=request.warnings)

    @staticmethod
    def _region_bases(op: OperationSpec, conn: ResolvedConnection) -> dict[str, str]:
        from .connection import sandbox_base_url

        if conn.sandbox:
            root = conn.base_url.split(f"/{op.connector.name}/", 1)[0]
            return {r: sandbox_base_url(root, op.connector.name, r, base) for r, base in op.connector.base_urls.items()}
        return dict(op.connector.base_urls)

    @staticmethod
    def _shape(op: OperationSpec, request: HttpRequest, raw: RawResponse, body: Any, data: Mapping[str, Any]) -> Any:
        if op.output is None:
            return body if body is not None else {}
        wants_headers, wants_path = _output_needs(op.output)
        response: dict[str, Any] = {"status": raw.status, "body": body}
        if wants_headers:
            response["headers"] = dict(raw.headers)
        request_view: dict[str, Any] = {"method": request.method, "json": request.json}
        if wants_path:
            request_view["path"] = _safe_url(request.url)
        context = {"response": response, "request": request_view, "input": data}
        try:
            shaped = op.output.render(context)
        except TemplateRenderError as exc:
            raise RenderError(op.connector.name, op.name, exc.pointer, exc.reason) from None
        return None if shaped is MISSING else shaped

    def _check_output(self, op: OperationSpec, request: HttpRequest, raw: RawResponse, output: Any) -> None:
        if op.output_check is not None and op.output_check(output) is True:
            return
        problems = error_problems(op.output_validator.iter_errors(output))
        if not problems:
            return
        if self.strict_output:
            raise OutputValidationError(
                "the response does not match the operation's output schema", problems=problems,
                connector=op.connector.name, operation=op.name, method=request.method, url=display_url(request),
                attempts=raw.attempts, request_id=raw.request_id,
            )
        log.warning("%s: response does not match the output schema: %s", op.qualified_name,
                    "; ".join(str(p) for p in problems[:5]))

    def _status_error(self, op: OperationSpec, request: HttpRequest, raw: RawResponse, body: Any) -> HTTPStatusError:
        connector = op.connector
        cls = status_error_class(raw.status)
        api_text = api_error_text(body, connector.message_from) if body is not None else None
        if api_text:  # an API that echoes the payload back must not put it in our message (S4)
            api_text = mask_payload(api_text, request)
        message = f"HTTP {raw.status}"
        if api_text:
            message += f": {api_text}"
        hint = connector.hints.get(raw.status)
        if hint:
            message += f" — {hint}"
        retryable, note = status_error_retryable(raw.status, request.idempotency)
        if note:
            message += f" {note}"
        kwargs: dict[str, Any] = dict(
            status=raw.status, error_message=api_text, connector=connector.name, operation=op.name,
            method=request.method, url=display_url(request), attempts=raw.attempts, request_id=raw.request_id,
            retryable=retryable,
        )
        if cls is RateLimitError:
            from time import time

            kwargs["retry_after"] = parse_retry_after(raw.headers.get("Retry-After"), time())
        return cls(message, **kwargs)
