"""Payload limits checked before sending, as declared in connector and operation YAML.

Customer.io drops or rejects what exceeds its documented limits (the Pipelines API even answers
200 and silently drops an oversized request), so relaykit refuses such input up front with the
JSON pointer and the limit, and sends nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from ..errors import Problem
from ..specs.documents import dump_pointer, parse_pointer

MILLISECONDS_THRESHOLD = 10**11  # year 5138 in seconds; any larger "unix time" is milliseconds


@lru_cache(maxsize=1024)
def pointer_parts(pointer: str) -> tuple[str, ...]:
    """Pointers come from specs, so each is split once, not on every call."""
    return tuple(parse_pointer(pointer))


def _nbytes(value: Any) -> int:
    return len(str(value).encode("utf-8", "surrogatepass"))


def resolve_pointer(data: Any, pointer: str) -> list[tuple[str, Any]]:
    """Values at a JSON pointer, where a `*` segment walks every item of a list or object."""
    found: list[tuple[list[str], Any]] = [([], data)]
    for part in pointer_parts(pointer):
        nxt: list[tuple[list[str], Any]] = []
        for path, node in found:
            if part == "*":
                if isinstance(node, list):
                    nxt.extend(([*path, str(i)], v) for i, v in enumerate(node))
                elif isinstance(node, dict):
                    nxt.extend(([*path, k], v) for k, v in node.items())
            elif isinstance(node, dict) and part in node:
                nxt.append(([*path, part], node[part]))
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                nxt.append(([*path, part], node[int(part)]))
        found = nxt
    return [(dump_pointer(path), value) for path, value in found]


def check_input_limits(data: Any, limits: Mapping[str, Any]) -> list[Problem]:
    """Identifier bytes, attribute counts and sizes, and seconds-not-milliseconds timestamps."""
    problems: list[Problem] = []
    max_id = limits.get("max_identifier_bytes")
    for pointer in limits.get("identifiers", ()) if max_id else ():
        for where, value in resolve_pointer(data, pointer):
            if isinstance(value, str) and _nbytes(value) > max_id:
                problems.append(Problem(f"is longer than {max_id} bytes", pointer=where))
    for pointer in limits.get("attributes", ()):
        for where, attrs in resolve_pointer(data, pointer):
            if isinstance(attrs, dict):
                problems.extend(_attribute_problems(where, attrs, limits))
    for pointer in limits.get("unix_timestamps", ()):
        for where, value in resolve_pointer(data, pointer):
            if isinstance(value, int | float) and not isinstance(value, bool) and value > MILLISECONDS_THRESHOLD:
                problems.append(Problem("looks like milliseconds; Customer.io expects unix seconds", pointer=where))
    return problems


def _attribute_problems(where: str, attrs: Mapping[str, Any], limits: Mapping[str, Any]) -> list[Problem]:
    problems = []
    most, name_max, value_max = (limits.get(k) for k in
                                 ("max_attributes", "max_attribute_name_bytes", "max_attribute_value_bytes"))
    if most and len(attrs) > most:
        problems.append(Problem(f"has more than {most} attributes", pointer=where))
    for name, value in attrs.items():
        pointer = where + dump_pointer([name])
        if name_max and _nbytes(name) > name_max:
            problems.append(Problem(f"attribute name is longer than {name_max} bytes", pointer=pointer))
        if value_max and value is not None:
            try:
                size = _nbytes(value) if isinstance(value, str) else len(_json_bytes(value))
            except (ValueError, RecursionError):  # unserialisable: the renderer refuses the body itself
                continue
            if size > value_max:
                problems.append(Problem(f"attribute value is larger than {value_max} bytes", pointer=pointer))
    return problems


def _json_bytes(value: Any) -> bytes:
    import json

    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def check_body_limits(body: bytes | None, body_json: Any, limits: Mapping[str, Any]) -> list[Problem]:
    """Whole-body and per-item size caps on the serialised request."""
    problems: list[Problem] = []
    if body is None:
        return problems
    cap = limits.get("max_body_bytes")
    if cap and len(body) > cap:
        problems.append(Problem(f"request body is {len(body)} bytes; the limit is {cap} bytes", pointer=""))
    item_cap, items, most = limits.get("max_item_bytes"), limits.get("items"), limits.get("max_items")
    if most and items:
        for where, value in resolve_pointer(body_json, items):
            if isinstance(value, list) and len(value) > most:
                problems.append(Problem(f"has {len(value)} items; the limit is {most} per request", pointer=where))
    if item_cap and items:
        for where, value in resolve_pointer(body_json, items + "/*"):
            size = len(_json_bytes(value))
            if size > item_cap:
                problems.append(Problem(f"item is {size} bytes; the limit per item is {item_cap} bytes", pointer=where))
    return problems
