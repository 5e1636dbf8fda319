"""Operation + validated input + resolved connection -> the exact `HttpRequest` (pure; the dry run).

Rendered values go into typed slots and each slot is encoded for its destination: a path
expression becomes one percent-encoded segment (empty, `.` and `..` refused), query values are
form-encoded from a mapping, JSON bodies are serialised once with NaN refused. Text is never
spliced into a URL and parsed again. As a last guard the final URL is parsed with urllib3's own
parser (the one requests connects with) and must keep the base URL's scheme, host, port and path
prefix exactly; that is what keeps credentials on the connector's host.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlencode

from ..errors import InputValidationError, Problem, RenderError
from ..models import HttpRequest
from ..redact import mask_path
from ..templates.filters import MISSING, TemplateRenderError
from .headers import OWNED, REFUSED, normalise, refusal
from .ids import new_ulid
from .limits import check_body_limits, check_input_limits, pointer_parts

if TYPE_CHECKING:
    from ..specs.models import OperationSpec
    from .connection import ResolvedConnection

USER_AGENT = "relaykit/0.1 (+connector {connector}/{version})"
RESERVED_HEADERS = frozenset(OWNED) | frozenset(REFUSED)  # and the prefixes `headers.refusal` knows
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # used with fullmatch: `$` would allow a final newline
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")
_DOUBLE_ENCODED = re.compile(r"%25[0-9A-Fa-f]{2}")
_PCT = re.compile(r"%(?![0-9A-Fa-f]{2})")


class _Unsendable(ValueError):
    """A value that cannot be put on the wire (e.g. NaN); raised with a pointer, never the value."""


def encode_segment(value: Any, pointer: str) -> str:
    """One path segment with nothing left safe; empty, `.` and `..` are refused (they change the path)."""
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        raise TemplateRenderError(pointer, "a path parameter must be a string or a number")
    text = str(value)
    if text in ("", ".", "..") or text.strip() == "":
        raise TemplateRenderError(pointer, "a path parameter must not be empty, '.' or '..'")
    return quote(text, safe="")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise _Unsendable("not a finite number")
        return int(value) if value == value.to_integral_value() else float(value)
    raise _Unsendable(f"{type(value).__name__} values cannot be sent as JSON")


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default)
# built once: json.dumps with any non-default option builds a new encoder per call (~2 µs, per bulk item too)


def dump_json(value: Any) -> bytes:
    """Compact UTF-8 JSON; NaN and Infinity are refused instead of written as invalid JSON."""
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except (ValueError, TypeError, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, _Unsendable) else "body is not serialisable as JSON (NaN, Infinity, " \
                                                               "circular or too deep)"
        raise _Unsendable(reason) from None


def _spread(value: Any) -> Any:
    """Apply the body template's top-level `"...": {{ obj }}` key: its keys are merged in, explicit keys win.

    Only the top level is spread, where the template put the key; a `...` key deeper down came
    from the caller's data and is sent as data.
    """
    if not isinstance(value, dict) or "..." not in value:
        return value
    out = {k: v for k, v in value.items() if k != "..."}
    extra = value["..."]
    if isinstance(extra, dict):
        for k, v in extra.items():
            out.setdefault(k, v)
    return out


def set_key(body: Any, key: str, make: Any) -> tuple[Any, str | None]:
    """Fill the dedupe id at `key` (a pointer; `*` walks lists) where absent; the new body and the first id.

    Containers on the key's path are copied, so the caller's input is never modified.
    """
    parts = pointer_parts(key)
    first: list[str] = []

    def walk(node: Any, rest: tuple[str, ...]) -> Any:
        if not rest:
            return node
        head, tail = rest[0], rest[1:]
        if head == "*" and isinstance(node, list):
            return [walk(item, tail) for item in node]
        if not isinstance(node, dict):
            return node
        node = dict(node)
        if not tail:
            if node.get(head) in (None, ""):
                node[head] = make()
            if not first:
                first.append(str(node[head]))
            return node
        if head in node:
            node[head] = walk(node[head], tail)
        return node

    body = walk(body, parts)
    return body, (first[0] if first else None)


def check_header(name: str, value: str, pointer: str) -> Problem | None:
    """User headers: token names, no control characters (NUL included), no reserved names."""
    if not _TOKEN.fullmatch(name):
        return Problem("header name is not a valid HTTP token", pointer=pointer)
    reason = OWNED.get(normalise(name)) or refusal(name)
    if reason is not None:
        return Problem(f"this header cannot be given: it {reason}", pointer=pointer)
    if not isinstance(value, str):
        return Problem("header values must be strings", pointer=pointer)
    if _CONTROL.search(value):
        return Problem("header value contains a control character", pointer=pointer)
    if value != value.strip():
        return Problem("header value has leading or trailing whitespace", pointer=pointer)
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return Problem("header value must be ASCII/latin-1 text", pointer=pointer)
    return None


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")


def _relative_hint(base_url: str) -> str:
    base = f" {base_url}" if base_url else ""
    return (f"give the path after the connector's base URL{base}, starting with '/'; relaykit adds the base URL "
            "and the credentials, which never leave the connector's host")


def check_endpoint(endpoint: str, base_url: str = "") -> Problem | None:
    """The raw HTTP endpoint suffix: a plain, already-encoded path under the base URL, nothing else.

    `base_url` (the connector's, for the region) only words the messages: what the path is relative to.
    """
    pointer = "/endpoint"
    if not isinstance(endpoint, str):
        return Problem("must be a string: " + _relative_hint(base_url), pointer=pointer)
    if _SCHEME.match(endpoint) or endpoint.startswith("//"):
        return Problem("must be a path, not a URL: " + _relative_hint(base_url), pointer=pointer)
    if not endpoint.startswith("/"):
        return Problem("must start with '/': " + _relative_hint(base_url), pointer=pointer)
    if "://" in endpoint:
        return Problem("must be a path, not a URL: " + _relative_hint(base_url), pointer=pointer)
    if _CONTROL.search(endpoint) or _BIDI.search(endpoint) or any(ch.isspace() for ch in endpoint):
        return Problem("contains whitespace or control characters", pointer=pointer)
    if "\\" in endpoint:
        return Problem("contains a backslash", pointer=pointer)
    if "?" in endpoint or "#" in endpoint:
        return Problem("must not contain '?' or '#'; pass query parameters in 'query'", pointer=pointer)
    if "{{" in endpoint or "}}" in endpoint:
        return Problem("contains an unrendered template", pointer=pointer)
    if _PCT.search(endpoint):
        return Problem("contains a '%' that is not a percent-escape", pointer=pointer)
    if _DOUBLE_ENCODED.search(endpoint):
        return Problem("is double percent-encoded", pointer=pointer)
    for segment in endpoint.split("/")[1:]:
        decoded = unquote(segment)
        if decoded in (".", ".."):
            return Problem("must not contain '.' or '..' segments (also percent-encoded)", pointer=pointer)
        if "/" in decoded or "\\" in decoded or _CONTROL.search(decoded) or _BIDI.search(decoded):
            return Problem("a segment decodes to '/', '\\', a control or a bidi-override character", pointer=pointer)
    if not endpoint.isascii():
        return Problem("must be percent-encoded ASCII", pointer=pointer)
    return None


def repeated_prefix(endpoint: str, base_url: str) -> str | None:
    """The base URL's path (or its version segment) that `endpoint` repeats, as in `/v1` + `/v1/customers`.

    Such a request goes to `.../v1/v1/customers`, which is never what was meant; it is sent (an API
    might really nest like that) but with a warning.
    """
    from urllib.parse import urlsplit

    base_path = urlsplit(base_url).path.rstrip("/")
    if not base_path:
        return None
    if endpoint == base_path or endpoint.startswith(base_path + "/"):
        return base_path
    last = "/" + base_path.rsplit("/", 1)[-1]
    if re.fullmatch(r"/v\d+", last) and (endpoint == last or endpoint.startswith(last + "/")):
        return last
    return None


def _query_string(query: Mapping[str, Any] | None) -> str:
    if not query:
        return ""
    pairs: list[tuple[str, str]] = []
    for key, value in query.items():
        if value is MISSING or value is None:
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, bool):
                item = "true" if item else "false"
            if isinstance(item, dict | list):
                raise _Unsendable("query values must be strings, numbers or lists of them")
            pairs.append((str(key), str(item)))
    return urlencode(pairs, quote_via=quote)


@lru_cache(maxsize=256)
def _origin(base_url: str) -> tuple[str | None, str, int | None, str]:
    """The pinned parts of a base URL, parsed once (urllib3's parser costs ~20 µs a call)."""
    from urllib3.util import parse_url  # loaded on first use: `relaykit connectors` never needs it

    base = parse_url(base_url)
    return base.scheme, (base.host or "").lower().rstrip("."), base.port or None, (base.path or "").rstrip("/")


_PLAIN_TAIL = re.compile(r"(?:/[A-Za-z0-9\-._~%!$&'()*+,;=:@]*)+(?:\?[A-Za-z0-9\-._~%!$&'()*+,;=:@/?]*)?")
_DOT_SEGMENT = re.compile(r"/\.{1,2}(?:[/?]|$)")


def assert_same_origin(url: str, base_url: str) -> None:
    """Parse the final URL the way urllib3 will and demand the base's exact scheme, host, port, path prefix.

    Fast path: the base followed by a tail of plain RFC 3986 path/query characters with no dot
    segments cannot parse any other way, so urllib3's parser (the costliest step of rendering)
    runs only for anything else.
    """
    if url.startswith(base_url):
        tail = url[len(base_url):]
        if _PLAIN_TAIL.fullmatch(tail) and not _DOT_SEGMENT.search(tail):
            return
    from urllib3.util import parse_url

    final = parse_url(url)
    scheme, host, port, base_path = _origin(base_url)
    ok = (
        final.scheme == scheme
        and (final.host or "").lower().rstrip(".") == host
        and (final.port or None) == port
        and final.auth is None
        and (final.path or "").startswith(base_path + "/")
    )
    if not ok:
        raise _Unsendable("the request would leave the connector's base URL")


class RequestBuilder:
    """Shared tail of every kind: headers, body, limits, idempotency key and the same-origin check."""

    def __init__(self, op: OperationSpec, conn: ResolvedConnection) -> None:
        self.op = op
        self.conn = conn
        self.problems: list[Problem] = []

    def fail_render(self, pointer: str, reason: str) -> RenderError:
        return RenderError(self.op.connector.name, self.op.name, pointer, reason)

    def build(self, method: str, path: str, query: str, headers: dict[str, str], body_json: Any,
              body_raw: bytes | None, content_type: str | None, *, idempotency_mode: str, idempotency_key: str | None,
              limits: Mapping[str, Any], rate_limit_class: str | None, path_template: str,
              warnings: tuple[str, ...] = ()) -> HttpRequest:
        op, conn = self.op, self.conn
        key_value = None
        body = body_raw
        if body_json is not MISSING and body_json is not None:
            if idempotency_mode == "keyed" and idempotency_key:
                body_json, key_value = set_key(body_json, idempotency_key, new_ulid)
            try:
                body = dump_json(body_json)
            except _Unsendable as exc:
                raise self.fail_render("/body", str(exc)) from None
            content_type = content_type or "application/json"
        problems = check_body_limits(body, body_json if body_json is not MISSING else None, limits)
        if problems:
            raise InputValidationError(op.connector.name, op.name, problems)
        # A connector may declare an endpoint beside its API path (`request.base: host`); the pin is then the
        # host root, still fixed by the connector and never by input, so raw HTTP stays under the API path.
        base = conn.root_url if op.request is not None and op.request.base == "host" else conn.base_url
        url = base + path + (f"?{query}" if query else "")
        try:
            assert_same_origin(url, base)
        except (_Unsendable, ValueError):
            raise self.fail_render("/endpoint" if op.kind == "raw_http" else "/request/path",
                                   "the request would leave the connector's base URL") from None
        all_headers = {"User-Agent": USER_AGENT.format(connector=op.connector.name, version=op.connector.version)}
        all_headers.update(op.settings.headers)
        all_headers.update(headers)
        if body is not None and content_type and not any(k.lower() == "content-type" for k in headers):
            all_headers["Content-Type"] = content_type  # a caller's own Content-Type (any case) wins
        return HttpRequest(
            method=method, url=url, headers=all_headers, body=body, connector=op.connector.name, operation=op.name,
            json=None if body_json is MISSING else body_json, rate_limit_class=rate_limit_class,
            idempotency=idempotency_mode, idempotency_key=key_value, auth_headers=conn.auth.header_names(),
            path_template=path_template, warnings=warnings,
        )


def render_http(op: OperationSpec, data: Mapping[str, Any], conn: ResolvedConnection) -> HttpRequest:
    """The declarative kind: evaluate the operation's request mapping."""
    assert op.request is not None
    req = op.request
    builder = RequestBuilder(op, conn)
    limit_problems = check_input_limits(data, op.settings.limits)
    if limit_problems:
        raise InputValidationError(op.connector.name, op.name, limit_problems)
    context = {"input": data, "connection": conn.public, "region": conn.region}
    try:
        path = req.path.render(context, encode=encode_segment)
        query = req.query.render(context) if req.query else None
        headers = req.headers.render(context) if req.headers else {}
        body_json: Any = MISSING
        body_raw = None
        if req.body is not None:
            value = req.body.render(context)
            if req.body_kind == "json":
                body_json = _spread(value) if value is not MISSING else MISSING
            elif req.body_kind == "form":
                body_raw = urlencode({k: v for k, v in value.items() if v is not MISSING}).encode()
            elif value is not MISSING:
                body_raw = str(value).encode("utf-8")
    except TemplateRenderError as exc:
        raise builder.fail_render(exc.pointer, exc.reason) from None
    if path is MISSING:
        raise builder.fail_render("/request/path", "a path parameter is missing")
    header_problems = [p for name, value in (headers or {}).items()
                       if (p := check_header(name, value, f"/request/headers/{name}")) is not None]
    if header_problems:
        raise InputValidationError(op.connector.name, op.name, header_problems)
    try:
        query_text = _query_string(query if query is not MISSING else None)
    except _Unsendable as exc:
        raise builder.fail_render("/request/query", str(exc)) from None
    content_type = req.content_type or ("application/x-www-form-urlencoded" if req.body_kind == "form" else None)
    return builder.build(
        req.method, path, query_text, dict(headers or {}), body_json, body_raw, content_type,
        idempotency_mode=op.idempotency.mode, idempotency_key=op.idempotency.key, limits=op.settings.limits,
        rate_limit_class=op.settings.rate_limit_class, path_template=req.path_display,
    )


def render_raw_http(op: OperationSpec, data: Mapping[str, Any], conn: ResolvedConnection) -> HttpRequest:
    """The universal raw request: a vetted endpoint suffix under the connector's base URL."""
    builder = RequestBuilder(op, conn)
    method = data["method"]
    endpoint = data["endpoint"]
    problems = []
    real_base = op.connector.base_urls.get(conn.region, conn.base_url)
    bad = check_endpoint(endpoint, real_base)
    if bad:
        problems.append(bad)
    for name, value in (data.get("headers") or {}).items():
        p = check_header(name, value, "/headers/" + name.replace("~", "~0").replace("/", "~1"))
        if p:
            problems.append(p)
    body = data.get("body") or {}
    if body.get("content_type") is not None:  # it becomes a header line: vetted like one
        p = check_header("Content-Type", body["content_type"], "/body/content_type")
        if p:
            problems.append(p)
    if method in ("GET", "HEAD") and any(k in body for k in ("json", "form", "raw")):
        problems.append(Problem(f"a {method} request cannot carry a body", pointer="/body"))
    elif sum(k in body for k in ("json", "form", "raw")) > 1:
        problems.append(Problem("give at most one of json, form or raw", pointer="/body"))
    if problems:
        raise InputValidationError(op.connector.name, op.name, problems)
    rule = next((r for r in op.connector.raw_rules if r.matches(method, endpoint)), None)
    limits = {**op.settings.limits, **(rule.limits if rule else {})}
    idempotency = rule.idempotency if rule and rule.idempotency else None
    if idempotency is None:
        mode = "safe" if method in ("GET", "HEAD", "PUT", "DELETE") else "unsafe"
        key = None
    else:
        mode, key = idempotency.mode, idempotency.key
    if data.get("retry_unsafe") and mode == "unsafe":
        mode = "safe"
    body_json: Any = MISSING
    body_raw = None
    content_type = body.get("content_type")
    if "json" in body:
        body_json = body["json"]
    elif "form" in body:
        body_raw = urlencode(body["form"]).encode()
        content_type = content_type or "application/x-www-form-urlencoded"
    elif "raw" in body:
        body_raw = body["raw"].encode("utf-8")
    try:
        query = _query_string(data.get("query"))
    except _Unsendable as exc:
        raise builder.fail_render("/query", str(exc)) from None
    warnings = ()
    repeated = repeated_prefix(endpoint, real_base)
    if repeated:
        warnings = (f"{op.connector.name}.{op.name}: /endpoint starts with {repeated!r}, which the connector's "
                    f"base URL {real_base} already ends with, so the request goes to "
                    f"...{repeated}{repeated}/...; drop the leading {repeated!r} unless that is meant",)
    return builder.build(
        method, endpoint, query, dict(data.get("headers") or {}), body_json, body_raw, content_type,
        idempotency_mode=mode, idempotency_key=key, limits=limits,
        rate_limit_class=(rule.rate_limit_class if rule and rule.rate_limit_class else op.settings.rate_limit_class),
        path_template=mask_path(endpoint),
        warnings=warnings,
    )
