"""`relaykit call --curl`: a curl command that runs, reading credentials from environment variables.

The dry-run request never holds a credential, so instead of printing a dead `Authorization: ***`
the command names the connection's variables (`-u "$RELAYKIT_PROD_SITE_ID:$RELAYKIT_PROD_API_KEY"`,
`-H "Authorization: Bearer $RELAYKIT_..."`): it runs once they are set, and no secret is printed.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from ..models import HttpRequest
from ..runtime import env_prefix
from ..specs.models import ConnectorSpec

_MARK = "\x00"  # brackets a variable name inside rendered auth parameters


def _double_quoted(text: str) -> str:
    """A shell word in double quotes: literal text escaped, marked variable names expanded."""
    out = []
    for index, part in enumerate(text.split(_MARK)):
        if index % 2:
            out.append("${" + part + "}")
        else:
            out.append("".join("\\" + ch if ch in '"\\$`' else ch for ch in part))
    return '"' + "".join(out) + '"'


def _auth_arguments(spec: ConnectorSpec, prefix: str) -> tuple[list[str], list[str]] | None:
    """The curl words for the connector's auth, and the variables they read; None for unknown schemes."""
    fields = list(spec.connection_schema.get("properties", {}))
    placeholders = {field: f"{_MARK}{prefix}{field.upper()}{_MARK}" for field in fields}
    params: Mapping[str, Any] = spec.auth.render({"connection": placeholders})
    params = {k: v for k, v in params.items() if isinstance(v, str)}
    if spec.auth_type == "none":
        words: list[str] = []
    elif spec.auth_type == "basic":
        words = ["-u", _double_quoted(f"{params.get('username', '')}:{params.get('password', '')}")]
    elif spec.auth_type == "bearer":
        words = ["-H", _double_quoted(f"Authorization: Bearer {params.get('token', '')}")]
    elif spec.auth_type == "api_key" and "header" in params:
        words = ["-H", _double_quoted(f"{params['header']}: {params.get('value', '')}")]
    else:
        return None
    used = [f"{prefix}{f.upper()}" for f in fields if any(placeholders[f] in v for v in params.values())]
    return words, used


def runnable_curl(request: HttpRequest, spec: ConnectorSpec, reference: str | None) -> tuple[str, list[str]]:
    """The curl command for `request` and the environment variables it reads (empty: none needed).

    `reference` is the connection's reference (`ref:NAME`), or None for the connector's own
    variables (`RELAYKIT_<CONNECTOR>_<FIELD>`).
    """
    auth = _auth_arguments(spec, env_prefix(reference or spec.name))
    words = ["curl", "-X", shlex.quote(request.method), shlex.quote(request.url)]
    skip = set(request.auth_headers) if auth is not None else set()
    for name, value in request.display_headers().items():
        if name not in skip:
            words += ["-H", shlex.quote(f"{name}: {value}")]
    variables: list[str] = []
    if auth is not None:
        words += auth[0]
        variables = auth[1]
    if request.body is not None:
        words += ["--data-binary", shlex.quote(request.body_text() or "")]
    return " ".join(words), variables
