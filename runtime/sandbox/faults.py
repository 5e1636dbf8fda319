"""Seeded, reproducible fault injection: which fault (if any) the next API request gets.

A fault is a dict `{"kind": ..., ...}`. A configuration is
`{"seed", "rate", "mix", "apis", "schedule", "faults", "stall_seconds", "drip_interval"}`;
see docs/sandbox.md for the full format. All randomness comes from one `random.Random(seed)`
and exactly one draw per eligible request, so a run is reproducible given the request order.
"""

from __future__ import annotations

import copy
import json
import random
import threading
from pathlib import Path
from typing import Any

from .routing import CONNECTORS

#: Faults answered instead of processing the request (nothing is committed).
PRE_KINDS = frozenset({"status", "429", "reset_before", "stall", "redirect", "body", "raw"})
#: Faults applied to the delivery of a response after the request was processed and committed.
POST_KINDS = frozenset({"reset_after", "truncated", "drip"})
KINDS = PRE_KINDS | POST_KINDS

BUILTIN: dict[str, dict[str, Any]] = {
    "500": {"kind": "status", "status": 500},
    "502": {"kind": "status", "status": 502},
    "503": {"kind": "status", "status": 503},
    "504": {"kind": "status", "status": 504},
    "520": {"kind": "status", "status": 520},
    "522": {"kind": "status", "status": 522},
    "524": {"kind": "status", "status": 524},
    "408": {"kind": "status", "status": 408},
    "429": {"kind": "429"},
    "429_retry_after": {"kind": "429", "retry_after": "1"},
    "reset_before": {"kind": "reset_before"},
    "reset_after": {"kind": "reset_after"},
    "stall": {"kind": "stall"},
    "truncated": {"kind": "truncated"},
    "drip": {"kind": "drip"},
}

PRESETS: dict[str, dict[str, Any]] = {
    # reliability.md section 8: 20% of requests, every one retryable.
    "F20": {
        "mix": {
            "500": 0.02,
            "502": 0.02,
            "503": 0.02,
            "504": 0.02,
            "429": 0.025,
            "429_retry_after": 0.025,
            "reset_after": 0.03,
            "reset_before": 0.02,
            "stall": 0.01,
            "truncated": 0.01,
        }
    },
}

DEFAULT_STALL_SECONDS = 30.0
DEFAULT_DRIP_INTERVAL = 1.0
_CONFIG_KEYS = {"seed", "rate", "mix", "apis", "schedule", "faults", "stall_seconds", "drip_interval", "preset"}


def load_spec(spec: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """Turn a CLI/Python fault spec (preset name, JSON text, `@file.json`, dict or None) into a config."""
    if spec is None:
        return None
    if isinstance(spec, dict):
        return _expand_preset(spec)
    text = spec.strip()
    if not text or text.lower() in ("none", "off"):
        return None
    if text.startswith("@"):
        text = Path(text[1:]).read_text(encoding="utf-8")
    elif text in PRESETS:
        return copy.deepcopy(PRESETS[text])
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"fault spec is neither a preset ({', '.join(PRESETS)}) nor JSON: {exc}") from None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("a fault spec must be a JSON object")
    return _expand_preset(value)


