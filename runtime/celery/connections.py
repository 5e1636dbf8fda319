"""Connections that go into a broker: a reference and non-secret fields, never a credential.

A task message sits in the broker (and its dead-letter and result stores) for as long as the
broker keeps it, readable by anyone who can read the broker. So a task carries a connection only
by reference: `"prod"` (resolved on the worker through a `resolve_connection` plugin, then
`RELAYKIT_PROD_<FIELD>` variables), `None` (the connector's own `RELAYKIT_<CONNECTOR>_<FIELD>`
variables), or an object of non-secret fields laid over such a reference
(`{"ref": "prod", "rate_limits": {...}}`). A secret field is refused at enqueue, before anything
is published.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConnectionConfigError, Problem
from ..names import did_you_mean, suggest
from ..redact import Secret
from ..runtime import Runtime, env_prefix
from ..transport.ratelimit_config import check_class_overrides

REF = "ref"  # the key of a connection object that names its reference

Wire = dict[str, Any]  # {"ref": str | None, "fields": {...}}: what a task message holds


def for_broker(rt: Runtime, connector: str, connection: Any) -> Wire:
    """The broker-safe form of a connection; `ConnectionConfigError` for anything that would leak a secret."""
    if connection is None or isinstance(connection, str):
        return {"ref": connection, "fields": {}}
    if not isinstance(connection, Mapping):
        raise ConnectionConfigError(connector, [Problem(
            "must be a reference string (resolved on the worker) or an object of non-secret fields with "
            "an optional 'ref'")])
    spec = rt.connector(connector)
    ref = connection.get(REF)
    fields = {k: v for k, v in connection.items() if k != REF}
    problems: list[Problem] = []
    if ref is not None and not isinstance(ref, str):
        problems.append(Problem("must be a reference name such as 'prod'", pointer=f"/{REF}"))
    known = list(spec.connection_schema.get("properties", {}))
    prefix = env_prefix(ref if isinstance(ref, str) else connector)
    for name, value in fields.items():
        if name in spec.secret_fields or _holds_secret(value):
            problems.append(Problem(
                "is a secret and would be stored in the broker; pass the connection by reference instead",
                pointer=f"/{name}", hint=f"set {prefix}{str(name).upper()} on the workers, or resolve it "
                                         "with a resolve_connection plugin"))
        elif name not in known:
            problems.append(Problem(f"is not a connection field of {connector}", pointer=f"/{name}",
                                    hint=did_you_mean(suggest(str(name), known))))
    if "rate_limits" in fields:
        problems.extend(check_class_overrides(spec, fields["rate_limits"], "/rate_limits")[1])
    if problems:
        raise ConnectionConfigError(connector, problems)
    return {"ref": ref, "fields": fields}


def _holds_secret(value: Any) -> bool:
    if isinstance(value, Secret):
        return True
    if isinstance(value, Mapping):
        return any(_holds_secret(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_secret(v) for v in value)
    return False


def on_worker(rt: Runtime, connector: str, wire: Wire) -> dict[str, Any]:
    """The connection config a task message stands for, read where the task runs."""
    return {**rt.connection_config(connector, wire.get("ref")), **wire.get("fields", {})}
