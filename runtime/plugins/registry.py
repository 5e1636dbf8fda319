"""What plugins registered: connector sources, auth schemes and operation kinds, with provenance.

The registrar objects handed to the `register_*` hooks live here. They refuse duplicates loudly,
naming both providers (a lesson from flake8, whose silent plugin shadowing confused users), and
they record which plugin contributed each name so `relaykit plugins` can tell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import PluginError, UnknownConnectorError
from ..names import suggest
from ..specs.sources import ConnectorSource


class _Registrar:
    """A name -> (value, provider) table that refuses duplicates and remembers who added what."""

    what = "entry"

    def __init__(self) -> None:
        self._items: dict[str, tuple[Any, str]] = {}
        self.current_provider = "relaykit"

    def _add(self, name: str, value: Any) -> None:
        if name in self._items:
            first = self._items[name][1]
            raise PluginError(
                f"{self.what} {name!r} is registered twice: by {first} and by {self.current_provider}; "
                f"uninstall or block one of them (RELAYKIT_DISABLE_PLUGINS)"
            )
        self._items[name] = (value, self.current_provider)

    def names(self) -> list[str]:
        return sorted(self._items)

    def provider(self, name: str) -> str:
        return self._items[name][1]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def get(self, name: str) -> Any:
        return self._items[name][0]


class ConnectorRegistrar(_Registrar):
    """Handed to `register_connectors`: `add(ConnectorSource(...))`."""

    what = "connector"

    def add(self, source: ConnectorSource) -> None:
        if not isinstance(source, ConnectorSource):
            raise PluginError(f"{self.current_provider}: register_connectors must add ConnectorSource objects")
        self._add(source.name, source)

    def source(self, name: str) -> ConnectorSource:
        if name not in self._items:
            raise UnknownConnectorError(name, suggest(name, self.names()))
        return self.get(name)


class AuthRegistrar(_Registrar):
    """Handed to `register_auth_schemes`: `add(name, factory)`."""

    what = "auth scheme"

    def add(self, name: str, factory: Callable[[dict[str, str]], Any]) -> None:
        self._add(name, factory)


class OperationKindRegistrar(_Registrar):
    """Handed to `register_operation_kinds`: `add(name, renderer)`."""

    what = "operation kind"

    def add(self, name: str, renderer: Callable[..., Any]) -> None:
        self._add(name, renderer)