def _expand_preset(spec: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    name = spec.pop("preset", None)
    if name is None:
        return spec
    if name not in PRESETS:
        raise ValueError(f"unknown fault preset {name!r}")
    merged = copy.deepcopy(PRESETS[name])
    merged.update(spec)
    return merged


class FaultInjector:
    """Hands out faults to requests, from a schedule first, then by rate and mix."""

    def __init__(self, config: str | dict[str, Any] | None = None, *, default_seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._default_seed = default_seed
        self._config: dict[str, Any] | None = None
        self.configure(config)

    def configure(self, config: str | dict[str, Any] | None) -> None:
        """Replace the configuration (validated first) and restart the RNG and schedule."""
        parsed = load_spec(config)
        if parsed is not None:
            _validate(parsed)
        with self._lock:
            self._config = parsed
            self._rearm()

    def rearm(self) -> None:
        """Restart from the seed and the beginning of the schedule (used by reset)."""
        with self._lock:
            self._rearm()

    def _rearm(self) -> None:
        cfg = self._config or {}
        self._rng = random.Random(cfg.get("seed", self._default_seed))
        schedule = cfg.get("schedule")
        if isinstance(schedule, dict):
            self._queues = {api: list(items) for api, items in schedule.items()}
        else:
            self._queues = {"*": list(schedule or [])}
        self._table = _cumulative(cfg)

    def config(self) -> dict[str, Any] | None:
        with self._lock:
            return copy.deepcopy(self._config)

    def pick(self, connector: str) -> dict[str, Any] | None:
        """The fault for the next request to `connector`, fully resolved, or None."""
        with self._lock:
            cfg = self._config
            if not cfg:
                return None
            apis = cfg.get("apis")
            if apis and connector not in apis:
                return None
            queue = self._queues.get(connector) if connector in self._queues else self._queues.get("*")
            if queue:
                return self._resolve(queue.pop(0))
            if not self._table:
                return None
            draw = self._rng.random()
            for bound, name in self._table:
                if draw < bound:
                    return self._resolve(name)
            return None

    def _resolve(self, item: Any) -> dict[str, Any] | None:
        cfg = self._config or {}
        if item is None:
            return None
        fault = _lookup(item, cfg)
        if fault["kind"] == "stall":
            fault.setdefault("seconds", float(cfg.get("stall_seconds", DEFAULT_STALL_SECONDS)))
        elif fault["kind"] == "drip":
            fault.setdefault("interval", float(cfg.get("drip_interval", DEFAULT_DRIP_INTERVAL)))
        elif fault["kind"] == "status":
            fault.setdefault("status", 500)
        elif fault["kind"] == "redirect":
            fault.setdefault("status", 302)
            fault.setdefault("location", "/")
        elif fault["kind"] == "body":
            fault.setdefault("status", 200)
        if isinstance(item, str):
            fault.setdefault("name", item)
        return fault


def _lookup(item: Any, cfg: dict[str, Any]) -> dict[str, Any]:
    if isinstance(item, dict):
        return copy.deepcopy(item)
    custom = cfg.get("faults") or {}
    if item in custom:
        return copy.deepcopy(custom[item])
    if item in BUILTIN:
        return copy.deepcopy(BUILTIN[item])
    if item in KINDS:
        return {"kind": item}
    raise ValueError(f"unknown fault {item!r}")


def _cumulative(cfg: dict[str, Any]) -> list[tuple[float, str]]:
    mix = cfg.get("mix")
    rate = cfg.get("rate")
    if not mix:
        if rate:
            mix = {"500": 1.0}
        else:
            return []
    total = sum(float(w) for w in mix.values())
    if total <= 0:
        return []
    scale = float(rate) / total if rate is not None else 1.0
    table: list[tuple[float, str]] = []
    acc = 0.0
    for name, weight in mix.items():
        acc += float(weight) * scale
        table.append((acc, name))
    return table


def _validate(cfg: dict[str, Any]) -> None:
    unknown = set(cfg) - _CONFIG_KEYS
    if unknown:
        raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
    for key in ("rate", "stall_seconds", "drip_interval"):
        if key in cfg:
            value = cfg[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{key} must be a non-negative number")
    if "rate" in cfg and cfg["rate"] > 1:
        raise ValueError("rate must be between 0 and 1")
    if "seed" in cfg and (isinstance(cfg["seed"], bool) or not isinstance(cfg["seed"], int)):
        raise ValueError("seed must be an integer")
    apis = cfg.get("apis")
    if apis is not None and (not isinstance(apis, list) or not set(apis) <= set(CONNECTORS)):
        raise ValueError(f"apis must be a list drawn from {', '.join(CONNECTORS)}")
    custom = cfg.get("faults") or {}
    if not isinstance(custom, dict):
        raise ValueError("faults must be an object of name -> fault")
    for fault in custom.values():
        _validate_fault(fault)
    mix = cfg.get("mix") or {}
    if not isinstance(mix, dict):
        raise ValueError("mix must be an object of fault name -> weight")
    for name, weight in mix.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise ValueError("mix weights must be non-negative numbers")
        _validate_fault(_lookup(name, cfg))
    if "rate" not in cfg and sum(float(w) for w in mix.values()) > 1.0 + 1e-9:
        raise ValueError("without a rate, mix weights are probabilities and must sum to at most 1")
    schedule = cfg.get("schedule")
    if schedule is not None:
        queues = schedule.values() if isinstance(schedule, dict) else [schedule]
        if isinstance(schedule, dict) and not set(schedule) <= set(CONNECTORS):
            raise ValueError("a per-API schedule is keyed by connector name")
        for queue in queues:
            if not isinstance(queue, list):
                raise ValueError("schedule must be a list of faults (or null for no fault)")
            for item in queue:
                if item is not None:
                    _validate_fault(_lookup(item, cfg))


def _validate_fault(fault: Any) -> None:
    if not isinstance(fault, dict) or fault.get("kind") not in KINDS:
        raise ValueError(f"a fault needs a kind among {', '.join(sorted(KINDS))}: {fault!r}")
    kind = fault["kind"]
    if kind in ("status", "redirect", "body") and "status" in fault:
        status = fault["status"]
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 999:
            raise ValueError("a fault status must be an integer HTTP status")
    if "retry_after" in fault and fault["retry_after"] is not None and not isinstance(fault["retry_after"], str):
        raise ValueError("retry_after is a raw header value and must be a string")
    for key in ("seconds", "interval", "size"):
        if key in fault:
            value = fault[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"fault {key} must be a non-negative number")
