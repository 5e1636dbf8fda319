"""Immutable values that cross relaykit's public boundary: the rendered request and the call result.

Both are frozen and JSON-serialisable through `to_dict()`. An `HttpRequest` never holds a credential:
authentication is applied by the transport at send time, so a dry run, a repr or an observer can
only ever see the masked placeholder.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

MASK = "***"


def _frozen_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(headers))


@dataclass(frozen=True)
class HttpRequest:
    """The exact request an operation call sends, minus the credentials (shown masked).

    `auth_headers` names the headers the transport will add from the connection's credentials;
    they appear as `***` in `to_dict()`, `to_curl()` and the repr.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None = None
    connector: str = ""
    operation: str = ""
    json: Any = None  # the decoded JSON body, for response templates and observers
    rate_limit_class: str | None = None
    idempotency: str = "safe"  # safe | keyed | unsafe
    idempotency_key: str | None = None
    auth_headers: tuple[str, ...] = ()
    path_template: str = ""  # /v1/customers/{identifier}/events, or a raw endpoint masked (/customers/***):
    # safe to log, unlike the path (`transport.display_url` masks the parameters)
    warnings: tuple[str, ...] = ()  # sent anyway, but probably not what was meant (e.g. /v1/v1/...)

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", _frozen_headers(self.headers))

    def display_headers(self) -> dict[str, str]:
        """Headers as they will be sent, with every credential replaced by the mask."""
        shown = dict(self.headers)
        for name in self.auth_headers:
            shown[name] = MASK
        return shown

    def body_text(self) -> str | None:
        if self.body is None:
            return None
        return self.body.decode("utf-8", errors="replace")

    def to_dict(self) -> dict[str, Any]:
        data = {
            "connector": self.connector,
            "operation": self.operation,
            "method": self.method,
            "url": self.url,
            "headers": self.display_headers(),
            "body": self.json if self.json is not None else self.body_text(),
        }
        if self.warnings:
            data["warnings"] = list(self.warnings)
        return data

    def to_curl(self) -> str:
        """A copy-pasteable curl command; credentials stay masked (fill them in from your vault)."""
        parts = ["curl", "-X", self.method, self.url]
        for name, value in self.display_headers().items():
            parts += ["-H", f"{name}: {value}"]
        if self.body is not None:
            parts += ["--data-binary", self.body_text() or ""]
        return " ".join(shlex.quote(p) for p in parts)

    def __repr__(self) -> str:
        return f"HttpRequest({self.method} {self.url}, headers={self.display_headers()!r})"


@dataclass(frozen=True)
class Result:
    """What a successful operation call returns: the shaped output plus call metadata."""

    output: Any
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    request_id: str | None = None
    attempts: int = 1
    elapsed: float = 0.0
    connector: str = ""
    operation: str = ""
    warnings: tuple[str, ...] = ()  # the request's (see `HttpRequest.warnings`)

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", _frozen_headers(self.headers))

    def to_dict(self) -> dict[str, Any]:
        data = {
            "connector": self.connector,
            "operation": self.operation,
            "status": self.status,
            "output": self.output,
            "request_id": self.request_id,
            "attempts": self.attempts,
            "elapsed": round(self.elapsed, 6),
        }
        if self.warnings:
            data["warnings"] = list(self.warnings)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)
