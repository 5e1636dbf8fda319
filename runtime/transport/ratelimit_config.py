"""Rate-limit overrides: `Runtime(rate_limits=...)` and a connection's `rate_limits`, checked before sending.

Three layers, the later wins: the connector's YAML, the runtime's overrides per connector, then the
connection's. An override of a class is `False` (no client-side limit for it) or an object with any
of `requests`, `per` (seconds) and `burst`; what it leaves out keeps the value of the layer below
(of the YAML, when the layer below turned the class off). `False` in place of the classes turns
every class of the connector off. Every problem names the connector, the class and the field.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..errors import Problem, SettingsError
from ..names import did_you_mean, suggest
from ..specs.documents import dump_pointer
from ..specs.models import ConnectorSpec, RateLimit

FIELDS = ("requests", "per", "burst")


@dataclass(frozen=True)
class LimitOverride:
    """One class's override: off, or the fields to replace (None: keep the layer below's)."""

    off: bool = False
    requests: int | None = None
    per: float | None = None
    burst: int | None = None

    def apply(self, below: RateLimit | None, declared: RateLimit) -> RateLimit | None:
        if self.off:
            return None
        base = below or declared
        changes = {k: getattr(self, k) for k in FIELDS if getattr(self, k) is not None}
        return replace(base, **changes) if changes else base


Overrides = Mapping[str, LimitOverride]  # rate-limit class -> override


def _hint(name: str, choices: list[str]) -> str | None:
    return did_you_mean(suggest(name, choices))


def _field_problem(key: str, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        return "must be a positive number of seconds" if key == "per" else "must be a whole number of at least 1"
    if key != "per" and value != int(value):
        return "must be a whole number of at least 1"
    return None


def check_class_overrides(spec: ConnectorSpec, value: Any, pointer: str) -> tuple[dict[str, LimitOverride],
                                                                                    list[Problem]]:
    """One connector's overrides, normalised, and every problem with them (pointers under `pointer`)."""
    if value is False:
        return {name: LimitOverride(off=True) for name in spec.rate_limits}, []
    if not isinstance(value, Mapping):
        return {}, [Problem(f"must be an object of {spec.name}'s rate-limit classes "
                            f"({', '.join(spec.rate_limits) or 'it has none'}), or false to turn them all off",
                            pointer=pointer)]
    out: dict[str, LimitOverride] = {}
    problems: list[Problem] = []
    for cls, override in value.items():
        where = pointer + dump_pointer([cls])
        if cls not in spec.rate_limits:
            problems.append(Problem(f"is not a rate-limit class of {spec.name} (it has: "
                                    f"{', '.join(spec.rate_limits) or 'none'})", pointer=where,
                                    hint=_hint(str(cls), list(spec.rate_limits))))
            continue
        if override is False:
            out[cls] = LimitOverride(off=True)
            continue
        if not isinstance(override, Mapping):
            problems.append(Problem("must be an object with requests, per or burst, or false to turn the class off",
                                    pointer=where))
            continue
        fields: dict[str, Any] = {}
        for key, number in override.items():
            if key not in FIELDS:
                problems.append(Problem("is not a rate-limit setting; use requests, per or burst",
                                        pointer=where + dump_pointer([key]), hint=_hint(str(key), list(FIELDS))))
                continue
            bad = _field_problem(key, number)
            if bad:
                problems.append(Problem(bad, pointer=where + dump_pointer([key])))
                continue
            fields[key] = float(number) if key == "per" else int(number)
        out[cls] = LimitOverride(**fields)
    return out, problems


def check_runtime_overrides(value: Mapping[str, Any] | None, names: list[str],
                            connector: Callable[[str], ConnectorSpec]) -> dict[str, dict[str, LimitOverride]]:
    """`Runtime(rate_limits={connector: {class: ...}})`, normalised; `SettingsError` listing every problem."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SettingsError("rate_limits", [Problem("must be an object of connectors, e.g. "
                                                    "{'customerio-track': {'track': {'requests': 50}}}")])
    out: dict[str, dict[str, LimitOverride]] = {}
    problems: list[Problem] = []
    for name, classes in value.items():
        if name not in names:
            problems.append(Problem("is not an installed connector", pointer=dump_pointer([name]),
                                    hint=_hint(str(name), names)))
            continue
        out[name], found = check_class_overrides(connector(name), classes, dump_pointer([name]))
        problems.extend(found)
    if problems:
        raise SettingsError("rate_limits", problems)
    return out


def effective_limit(declared: RateLimit | None, *layers: LimitOverride | None) -> RateLimit | None:
    """The limit a call obeys: the YAML's, then each layer's override (None: that layer says nothing)."""
    if declared is None:
        return None
    limit: RateLimit | None = declared
    for layer in layers:
        if layer is not None:
            limit = layer.apply(limit, declared)
    return limit
