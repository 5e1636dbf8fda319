"""relaykit: workflow connectors declared as YAML + JSON Schema, run by a small, safe HTTP runtime.

Write a connector plugin in five steps:
1. `connector.yaml`: connection fields (mark secrets `secret: true`), base URL per region, auth.
2. `operations/<name>.yaml`: the request mapping of each operation, in `{{ input.x }}` templates.
3. `schemas/<name>.input.json` / `.output.json`: JSON Schema 2020-12 for each operation.
4. A module with `@relaykit.hookimpl def register_connectors(registry): registry.add(ConnectorSource(...))`.
5. An entry point in group `relaykit.connectors` named after the connector, pointing at that module.
"""

from .errors import (
    AuthenticationError,
    AutomationError,
    CallError,
    ClientError,
    ConflictError,
    ConnectionConfigError,
    HTTPStatusError,
    InputValidationError,
    NotFoundError,
    OutputValidationError,
    PermissionDeniedError,
    PluginError,
    Problem,
    RateLimitError,
    RedirectError,
    RegionMismatchError,
    RelaykitError,
    RenderError,
    RequestTimeoutError,
    ServerError,
    SettingsError,
    SpecError,
    TransportError,
    UnknownConnectorError,
    UnknownExampleError,
    UnknownNameError,
    UnknownOperationError,
)
from .models import HttpRequest, Result
from .plugins.hookspecs import hookimpl
from .redact import Secret
from .runtime import Runtime
from .specs.sources import ConnectorSource
from .version import __version__

__all__ = [
    "AuthenticationError",
    "AutomationError",
    "CallError",
    "ClientError",
    "ConflictError",
    "ConnectionConfigError",
    "ConnectorSource",
    "HTTPStatusError",
    "HttpRequest",
    "InputValidationError",
    "NotFoundError",
    "OutputValidationError",
    "PermissionDeniedError",
    "PluginError",
    "Problem",
    "RateLimitError",
    "RedirectError",
    "RegionMismatchError",
    "RelaykitError",
    "RenderError",
    "RequestTimeoutError",
    "Result",
    "Runtime",
    "Secret",
    "ServerError",
    "SettingsError",
    "SpecError",
    "TransportError",
    "UnknownConnectorError",
    "UnknownExampleError",
    "UnknownNameError",
    "UnknownOperationError",
    "__version__",
    "hookimpl",
]
