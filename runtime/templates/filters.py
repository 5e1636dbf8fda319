"""Template filters: the registry plugins add to, the standard filters, and the values they pass (MISSING).

`TemplateRenderError` and `FilterError` live here too: filters raise them and every later stage
(compiled nodes, rendering, automations) catches them.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

__all__ = ["MISSING", "Filter", "FilterError", "FilterRegistry", "TemplateRenderError", "default_filters", "to_text"]


class _Missing:
    """The type of `MISSING`: an absent path, distinct from an explicit null."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""Rendered for an absent path; drops its key from a mapping and its item from a list."""


class TemplateRenderError(Exception):
    """A template could not be rendered; the caller turns it into `relaykit.errors.RenderError`."""

    def __init__(self, pointer: str, reason: str) -> None:
        super().__init__(f"{pointer or '/'}: {reason}")
        self.pointer = pointer
        self.reason = reason


class FilterError(ValueError):
    """Raise from a filter with a message that names the problem but never contains the value.

    Its message is shown to the user; any other `TypeError`/`ValueError` gets a generic message,
    because Python's own messages (``int('abc')``) quote the value.
    """


# ---------------------------------------------------------------------------------------------
# Filters


@dataclass(frozen=True)
class Filter:
    """A registered filter and what the compiler needs to check calls to it."""

    name: str
    func: Callable[..., Any]
    accepts_missing: bool = False
    min_args: int = 0
    max_args: int | None = None  # None: any number


NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


class FilterRegistry:
    """The filters a template may use, by name; filters are `(value, *args) -> value` functions."""

    def __init__(self) -> None:
        self._filters: dict[str, Filter] = {}

    def add(self, name: str, func: Callable[..., Any], *, accepts_missing: bool = False) -> None:
        """Register `func` under `name`; its signature fixes how many arguments a template may pass."""
        if not NAME_RE.match(name):
            raise ValueError(f"invalid filter name {name!r}")
        if name in self._filters:
            raise ValueError(f"filter {name!r} is already registered")
        min_args, max_args = _arity(func)
        self._filters[name] = Filter(name, func, accepts_missing, min_args, max_args)

    def get(self, name: str) -> Filter | None:
        """The filter registered as `name`, or None."""
        return self._filters.get(name)

    def names(self) -> list[str]:
        """Registered names, sorted (for suggestions and docs)."""
        return sorted(self._filters)

    def copy(self) -> FilterRegistry:
        """An independent registry with the same filters, to extend without touching this one."""
        other = FilterRegistry()
        other._filters = dict(self._filters)
        return other

    def __contains__(self, name: object) -> bool:
        return name in self._filters


def _arity(func: Callable[..., Any]) -> tuple[int, int | None]:
    """(min, max) template arguments of a filter: its positional parameters after the value."""
    try:
        params = list(inspect.signature(func).parameters.values())[1:]
    except (TypeError, ValueError):  # some builtins have no signature: do not check
        return 0, None
    low, high = 0, 0
    for param in params:
        if param.kind is param.VAR_POSITIONAL:
            return low, None
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            high += 1
            if param.default is param.empty:
                low += 1
    return low, high


