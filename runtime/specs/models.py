"""The frozen spec models a loaded connector or operation becomes: settings, rate limits, request templates.

Everything downstream (connection, rendering, transport, executor) reads these; only `specs.loader`
builds them, so a call does no parsing at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

from ..templates.compiled import Compiled
from .batching import BatchItem, BatchResponse
from .sources import ConnectorSource


@dataclass(frozen=True)
class Timeouts:
    """Per-attempt connect and read timeouts, and the whole call's deadline across attempts."""

    connect: float = 5.0
    read: float = 30.0
    total: float = 90.0


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, the backoff envelope, and the longest Retry-After worth waiting for."""

    max_attempts: int = 4
    initial: float = 0.5
    factor: float = 2.0
    max: float = 8.0
    max_retry_after: float = 60.0


@dataclass(frozen=True)
class Settings:
    """The connector defaults an operation may override (StackStorm's overridable attributes)."""

    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: Timeouts = Timeouts()
    retry: RetryPolicy = RetryPolicy()
    rate_limit_class: str | None = None
    limits: Mapping[str, Any] = field(default_factory=dict)
    max_response_bytes: int = 10 * 1024 * 1024

    def merged(self, raw: Mapping[str, Any]) -> Settings:
        """These settings with the named keys of `raw` (YAML) overriding, nested ones key by key."""
        timeout = self.timeout
        if "timeout" in raw:
            timeout = Timeouts(**{**timeout.__dict__, **raw["timeout"]})
        retry = self.retry
        if "retry" in raw:
            flat = dict(raw["retry"])
            backoff = flat.pop("backoff", {})
            retry = RetryPolicy(**{**retry.__dict__, **flat, **backoff})
        return Settings(
            headers={**self.headers, **raw.get("headers", {})},
            timeout=timeout,
            retry=retry,
            rate_limit_class=raw.get("rate_limit_class", self.rate_limit_class),
            limits={**self.limits, **raw.get("limits", {})},
            max_response_bytes=raw.get("max_response_bytes", self.max_response_bytes),
        )


@dataclass(frozen=True)
class RateLimit:
    """At most `requests` in any window of `per` seconds; `burst` B: B per `per * B / requests` s (ratelimit.py)."""

    requests: int
    per: float
    burst: int | None = None


@dataclass(frozen=True)
class Idempotency:
    """safe: repeat freely; keyed: a dedupe id at `key` is reused on retries; unsafe: send at most once."""

    mode: str = "safe"
    key: str | None = None
    input_key: str | None = None  # where the caller's own id goes in the input (see `call.dedupe.with_dedupe_id`)


@dataclass(frozen=True)
class RawRule:
    """Raw HTTP: which rate-limit class, idempotency and limits apply to a path glob."""

    pattern: re.Pattern[str]
    methods: frozenset[str] | None
    rate_limit_class: str | None
    idempotency: Idempotency | None
    limits: Mapping[str, Any]

    def matches(self, method: str, endpoint: str) -> bool:
        return (self.methods is None or method in self.methods) and bool(self.pattern.fullmatch(endpoint))


@dataclass(frozen=True)
class ConnectorSpec:
    """A loaded connector: connection schema, regions, auth, defaults, rate limits and error rules."""

    name: str
    title: str
    version: str
    description: str
    docs_url: str | None
    base_urls: Mapping[str, str]
    default_region: str
    connection_schema: Mapping[str, Any]
    secret_fields: frozenset[str]
    auth_type: str
    auth: Compiled
    defaults: Settings
    rate_limits: Mapping[str, RateLimit]
    raw_rules: tuple[RawRule, ...]
    message_from: tuple[str, ...]
    request_id_header: str | None
    hints: Mapping[int, str]
    operation_names: tuple[str, ...]
    source: ConnectorSource
    provider: str
    file: str
    region_lookup: tuple[str, str] | None = None  # (operation, pointer to the region in its output)
    check: tuple[str, Mapping[str, Any]] | None = None  # (operation, input) of the harmless connection check

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(self.base_urls)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "version": self.version,
            "description": self.description,
            "regions": list(self.regions),
            "base_urls": dict(self.base_urls),
            "operations": list(self.operation_names),
            "provider": self.provider,
        }


@dataclass(frozen=True)
class RequestTemplate:
    """The compiled request mapping of a declarative (`http`) operation."""

    method: str
    path: Compiled
    path_display: str
    query: Compiled | None
    headers: Compiled | None
    body_kind: str | None  # json | form | raw | None
    body: Compiled | None
    content_type: str | None
    base: str = "api"  # api: the path follows the base URL; host: it follows the host (Track's /unsubscribe)


@dataclass(frozen=True)
class Pagination:
    """How a list operation pages: the cursor it sends, where the next cursor and the items are, when to stop."""

    cursor_input: str  # the input field that carries the cursor (`start` for the App API)
    next: str  # JSON pointer to the next cursor in the response body; empty, missing or repeated ends paging
    items: str  # JSON pointer to the page's items
    max_pages: int  # the stop that always applies unless a caller asks for another

    def describe(self) -> dict[str, Any]:
        return {"cursor_input": self.cursor_input, "next": self.next, "items": self.items,
                "max_pages": self.max_pages}


@dataclass(frozen=True)
class OperationSpec:
    """A loaded operation: schemas (raw and compiled), request/response mapping and call settings."""

    connector: ConnectorSpec
    name: str
    title: str
    description: str
    docs_url: str | None
    kind: str
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any]
    input_validator: Draft202012Validator
    output_validator: Draft202012Validator
    idempotency: Idempotency
    request: RequestTemplate | None
    success: tuple[int, ...]
    output: Compiled | None
    settings: Settings
    examples: tuple[Mapping[str, Any], ...]
    file: str
    # compiled at load (see `fast_check`): True proves the value valid, so the validator is skipped
    input_check: Callable[[Any], bool | None] | None = None
    output_check: Callable[[Any], bool | None] | None = None
    batch: BatchItem | None = None  # how an input becomes one item of a batch operation (relaykit bulk)
    batch_response: BatchResponse | None = None  # a batch operation: how the API reports single items
    pagination: Pagination | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.connector.name}.{self.name}"

    def describe(self) -> dict[str, Any]:
        """Schemas and docs, for host UIs that render forms and for `relaykit describe`."""
        request = None
        if self.request is not None:
            request = {"method": self.request.method, "path": self.request.path_display}
        return {
            "name": self.qualified_name,
            "connector": self.connector.name,
            "operation": self.name,
            "title": self.title,
            "description": self.description,
            "docs_url": self.docs_url,
            "kind": self.kind,
            "request": request,
            "idempotency": self.idempotency.mode,
            "rate_limit_class": self.settings.rate_limit_class,
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
            "connection_schema": self.connector.connection_schema,
            "examples": [dict(e) for e in self.examples],
            "pagination": self.pagination.describe() if self.pagination else None,
        }
