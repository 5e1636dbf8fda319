"""What a caller's data may hold: the one walk that refuses values no JSON validator or wire can carry.

jsonschema, the renderer and `json.dumps` each fail in their own way on hostile Python data: a
10,000-deep dict raises `RecursionError` (inside jsonschema's error repr), `10**5000` a
`ValueError` when turned into text, a lone surrogate `UnicodeEncodeError` on the wire,
`Decimal("NaN")` `InvalidOperation` in a `minimum` comparison, a non-string key a `TypeError`.
This walk runs first, without recursion, and names the JSON pointer of the first such value;
never the value itself (it may be personal data). Types it does not know (sets, bytes, dates)
are left to the renderer, which refuses them with its own message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..errors import Problem
from .documents import MAX_DEPTH, dump_pointer

__all__ = ["MAX_INTEGER_DIGITS", "MAX_VALUE_DEPTH", "json_text_is_plain", "value_problems"]

MAX_VALUE_DEPTH = MAX_DEPTH * 2
"""Nesting levels a caller's data may have (spec files get `MAX_DEPTH`; data a little more)."""
MAX_INTEGER_DIGITS = 4000
"""Below Python's 4,300-digit limit for int <-> text, so every accepted integer can be printed and sent."""
_INTEGER_BOUND = 10**MAX_INTEGER_DIGITS


def _pointer(path: tuple[Any, ...] | None) -> str:
    parts: list[Any] = []
    while path is not None:
        key, path = path
        parts.append(key)
    return dump_pointer(reversed(parts))


def _string_ok(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _plain(value: Any) -> bool:
    """The common leaves, settled without a stack entry: ASCII text, small ints, finite floats, bools, None."""
    kind = type(value)
    if kind is str:
        return value.isascii()
    if kind is int:
        return -_INTEGER_BOUND < value < _INTEGER_BOUND
    if kind is float:
        return math.isfinite(value)
    return kind is bool or value is None


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, str):
        return None if _string_ok(value) else "is not valid Unicode text (a lone surrogate)"
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return None if -_INTEGER_BOUND < value < _INTEGER_BOUND else f"is an integer of more than " \
                                                                      f"{MAX_INTEGER_DIGITS} digits"
    if isinstance(value, float):
        return None if math.isfinite(value) else "is not a finite number (NaN or infinity)"
    if isinstance(value, Decimal):
        if not value.is_finite():
            return "is not a finite number (NaN or infinity)"
        return None if value.adjusted() < MAX_INTEGER_DIGITS else f"is a number of more than " \
                                                                  f"{MAX_INTEGER_DIGITS} digits"
    return None


def value_problems(value: Any, *, base: str = "", max_depth: int = MAX_VALUE_DEPTH) -> list[Problem]:
    """The first value that cannot be validated or sent, as a located problem (empty when all is well).

    Iterative and linear in the size of `value`; a cycle is reported as nesting that is too deep.
    """
    # Each entry: (value, depth, path) where path is a (key, parent path) chain, built only on demand.
    stack: list[tuple[Any, int, tuple[Any, ...] | None]] = [(value, 0, None)]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, Mapping):
            if depth >= max_depth:
                return [Problem(f"is nested more than {max_depth} levels deep", pointer=base + _pointer(path))]
            for key, child in node.items():
                if not isinstance(key, str):
                    return [Problem("has a key that is not a string", pointer=base + _pointer(path))]
                if not _string_ok(key):
                    return [Problem("has a key that is not valid Unicode text (a lone surrogate)",
                                    pointer=base + _pointer(path))]
                if not _plain(child):
                    stack.append((child, depth + 1, (key, path)))
        elif isinstance(node, list | tuple):
            if depth >= max_depth:
                return [Problem(f"is nested more than {max_depth} levels deep", pointer=base + _pointer(path))]
            for index, child in enumerate(node):
                if not _plain(child):
                    stack.append((child, depth + 1, (index, path)))
        else:
            reason = _scalar_problem(node)
            if reason is not None:
                return [Problem(reason, pointer=base + _pointer(path))]
    return []


def json_text_is_plain(text: str, *, max_depth: int = MAX_VALUE_DEPTH) -> bool:
    """Whether the value decoded from this JSON text certainly passes `value_problems` (so the walk can be skipped).

    Decoded JSON has string keys and no Decimals, and text read as strict UTF-8 holds no surrogates;
    what remains is settled on the text: no surrogate escape, no NaN/Infinity literal, too short for
    an oversized integer, and too few brackets to nest too deep. A False is only "cannot tell".
    """
    if len(text) >= MAX_INTEGER_DIGITS or "NaN" in text or "Infinity" in text or "\\ud" in text or "\\uD" in text:
        return False
    return len(text) < max_depth or text.count("{") + text.count("[") < max_depth