def to_text(value: Any) -> str:
    """How a value reads inside interpolated text: JSON spelling for bool/null/containers."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FilterError("NaN and infinity have no JSON text")
        return str(value)
    if isinstance(value, (dict, list, tuple)):
        return _compact_json(value)
    raise FilterError(f"a {type(value).__name__} value cannot be turned into text")


def _compact_json(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise FilterError("NaN and infinity are not valid JSON") from None
    except TypeError:
        raise FilterError("the value contains something that is not JSON data") from None


def _f_default(value: Any, fallback: Any) -> Any:
    return fallback if value is MISSING or value is None else value


def _f_urlencode(value: Any) -> str:
    return quote(to_text(value), safe="")


def _f_json(value: Any) -> str:
    return _compact_json(value)


def _f_string(value: Any) -> str:
    return to_text(value)


_INT_TEXT_RE = re.compile(r"\s*[-+]?[0-9]+\s*")
_FLOAT_TEXT_RE = re.compile(r"\s*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*")


def _f_int(value: Any) -> int:
    if isinstance(value, bool):
        raise FilterError("a boolean is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise FilterError("the number has a fractional part")
        return int(value)
    if isinstance(value, str) and _INT_TEXT_RE.fullmatch(value):
        return int(value)
    raise FilterError("expected an integer or a string of digits")


def _f_float(value: Any) -> float:
    if isinstance(value, bool):
        raise FilterError("a boolean is not a number")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and _FLOAT_TEXT_RE.fullmatch(value):
        number = float(value)
    else:
        raise FilterError("expected a number or a numeric string")
    if not math.isfinite(number):
        raise FilterError("the number is not finite")
    return number


_BOOL_WORDS = {"true": True, "false": False}


def _f_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.strip().lower()]
    raise FilterError("expected a boolean, 0/1 or the words true/false")


def _text_only(value: Any) -> str:
    if not isinstance(value, str):
        raise FilterError("expected a string")
    return value


def _f_lower(value: Any) -> str:
    return _text_only(value).lower()


def _f_upper(value: Any) -> str:
    return _text_only(value).upper()


def _f_trim(value: Any) -> str:
    return _text_only(value).strip()


_MAX_SECONDS = 10**11  # year 5138: anything larger is almost certainly milliseconds
_ISO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?"
    r"(?:(?P<z>[Zz])|(?P<sign>[-+])(?P<oh>\d{2}):?(?P<om>\d{2}))?"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _parse_iso(value: str) -> datetime:
    """An aware datetime from ISO-8601 text; a time without a zone is refused as ambiguous."""
    match = _ISO_RE.fullmatch(value.strip())
    if not match:
        raise FilterError("expected an ISO-8601 date-time such as 2024-01-31T12:00:00Z")
    if match["z"]:
        tz = timezone.utc
    elif match["sign"]:
        offset = timedelta(hours=int(match["oh"]), minutes=int(match["om"]))
        tz = timezone(-offset if match["sign"] == "-" else offset)
    else:
        raise FilterError("the date-time has no timezone; add Z or an offset such as +02:00")
    year, month, day, hour, minute = (int(match[i]) for i in range(1, 6))
    second = int(match[6] or 0)
    micro = int((match[7] or ".0")[1:7].ljust(6, "0"))
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        raise FilterError("the date-time is out of range") from None


def _check_seconds(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FilterError("expected unix seconds or an ISO-8601 date-time")
    if isinstance(value, float) and not math.isfinite(value):
        raise FilterError("the number is not finite")
    if abs(value) > _MAX_SECONDS:
        raise FilterError("the timestamp looks like milliseconds; unix seconds are expected")
    return value


def _f_unix_seconds(value: Any) -> int | float:
    if isinstance(value, str):
        return math.floor((_parse_iso(value) - _EPOCH).total_seconds())
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise FilterError("the date-time has no timezone")
        return math.floor((value - _EPOCH).total_seconds())
    return _check_seconds(value)


def _f_iso8601(value: Any) -> str:
    if isinstance(value, str):
        _parse_iso(value)
        return value
    seconds = _check_seconds(value)
    return (_EPOCH + timedelta(seconds=math.floor(seconds))).strftime("%Y-%m-%dT%H:%M:%SZ")


def _f_length(value: Any) -> int:
    if isinstance(value, (str, list, tuple, dict)):
        return len(value)
    raise FilterError("expected a string, list or mapping")


def _f_join(value: Any, sep: str) -> str:
    if not isinstance(value, (list, tuple)):
        raise FilterError("expected a list")
    if not isinstance(sep, str):
        raise FilterError("the separator must be a string")
    return sep.join(to_text(item) for item in value)


def _f_keys(value: Any) -> list[str]:
    if not isinstance(value, Mapping):
        raise FilterError("expected a mapping")
    return list(value)


def default_filters() -> FilterRegistry:
    """A fresh registry holding the built-in filters."""
    registry = FilterRegistry()
    registry.add("default", _f_default, accepts_missing=True)
    for name, func in (
        ("urlencode", _f_urlencode),
        ("json", _f_json),
        ("string", _f_string),
        ("int", _f_int),
        ("float", _f_float),
        ("bool", _f_bool),
        ("lower", _f_lower),
        ("upper", _f_upper),
        ("trim", _f_trim),
        ("unix_seconds", _f_unix_seconds),
        ("iso8601", _f_iso8601),
        ("length", _f_length),
        ("join", _f_join),
        ("keys", _f_keys),
    ):
        registry.add(name, func)
    return registry
