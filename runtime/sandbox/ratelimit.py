"""Token-bucket rate limits per API class of the one workspace, switchable and reconfigurable at run time."""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable
from typing import Any

#: limit requests per `per` seconds, with a bucket of `burst` tokens.
DEFAULT_CLASSES: dict[str, dict[str, float]] = {
    "track": {"limit": 1000, "per": 1.0, "burst": 1000},
    "app": {"limit": 10, "per": 1.0, "burst": 10},
    "transactional": {"limit": 100, "per": 1.0, "burst": 100},
    "broadcast_trigger": {"limit": 1, "per": 10.0, "burst": 1},
    "pipelines": {"limit": 3000, "per": 3.0, "burst": 3000},
}


class _Bucket:
    def __init__(self, limit: float, per: float, burst: float, now: float) -> None:
        self.rate = limit / per
        self.capacity = max(burst, 1.0)
        self.tokens = self.capacity
        self.stamp = now

    def take(self, now: float) -> float:
        """Take one token; return 0 when allowed, else the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate if self.rate > 0 else math.inf


class RateLimiter:
    """Decide whether a request of an API class is over its limit.

    Configuration: `{"enabled": bool, "retry_after": true | false | "<fixed header value>",
    "classes": {name: {"limit", "per", "burst"}}}`. `retry_after: true` sends the computed wait
    in whole seconds (rounded up), `false` sends no header (the real API's header is undocumented).
    """

    def __init__(self, spec: bool | dict[str, Any] = False, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._config: dict[str, Any] = {
            "enabled": False,
            "retry_after": True,
            "classes": copy.deepcopy(DEFAULT_CLASSES),
        }
        self._buckets: dict[str, _Bucket] = {}
        self.configure(spec)

    def configure(self, spec: bool | dict[str, Any] | None) -> None:
        """Switch on/off (bool) or merge a configuration dict; buckets restart full."""
        with self._lock:
            config = copy.deepcopy(self._config)
            if isinstance(spec, bool) or spec is None:
                config["enabled"] = bool(spec)
            elif isinstance(spec, dict):
                for key, value in spec.items():
                    if key == "enabled":
                        config["enabled"] = bool(value)
                    elif key == "retry_after":
                        if not isinstance(value, (bool, str, int, float)):
                            raise ValueError("retry_after must be a bool or a header value")
                        config["retry_after"] = value if isinstance(value, bool) else str(value)
                    elif key == "classes":
                        if not isinstance(value, dict):
                            raise ValueError("classes must be an object")
                        for name, settings in value.items():
                            config["classes"][name] = _class_settings(settings, config["classes"].get(name))
                    else:
                        raise ValueError(f"unknown rate-limit setting {key!r}")
                if "enabled" not in spec:  # giving settings switches limits on
                    config["enabled"] = True
            else:
                raise ValueError("rate limits must be a bool or an object")
            self._config = config
            self._buckets = {}

    def config(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._config)

    def reset(self) -> None:
        """Refill every bucket."""
        with self._lock:
            self._buckets = {}

    def check(self, rate_class: str) -> tuple[bool, str | None]:
        """Return (allowed, Retry-After header value or None)."""
        with self._lock:
            if not self._config["enabled"]:
                return True, None
            settings = self._config["classes"].get(rate_class)
            if settings is None:
                return True, None
            now = self._clock()
            bucket = self._buckets.get(rate_class)
            if bucket is None:
                bucket = self._buckets[rate_class] = _Bucket(
                    settings["limit"], settings["per"], settings.get("burst", settings["limit"]), now
                )
            wait = bucket.take(now)
            if wait == 0.0:
                return True, None
            mode = self._config["retry_after"]
            if mode is True:
                return False, str(max(1, math.ceil(wait)) if math.isfinite(wait) else 3600)
            if mode is False:
                return False, None
            return False, str(mode)


def _class_settings(value: Any, current: dict[str, float] | None) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ValueError("each rate-limit class must be an object with limit/per/burst")
    out = dict(current or {"limit": 1, "per": 1.0})
    for key in ("limit", "per", "burst"):
        if key in value:
            number = value[key]
            if isinstance(number, bool) or not isinstance(number, (int, float)) or number <= 0:
                raise ValueError(f"rate-limit {key} must be a positive number")
            out[key] = float(number)
    if "limit" in value and "burst" not in value:
        out["burst"] = out["limit"]
    return out
