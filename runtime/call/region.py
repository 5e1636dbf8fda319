"""`region: auto`: ask the API once per credential which region it lives in, cache the answer, never guess.

A connector opts in with `region_lookup` (an operation of its own and where the region is in its
output; Track's `GET /api/v1/accounts/region` answers from either region's host). The answer is
cached per credential (a hash of every field but the region, never the secret itself) for the life
of the `Runtime`. A lookup that fails is a `ConnectionConfigError` that says why, and nothing else
is sent: a guessed region would send the workspace's data to the wrong datacenter.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import AuthenticationError, CallError, ConnectionConfigError, PermissionDeniedError, Problem
from ..models import Result
from ..redact import Secret
from ..specs.models import ConnectorSpec
from .limits import resolve_pointer

AUTO = "auto"

RunLookup = Callable[[str, Mapping[str, Any]], Result]


class RegionResolver:
    """Fills in `region: auto` connections; thread-safe, one lookup per credential."""

    def __init__(self) -> None:
        self._regions: dict[str, str] = {}
        self._lock = threading.Lock()

    def resolve(self, spec: ConnectorSpec, config: Mapping[str, Any], run: RunLookup) -> dict[str, Any]:
        """The config with its region filled in; `run(operation, connection)` makes the lookup call."""
        if spec.region_lookup is None:
            raise ConnectionConfigError(spec.name, [Problem(
                "'auto' is not available for this connector: it cannot look its region up",
                pointer="/region", hint=f"set one of: {', '.join(spec.regions)}")])
        key = _credential_key(spec, config)
        with self._lock:
            known = self._regions.get(key)
        if known is None:
            known = self._look_up(spec, config, run)
            with self._lock:
                self._regions[key] = known
        return {**config, "region": known}

    def _look_up(self, spec: ConnectorSpec, config: Mapping[str, Any], run: RunLookup) -> str:
        operation, pointer = spec.region_lookup  # type: ignore[misc]
        try:
            result = run(f"{spec.name}.{operation}", {**config, "region": spec.default_region})
        except (AuthenticationError, PermissionDeniedError) as exc:
            raise ConnectionConfigError(spec.name, [Problem(
                f"'auto': the region lookup was refused (HTTP {exc.status})", pointer="/region",
                hint="check the credentials: the API refuses them, so it cannot say their region")]) from None
        except CallError as exc:
            raise ConnectionConfigError(spec.name, [Problem(
                f"'auto': the region lookup failed ({type(exc).__name__}); nothing was guessed", pointer="/region",
                hint=f"try again, or set one of: {', '.join(spec.regions)}")]) from None
        found = resolve_pointer(result.output, pointer)
        region = found[0][1] if found else None
        if region not in spec.base_urls:
            raise ConnectionConfigError(spec.name, [Problem(
                "'auto': the region lookup answered with no region relaykit knows", pointer="/region",
                hint=f"set one of: {', '.join(spec.regions)}")])
        return str(region)


def _credential_key(spec: ConnectorSpec, config: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(spec.name.encode())
    for name in sorted(k for k in config if k != "region"):
        value = config[name]
        value = value.reveal() if isinstance(value, Secret) else value
        digest.update(b"\0" + name.encode() + b"=" + str(value).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()
