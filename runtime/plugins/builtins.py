"""The essential built-in plugin: auth schemes and operation kinds every connector can rely on.

It is registered first and cannot be blocked (like pytest's essential plugins). The expression
language's standard filters need no hook: they are in every filter registry from the start.
"""

from __future__ import annotations

from ..transport.auth import BUILTIN_SCHEMES
from .hookspecs import hookimpl
from .registry import AuthRegistrar, OperationKindRegistrar


@hookimpl
def register_auth_schemes(registry: AuthRegistrar) -> None:
    """none, basic, bearer and api_key."""
    for name, factory in BUILTIN_SCHEMES.items():
        registry.add(name, factory)


@hookimpl
def register_operation_kinds(registry: OperationKindRegistrar) -> None:
    """Http (declarative request mapping) and raw_http (the universal raw request)."""
    from ..call.render import render_http, render_raw_http

    registry.add("http", render_http)
    registry.add("raw_http", render_raw_http)
