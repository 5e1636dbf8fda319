"""The plugin contract: every hook a relaykit plugin may implement, with when and how it is called.

Plugins are plain modules or objects whose functions carry the `relaykit.hookimpl` marker. The
built-in Customer.io connectors use exactly this contract, registered through the entry-point group
`relaykit.connectors` like any third party's.

Compatibility promise: arguments may be added to a hook in later versions (pluggy lets an
implementation accept any subset of them), but no argument is ever removed or renamed, and no hook
changes between first-result and collect-all.

Contribution hooks (`register_*`) receive a registrar object rather than returning values, so the
core keeps control of naming, duplicates and provenance (which plugin registered what).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # imported for annotations only: keeps plugin imports light
    from ..models import HttpRequest
    from ..templates.filters import FilterRegistry
    from .registry import AuthRegistrar, ConnectorRegistrar, OperationKindRegistrar

PROJECT = "relaykit"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_connectors(registry: ConnectorRegistrar) -> None:
    """Contribute connectors.

    Called once per `Runtime`, at its first need for the connector list (never at import time).

    Args:
        registry: call `registry.add(ConnectorSource(...))` for each connector this plugin ships;
            a source names the connector YAML, its operations folder and its schemas folder.

    Returns:
        Nothing. Every implementation is called (not first-result). Two connectors with the same
        name raise `PluginError` naming both providers.
    """


@hookspec
def register_auth_schemes(registry: AuthRegistrar) -> None:
    """Contribute authentication schemes usable as `auth.type` in connector YAML.

    Called once per `Runtime`, before any connector is loaded.

    Args:
        registry: call `registry.add(name, factory)`; `factory(params)` receives the connector's
            rendered auth parameters (a dict of strings, secrets included) and returns an object
            with `headers() -> dict[str, str]` and `secret_forms() -> list[str]` (every string
            derived from a secret that may appear on the wire, for redaction).

    Returns:
        Nothing. Every implementation is called; a duplicate scheme name raises `PluginError`.
    """


@hookspec
def register_operation_kinds(registry: OperationKindRegistrar) -> None:
    """Contribute operation kinds (the `kind:` of an operation YAML).

    Called once per `Runtime`, before any operation is loaded. The built-in kinds are `http` (a
    declarative request mapping) and `raw_http` (the universal raw request).

    Args:
        registry: call `registry.add(name, renderer)`; `renderer(operation, input, connection)`
            returns an `HttpRequest`. It must be pure: no I/O.

    Returns:
        Nothing. Every implementation is called; a duplicate kind raises `PluginError`.
    """


@hookspec
def register_template_filters(registry: FilterRegistry) -> None:
    """Contribute filters for the expression language (`{{ input.x | myfilter }}`).

    Called once per `Runtime`, before any template is compiled (filters are checked at load).

    Args:
        registry: call `registry.add(name, func, accepts_missing=False)`; `func(value, *args)`
            returns the new value and raises `ValueError`/`TypeError` for bad input.

    Returns:
        Nothing. Every implementation is called.
    """


@hookspec(firstresult=True)
def resolve_connection(connector: str, reference: str) -> dict[str, Any] | None:
    """Turn a connection reference (from an automation or `--connection ref:NAME`) into config.

    Called whenever a connection is given by reference, so a host engine can serve credentials
    from its own secret store.

    Args:
        connector: the connector's name, e.g. `customerio-track`.
        reference: the opaque reference string, e.g. `cio-prod`.

    Returns:
        The connection config dict, or `None` to let the next plugin (and finally relaykit's own
        environment-variable resolver) try. The first non-`None` result wins.
    """


@hookspec
def on_request(request: HttpRequest, context: dict[str, Any]) -> None:
    """Observe a request just before each attempt is sent (metrics, tracing).

    Args:
        request: the rendered request; credentials are masked and it is immutable.
        context: `{"connector", "operation", "attempt", "rate_limit_class"}`.

    Returns:
        Nothing; return values are ignored and the request cannot be changed. An exception
        raised here is logged and swallowed: observers never break a call.
    """


@hookspec
def on_response(response: dict[str, Any], context: dict[str, Any]) -> None:
    """Observe the outcome of each attempt.

    Args:
        response: `{"status", "headers" (redacted), "elapsed", "request_id"}`, or
            `{"error": <class name>}` when no response arrived.
        context: as for `on_request`, plus `"will_retry"` and `"wait"` (seconds).

    Returns:
        Nothing; as for `on_request`, exceptions are logged and swallowed.
    """
