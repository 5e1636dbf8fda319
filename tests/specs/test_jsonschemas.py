"""Tests for relaykit.jsonschemas: messages built from the schema only, pointers, hints and defaults."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from relaykit.specs.jsonschemas import FORMAT_CHECKER, apply_defaults, describe_error, error_problems

KEY = "sk_live_CANARY"
EMAIL = "canary@example.com"


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=FORMAT_CHECKER)


def all_errors(errors: Any) -> Iterator[ValidationError]:
    for error in errors:
        yield error
        yield from all_errors(error.context or [])


# (schema, failing instance, expected problem messages): every keyword fails on a value carrying a canary
KEYWORDS = [
    pytest.param({"type": "integer"}, KEY, ["expected an integer"], id="type"),
    pytest.param({"type": ["object", "null"]}, EMAIL, ["expected an object or null"], id="type-list"),
    pytest.param({"enum": ["us", "eu"]}, KEY, ["must be one of: us, eu"], id="enum"),
    pytest.param({"const": "track"}, EMAIL, ["must be track"], id="const"),
    pytest.param({"minLength": 100}, KEY, ["must be at least 100 characters long"], id="minLength"),
    pytest.param({"maxLength": 3}, EMAIL, ["must be at most 3 characters long"], id="maxLength"),
    pytest.param({"pattern": "^[0-9]+$"}, KEY, ["does not have the expected form"], id="pattern"),
    pytest.param({"format": "email"}, "sk_live_CANARY at example", ["must be a valid email"], id="format-email"),
    pytest.param({"format": "date-time"}, EMAIL, ["must be a valid date-time"], id="format-date-time"),
    pytest.param({"minimum": 10**20}, 123456789, ["must be at least 100000000000000000000"], id="minimum"),
    pytest.param({"exclusiveMinimum": 10**20}, 123456789, ["must be greater than 100000000000000000000"],
                 id="exclusiveMinimum"),
    pytest.param({"maximum": 1}, 123456789, ["must be at most 1"], id="maximum"),
    pytest.param({"exclusiveMaximum": 1}, 123456789, ["must be less than 1"], id="exclusiveMaximum"),
    pytest.param({"multipleOf": 7}, 123456789, ["must be a multiple of 7"], id="multipleOf"),
    pytest.param({"minItems": 3}, [KEY, EMAIL], ["must have at least 3 items"], id="minItems"),
    pytest.param({"maxItems": 1}, [KEY, EMAIL], ["must have at most 1 items"], id="maxItems"),
    pytest.param({"uniqueItems": True}, [KEY, KEY], ["items must be unique"], id="uniqueItems"),
    pytest.param({"minProperties": 3}, {"a": KEY}, ["must have at least 3 fields"], id="minProperties"),
    pytest.param({"maxProperties": 1}, {"a": KEY, "b": EMAIL}, ["must have at most 1 fields"], id="maxProperties"),
    pytest.param({"not": {"enum": [".", ".."]}}, "..", ["must not be '.' or '..'"], id="not-enum"),
    pytest.param({"not": {"required": ["a", "b"]}}, {"a": KEY, "b": EMAIL}, ["must not combine a, b"],
                 id="not-required"),
    pytest.param({"not": {"type": "string"}}, KEY, ["is not allowed here"], id="not-other"),
    pytest.param({"anyOf": [{"type": "integer"}, {"type": "null"}]}, KEY, ["does not match any allowed form"],
                 id="anyOf"),
    pytest.param({"oneOf": [{"type": "string"}, {"minLength": 1}]}, KEY, ["must match exactly one allowed form"],
                 id="oneOf"),
    pytest.param({"anyOf": [{"required": ["userId"]}, {"required": ["anonymousId"]}]}, {"event": KEY},
                 ["needs at least one of `userId`, `anonymousId`"], id="anyOf-required-fields"),
    pytest.param({"oneOf": [{"required": ["id"]}, {"required": ["email"]}]}, {"id": KEY, "email": EMAIL},
                 ["needs exactly one of `id`, `email`"], id="oneOf-required-fields"),
    pytest.param({"anyOf": [{"required": ["a", "b"]}, {"required": ["c"]}]}, {"d": KEY},
                 ["does not match any allowed form"], id="anyOf-required-pairs"),
    pytest.param({"type": "object", "properties": {"a": {"oneOf": [{"type": "integer"}, {"type": "null"}]}}},
                 {"a": KEY}, ["must match exactly one allowed form"], id="oneOf-nested"),
    pytest.param({"required": ["api_key"]}, {"email": EMAIL}, ["is required"], id="required"),
    pytest.param({"properties": {"email": {}}, "additionalProperties": False}, {"emial": EMAIL},
                 ["is not an allowed field"], id="additionalProperties"),
    pytest.param({"properties": {"a": {}}, "unevaluatedProperties": False}, {"a": 1, "b": KEY},
                 ["is not an allowed field here"], id="unevaluatedProperties"),
    pytest.param({"dependentRequired": {"raw": ["content_type"]}}, {"raw": KEY},
                 ["is required when 'raw' is given"], id="dependentRequired"),
    pytest.param({"propertyNames": {"maxLength": 3}}, {"long_name": EMAIL}, ["must be at most 3 characters long"],
                 id="propertyNames"),
    pytest.param({"contains": {"type": "integer"}}, [KEY, EMAIL], ["is invalid (contains)"], id="contains"),
    pytest.param({"if": {"type": "string"}, "then": {"maxLength": 2}}, KEY, ["must be at most 2 characters long"],
                 id="if-then"),
    pytest.param({"prefixItems": [{"type": "integer"}], "items": False}, [1, KEY], ["is invalid (items)"],
                 id="items-false"),
    pytest.param({"properties": {"a": False}}, {"a": EMAIL}, ["is invalid (None)"], id="false-schema"),
    pytest.param({"$defs": {"d": {"type": "integer"}}, "properties": {"x": {"$ref": "#/$defs/d"}}}, {"x": KEY},
                 ["expected an integer"], id="ref"),
    pytest.param({"type": "object", "additionalProperties": {"type": "integer"}}, {"k": EMAIL},
                 ["expected an integer"], id="additionalProperties-schema"),
]


@pytest.mark.parametrize(("schema", "instance", "messages"), KEYWORDS)
def test_messages_never_include_the_value(schema: dict[str, Any], instance: Any, messages: list[str]) -> None:
    errors = list(validator(schema).iter_errors(instance))
    assert errors, "the instance must fail"
    problems = error_problems(errors)
    assert [p.message for p in problems] == messages
    texts = [str(p) for p in problems] + [json.dumps(p.to_dict()) for p in problems]
    texts += [describe_error(e) for e in all_errors(validator(schema).iter_errors(instance))]
    for text in texts:
        assert KEY not in text and EMAIL not in text and "123456789" not in text


@pytest.mark.parametrize(("schema", "instance", "pointers"), [
    pytest.param({"required": ["name", "email"]}, {}, ["/name", "/email"], id="two-missing"),
    pytest.param({"required": ["name", "email"]}, {"name": "x"}, ["/email"], id="one-missing"),
    pytest.param({"properties": {"person": {"required": ["id"]}}}, {"person": {}}, ["/person/id"], id="nested"),
    pytest.param({"items": {"required": ["type"]}}, [{"type": "a"}, {}], ["/1/type"], id="in-list"),
    pytest.param({"required": ["a/b"]}, {}, ["/a/b"], id="name-with-slash"),
])
def test_required_points_at_the_missing_field(schema: dict[str, Any], instance: Any, pointers: list[str]) -> None:
    problems = error_problems(validator(schema).iter_errors(instance))
    assert [p.pointer for p in problems] == pointers
    assert all(p.message == "is required" for p in problems)


@pytest.mark.parametrize(("extra", "hint"), [
    pytest.param("emial", "did you mean 'email'?", id="typo"),
    pytest.param("identifer", "did you mean 'identifier'?", id="dropped-letter"),
    pytest.param("zzz", None, id="nothing-close"),
])
def test_additional_property_hint(extra: str, hint: str | None) -> None:
    schema = {"properties": {"email": {}, "identifier": {}}, "additionalProperties": False}
    problems = error_problems(validator(schema).iter_errors({extra: EMAIL}))
    assert [(p.pointer, p.hint) for p in problems] == [(f"/{extra}", hint)]


def test_additional_property_pointer_is_escaped() -> None:
    schema = {"properties": {}, "additionalProperties": False}
    problems = error_problems(validator(schema).iter_errors({"a/b~c": 1}))
    assert [p.pointer for p in problems] == ["/a~1b~0c"]


def test_problems_deduplicated_and_sorted() -> None:
    schema = {"type": "object", "properties": {"b": {"type": "integer"}, "a": {"type": "integer", "minimum": 5}}}
    problems = error_problems(validator(schema).iter_errors({"b": KEY, "a": 1}))
    assert [(p.pointer, p.message) for p in problems] == [("/a", "must be at least 5"), ("/b", "expected an integer")]


def test_base_pointer_prefix() -> None:
    problems = error_problems(validator({"required": ["x"]}).iter_errors({}), base="/input")
    assert [p.pointer for p in problems] == ["/input/x"]


SCHEMA = {
    "type": "object",
    "properties": {
        "region": {"type": "string", "default": "us"},
        "tags": {"type": "array", "default": ["a"]},
        "retry": {
            "type": "object",
            "properties": {"max_attempts": {"default": 4}, "backoff": {"properties": {"factor": {"default": 2}}}},
        },
        "given": {"type": "string", "default": "unused"},
    },
}


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param({}, {"region": "us", "tags": ["a"], "given": "unused"}, id="empty"),
    pytest.param({"given": "x", "retry": {}}, {"region": "us", "tags": ["a"], "given": "x",
                                            "retry": {"max_attempts": 4}}, id="nested"),
    pytest.param({"retry": {"backoff": {}, "max_attempts": 1}},
                 {"region": "us", "tags": ["a"], "given": "unused",
                  "retry": {"max_attempts": 1, "backoff": {"factor": 2}}},
                 id="two-levels"),
    pytest.param({"region": None}, {"region": None, "tags": ["a"], "given": "unused"}, id="explicit-null-kept"),
    pytest.param("not-an-object", "not-an-object", id="scalar"),
])
def test_apply_defaults(value: Any, expected: Any) -> None:
    before = copy.deepcopy(value)
    assert apply_defaults(SCHEMA, value) == expected
    assert value == before  # the caller's value is untouched


def test_apply_defaults_copies_defaults() -> None:
    schema = copy.deepcopy(SCHEMA)
    first = apply_defaults(schema, {})
    first["tags"].append("mutated")
    assert schema == SCHEMA
    assert apply_defaults(schema, {})["tags"] == ["a"]


def test_apply_defaults_does_not_mutate_nested_caller_dicts() -> None:
    caller = {"retry": {"backoff": {}}}
    result = apply_defaults(SCHEMA, caller)
    assert caller == {"retry": {"backoff": {}}}
    assert result["retry"] is not caller["retry"] and result["retry"]["backoff"] is not caller["retry"]["backoff"]
