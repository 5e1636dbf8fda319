"""Checks of an automation's `inputs` schema at load: what would otherwise fail only when it runs.

`validate` must catch what `run` would fail on: a `pattern` RE2 refuses, a `$ref` to anything but
this schema or relaykit's offline schema store (an `http:` or `file:` URI is never fetched, so it
would fail at the first run), a local `$ref` that points nowhere, and a `$ref` loop that never
descends into the data (`{"$ref": "#"}`), which recursed until Python's limit at every run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import Problem
from ..specs.documents import dump_pointer, parse_pointer
from ..specs.jsonschemas import BASE_URI, pattern_problems

__all__ = ["inputs_schema_problems"]

# Keywords whose subschemas apply to the same instance (no descent into the data).
_IN_PLACE_ONE = ("not", "if", "then", "else")
_IN_PLACE_MANY = ("allOf", "anyOf", "oneOf")


def _walk(node: Any, pointer: str) -> Any:
    """(pointer, schema object) for every object in the schema document."""
    stack = [(node, pointer)]
    while stack:
        here, where = stack.pop()
        if isinstance(here, dict):
            yield where, here
            stack.extend((child, f"{where}/{dump_pointer([key])[1:]}") for key, child in here.items())
        elif isinstance(here, list):
            stack.extend((child, f"{where}/{index}") for index, child in enumerate(here))


def _local_target(schema: Any, ref: str) -> str | None:
    """The pointer a local `#...` ref names inside `schema`, or None when it names nothing."""
    fragment = ref[1:]
    if fragment and not fragment.startswith("/"):
        return None  # an anchor: not used by relaykit's schemas, refused to keep the check exact
    node = schema
    try:
        parts = parse_pointer(fragment)
    except ValueError:
        return None
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return dump_pointer(parts) if isinstance(node, dict | bool) else None


def _in_place(node: Mapping[str, Any], pointer: str, schema: Any) -> list[tuple[str, str]]:
    """(edge source pointer, target pointer) for each subschema applied to the same instance."""
    edges = []
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):
        target = _local_target(schema, ref)
        if target is not None:
            edges.append((f"{pointer}/$ref", target))
    for key in _IN_PLACE_ONE:
        if isinstance(node.get(key), dict):
            edges.append((f"{pointer}/{key}", f"{pointer}/{key}"))
    for key in _IN_PLACE_MANY:
        if isinstance(node.get(key), list):
            edges.extend((f"{pointer}/{key}/{i}", f"{pointer}/{key}/{i}") for i in range(len(node[key])))
    return edges


def _loops(schema: Any, nodes: dict[str, Mapping[str, Any]]) -> list[str]:
    """The `$ref` pointers that close an in-place loop (found by depth-first search, iteratively)."""
    edges = {pointer: _in_place(node, pointer, schema) for pointer, node in nodes.items()}
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    found: list[str] = []
    for start in nodes:
        if start in state:
            continue
        stack = [(start, iter(edges.get(start, ())))]
        state[start] = 1
        while stack:
            here, children = stack[-1]
            step = next(children, None)
            if step is None:
                state[here] = 2
                stack.pop()
                continue
            via, target = step
            if state.get(target) == 1:
                found.append(via)
            elif target not in state and target in nodes:
                state[target] = 1
                stack.append((target, iter(edges.get(target, ()))))
    return found


def inputs_schema_problems(rt: Any, schema: Mapping[str, Any], validator: Any) -> list[Problem]:
    """Problems of an automation's `inputs` schema that only a run would otherwise find (pointers under /inputs)."""
    problems = [Problem(p.message, pointer=p.pointer) for p in pattern_problems(schema, "", "/inputs")]
    nodes = dict(_walk(schema, ""))
    for pointer, node in nodes.items():
        ref = node.get("$ref")
        if not isinstance(ref, str):
            continue
        where = f"/inputs{pointer}/$ref"
        if ref.startswith("#"):
            if _local_target(schema, ref) is None:
                problems.append(Problem("points nowhere in this schema", pointer=where))
        elif not ref.startswith(BASE_URI):
            problems.append(Problem("may only point into this schema (#/...) or at relaykit's schemas",
                                    pointer=where, hint=f"nothing is fetched; shipped schemas live under {BASE_URI}"))
        elif validator is not None:
            try:
                validator.evolve(schema={"$ref": ref}).is_valid(None)
            except Exception:  # referencing's Unresolvable, or a SpecError of the schema it names
                problems.append(Problem("cannot be resolved", pointer=where))
    for via in _loops(schema, nodes):
        problems.append(Problem("refers back to itself without descending into the data (it would never finish)",
                                pointer=f"/inputs{via}"))
    return problems
