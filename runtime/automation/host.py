"""`AutomationHost`: what loading and running an automation needs from the runtime, as a Protocol.

`Runtime` satisfies it. Automations depend on this interface rather than on `relaykit.runtime`,
so the runtime can offer `load_automation` / `run_automation` without an import loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..call.connection import ResolvedConnection
    from ..models import HttpRequest, Result
    from ..specs.models import ConnectorSpec, OperationSpec
    from ..templates.filters import FilterRegistry
    from ..transport.sender import Transport


class AutomationHost(Protocol):
    """The runtime's catalogue and call pipeline, as automations use them."""

    @property
    def template_filters(self) -> FilterRegistry: ...

    @property
    def transport(self) -> Transport: ...

    def connector_names(self) -> list[str]: ...

    def connector(self, name: str) -> ConnectorSpec: ...

    def operations(self, connector: str | None = None) -> list[str]: ...

    def operation(self, name: str) -> OperationSpec: ...

    def schema_validator(self, schema: Mapping[str, Any]) -> Any: ...

    def connection_config(self, connector: str, reference: str | None) -> dict[str, Any]: ...

    def resolve_connection(self, connector: str, connection: Mapping[str, Any] | str | None, *,
                           reference: str | None = None) -> ResolvedConnection: ...

    def dry_run(self, name: str, input: Mapping[str, Any], connection: Any = None) -> HttpRequest: ...

    def run(self, name: str, input: Mapping[str, Any], connection: Any = None) -> Result: ...
