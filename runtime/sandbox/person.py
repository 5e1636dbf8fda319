"""The person profile value type and the identifier rules every API shares.

Kept below the workspace so the seed content and the API handlers can name a person without
importing the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def truthy_unsubscribe(value: Any) -> bool:
    """Customer.io's rule: any casing of `true`, 1 or "1" means unsubscribed."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value == 1
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return False


def identifier_type(value: str) -> tuple[str, str]:
    """Infer the type of a Track v1 path identifier: `cio_<id>`, an email, or an id."""
    if value.startswith("cio_") and len(value) > 4:
        return "cio_id", value[4:]
    if "@" in value:
        return "email", value
    return "id", value


@dataclass
class Person:
    """One profile, keyed by its cio_id."""

    cio_id: str
    id: str | None = None
    email: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    timestamps: dict[str, int] = field(default_factory=dict)
    unsubscribed: bool = False
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: int = 0

    def identifiers(self) -> dict[str, str | None]:
        return {"email": self.email, "id": self.id, "cio_id": self.cio_id}

    def to_json(self) -> dict[str, Any]:
        return {
            "cio_id": self.cio_id,
            "id": self.id,
            "email": self.email,
            "attributes": dict(self.attributes),
            "unsubscribed": self.unsubscribed,
            "devices": [dict(d) for d in self.devices.values()],
            "created": self.created,
        }
