"""Where a connector's files come from: `ConnectorSource` (its YAML, operations and schemas folders).

Plugins hand these to the registry; the spec loader reads from them. It lives with the specs, below
the plugin layer, so loading a spec never needs the plugin machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

Location = Traversable | Path


@dataclass(frozen=True)
class ConnectorSource:
    """Where one connector's files live: its connector YAML, operations folder and schemas folder.

    Built-in and third-party connectors differ only in which distribution ships these files.
    """

    name: str
    connector: Location
    operations: Location
    schemas: Location

    @classmethod
    def builtin(cls, module: str, name: str) -> ConnectorSource:
        """The layout relaykit's own connectors use: YAML beside the module, data in shared packages."""
        return cls(
            name=name,
            connector=resources.files(module) / "connector.yaml",
            operations=resources.files("relaykit.operations") / name,
            schemas=resources.files("relaykit.schemas") / name,
        )

    @classmethod
    def from_directory(cls, root: str | Path, name: str) -> ConnectorSource:
        """A self-contained folder: `connector.yaml`, `operations/`, `schemas/` (handy for third parties)."""
        base = Path(root)
        return cls(name=name, connector=base / "connector.yaml", operations=base / "operations",
                   schemas=base / "schemas")
