"""Test a connection: the connector's declared harmless call, and what went wrong said in words.

A connector declares `check: {operation, input}` in its YAML (Track asks for its region; App lists
object types). The report names the likely cause rather than a status code: credentials refused
(a wrong key, or a key of the other API), a key without access, the workspace in the other
region, or the API out of reach. Nothing here guesses: an unknown failure is reported as it came.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import (
    AuthenticationError,
    CallError,
    PermissionDeniedError,
    RegionMismatchError,
    RelaykitError,
    TransportError,
)
from ..models import Result
from ..specs.models import ConnectorSpec
from .limits import resolve_pointer


@dataclass(frozen=True)
class CheckReport:
    """The outcome of a connection check; `ok` is True only when the harmless call succeeded as configured."""

    connector: str
    ok: bool
    message: str
    region: str | None = None
    error: RelaykitError | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"connector": self.connector, "ok": self.ok, "message": self.message, "region": self.region,
                "error": self.error.to_dict() if self.error is not None else None}


def check_connection(spec: ConnectorSpec, region: str, run: Callable[[str, Mapping[str, Any]], Result]) -> CheckReport:
    """Run the declared check; `run(operation, input)` sends it with the connection under test."""
    if spec.check is None:
        return CheckReport(spec.name, False, f"{spec.name} declares no connection check; make a real call instead")
    operation, data = spec.check
    try:
        result = run(f"{spec.name}.{operation}", data)
    except RegionMismatchError as exc:
        return CheckReport(spec.name, False, f"the workspace lives in region {exc.region!r}, not {region!r}: "
                           f"set region: {exc.region}", region, exc)
    except AuthenticationError as exc:
        hint = spec.hints.get(401, "check the credentials and the region")
        return CheckReport(spec.name, False, f"the credentials were refused (HTTP 401): {hint}", region, exc)
    except PermissionDeniedError as exc:
        hint = spec.hints.get(403, "the key may be of another kind or lack access")
        return CheckReport(spec.name, False, f"the credentials were accepted but lack access (HTTP 403): {hint}",
                           region, exc)
    except TransportError as exc:
        return CheckReport(spec.name, False, f"could not reach {spec.title}: {exc}", region, exc)
    except CallError as exc:
        return CheckReport(spec.name, False, f"the check call failed: {exc}", region, exc)
    if spec.region_lookup is not None and spec.region_lookup[0] == operation:
        found = resolve_pointer(result.output, spec.region_lookup[1])
        actual = found[0][1] if found else None
        if isinstance(actual, str) and actual != region:
            return CheckReport(spec.name, False, f"the credentials work, but the workspace lives in region "
                               f"{actual!r}, not {region!r}: set region: {actual} (or auto)", region)
    return CheckReport(spec.name, True, f"connected to {spec.title} in region {region!r}", region)
