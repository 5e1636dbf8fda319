"""The built-in authentication schemes: how rendered connection values become request headers.

A scheme is a factory `params -> Auth`: `params` are the connector's `auth:` fields rendered
against the connection (the only templates allowed to read secret fields). The resulting object
builds the headers once and lists every secret-derived string for the redactor. Credentials are
applied by the transport at send time, so they never enter an `HttpRequest`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..redact import basic_forms, secret_forms


@dataclass(frozen=True, repr=False)
class Auth:
    """Ready-made credential headers plus the strings the redactor must scrub."""

    _headers: Mapping[str, str] = field(default_factory=dict)
    _secret_forms: frozenset[str] = frozenset()

    def headers(self) -> dict[str, str]:
        return dict(self._headers)

    def header_names(self) -> tuple[str, ...]:
        return tuple(self._headers)

    def secret_forms(self) -> list[str]:
        return list(self._secret_forms)

    def __repr__(self) -> str:
        return f"Auth(headers={list(self._headers)})"


def no_auth(params: Mapping[str, str]) -> Auth:
    """No credentials at all."""
    return Auth()


def basic_auth(params: Mapping[str, str]) -> Auth:
    """HTTP Basic: `username:password` in base64 (Track: site id + key; Pipelines: key + blank)."""
    username, password = params.get("username", ""), params.get("password", "")
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    forms = basic_forms(username, password) | secret_forms(password) | {f"Basic {token}"}
    if not password:  # Pipelines: the key is the username, so the username is the secret
        forms |= secret_forms(username)
    return Auth({"Authorization": f"Basic {token}"}, frozenset(forms))


def bearer_auth(params: Mapping[str, str]) -> Auth:
    """`Authorization: Bearer <token>` (App and Beta API keys)."""
    token = params.get("token", "")
    return Auth({"Authorization": f"Bearer {token}"}, frozenset(secret_forms(token) | {f"Bearer {token}"}))


def api_key_auth(params: Mapping[str, str]) -> Auth:
    """A key in a named header (for third-party connectors)."""
    value = params.get("value", "")
    return Auth({params["header"]: value}, frozenset(secret_forms(value)))


BUILTIN_SCHEMES = {"none": no_auth, "basic": basic_auth, "bearer": bearer_auth, "api_key": api_key_auth}
