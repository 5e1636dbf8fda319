"""The compiled fast validity check (relaykit.specs.fast_check) never disagrees with jsonschema.

It exists for speed (see docs/performance.md): a call whose input it proves valid skips jsonschema.
So wherever it gives a verdict (True or False) that verdict must be jsonschema's; it may only say
"cannot tell" (None). Checked on every shipped operation's input and output schema with seeded
mutations of the operations' examples, and on hand-written schemas for the keywords the shipped
ones do not use. Deterministic: fixed seeds, no timing.
"""

from __future__ import annotations

import copy
import math
import random
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from relaykit import Runtime
from relaykit.specs.fastcheck import fast_check
from relaykit.specs.jsonschemas import FORMAT_CHECKER

SCALARS: list[Any] = [
    "", ".", "..", "a", "ada@example.com", "not an email", "2024-01-31T10:00:00Z", "2024-13-01", "GET", "POST",
    "/segments", "segments", "01HZY7K8Q4W9X2M5N6P3R1T0VA", "x" * 151, "é", 0, 1, -1, 2, 10**11, 10**12, 1.0, 1.5,
    -0.5, math.nan, math.inf, True, False, None,
]


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 2 and roll < 0.15:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if depth < 2 and roll < 0.3:
        keys = ["a", "plan", "name", "id", "email", "type", "segment", "and", "or", "attribute", "json", "raw"]
        return {rng.choice(keys): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return rng.choice(SCALARS)


def _mutate(value: Any, rng: random.Random, names: list[str]) -> Any:
    """One random change somewhere in `value`: replace, drop or add a key, replace an item."""
    if isinstance(value, dict) and value and rng.random() < 0.7:
        key = rng.choice(list(value))
        action = rng.random()
        out = dict(value)
        if action < 0.2:
            del out[key]
        elif action < 0.35:
            out[rng.choice(names)] = _random_value(rng)
        else:
            out[key] = _mutate(value[key], rng, names)
        return out
    if isinstance(value, list) and value and rng.random() < 0.7:
        out = list(value)
        index = rng.randrange(len(out))
        out[index] = _mutate(out[index], rng, names)
        return out
    return _random_value(rng)


def _property_names(schema: Any, found: set[str]) -> set[str]:
    if isinstance(schema, dict):
        for key, sub in schema.items():
            if key == "properties" and isinstance(sub, dict):
                found.update(sub)
            _property_names(sub, found)
    elif isinstance(schema, list):
        for sub in schema:
            _property_names(sub, found)
    return found


def _agree(check: Any, validator: Any, value: Any) -> None:
    verdict = check(value)
    if verdict is not None:
        assert verdict == validator.is_valid(value), f"fast check said {verdict} for {value!r}"


RT = Runtime()
OPERATIONS = RT.operations()


@pytest.mark.parametrize("name", OPERATIONS)
def test_fast_check_agrees_with_jsonschema_on_shipped_schemas(name: str) -> None:
    op = RT.operation(name)
    assert op.input_check is not None and op.output_check is not None, "every shipped schema compiles"
    rng = random.Random(name)
    seeds = [copy.deepcopy(dict(e["input"])) for e in op.examples] or [{}]
    names = sorted(_property_names(op.input_schema, set()) | {"unexpected"})
    proven = 0
    for _ in range(1500):
        value = rng.choice(seeds)
        for _ in range(rng.randint(0, 3)):
            value = _mutate(value, rng, names)
        _agree(op.input_check, op.input_validator, value)
        proven += op.input_check(value) is True
    for seed in seeds:
        assert op.input_check(seed) is True, "every example input is proven valid (the fast path is taken)"
    for _ in range(300):
        value = _random_value(rng)
        _agree(op.output_check, op.output_validator, value)
        _agree(op.input_check, op.input_validator, value)
    assert proven > 0


HAND_WRITTEN = [
    {"not": {"required": ["a", "b"]}},
    {"not": {"type": "integer"}},
    {"not": {"minimum": 0}},
    {"not": {"enum": [1, True, "x", None]}},
    {"not": {"const": 1.0}},
    {"if": {"properties": {"type": {"const": "a"}}, "required": ["type"]}, "then": {"required": ["a"]},
     "else": {"required": ["b"]}},
    {"oneOf": [{"type": "integer"}, {"type": "number"}, {"type": "string", "maxLength": 1}]},
    {"anyOf": [{"type": "array", "items": {"type": "integer"}, "maxItems": 2}, {"type": "object", "minProperties": 1}]},
    {"type": "object", "patternProperties": {"^x": {"type": "integer"}, "y$": {"type": "string"}},
     "additionalProperties": False},
    {"type": "object", "propertyNames": {"minLength": 2}, "dependentRequired": {"a": ["b"]},
     "dependentSchemas": {"c": {"required": ["d"]}}},
    {"type": ["integer", "null"], "exclusiveMinimum": 0, "maximum": 10},
    {"not": {"exclusiveMaximum": 1}},
    {"allOf": [{"type": "string"}, {"pattern": "^[a-z]+$"}, {"format": "email"}]},
    {"not": {"format": "date-time"}},
    {"$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}, "v": {"type": "integer"}}}},
     "$ref": "#/$defs/node"},
    {"enum": [[1, 2], {"a": 1}, 0, False]},
]


@pytest.mark.parametrize("schema", HAND_WRITTEN, ids=[str(i) for i in range(len(HAND_WRITTEN))])
def test_fast_check_agrees_with_jsonschema_on_other_keywords(schema: dict[str, Any]) -> None:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://t.invalid/s.json", **schema}
    registry: Registry = Registry()
    validator = Draft202012Validator(schema, registry=registry, format_checker=FORMAT_CHECKER)
    check = fast_check(schema, registry, FORMAT_CHECKER)
    assert check is not None
    rng = random.Random(repr(schema))
    values = [*SCALARS, {"a": 1}, {"a": 1, "b": 2}, {"type": "a", "a": 1}, {"type": "a", "b": 1}, {"type": "b", "b": 1},
              {"x1": 1, "zy": "s"}, {"x1": "s"}, {"q": 1}, {"c": 1}, {"c": 1, "d": 2}, {"ab": 1, "cd": 2},
              [1, 2], [1, 2, 3], [1, "a"], {"next": {"v": 1}}, {"next": {"v": "x"}}, [], {}]
    values += [_random_value(rng) for _ in range(400)]
    for value in values:
        _agree(check, validator, value)


def test_unsupported_keywords_mean_no_fast_check() -> None:
    registry: Registry = Registry()
    for schema in ({"uniqueItems": True}, {"multipleOf": 3}, {"prefixItems": [{}]}, {"contains": {}},
                   {"unevaluatedProperties": False}, {"properties": {"a": {"$id": "https://x.invalid/a"}}}):
        assert fast_check(schema, registry, FORMAT_CHECKER) is None
