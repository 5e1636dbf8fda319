"""Hostile Python data never escapes as a bare Python exception (issue 12, item 8)."""

from __future__ import annotations

import json
import textwrap
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from relaykit.automation.model import AutomationInputError
from relaykit.errors import ConnectionConfigError, InputValidationError, RelaykitError
from relaykit.specs.values import MAX_VALUE_DEPTH, json_text_is_plain, value_problems

CONN = {"site_id": "site0123456", "api_key": "key0123456789abc", "region": "us"}


def nest(depth: int, kind: str):
    value: object = 1
    for _ in range(depth):
        value = {"a": value} if kind == "dict" else [value]
    return value


HOSTILE = [
    pytest.param({"data": nest(10_000, "dict")}, "/data/a", "nested more than", id="deep-dict"),
    pytest.param({"data": {"x": nest(10_000, "list")}}, "/data/x/0", "nested more than", id="deep-list"),
    pytest.param({"data": {"x": 10**5000}}, "/data/x", "more than 4000 digits", id="huge-int"),
    pytest.param({"identifier": 10**5000}, "/identifier", "more than 4000 digits", id="huge-int-identifier"),
    pytest.param({"data": {1: 2}}, "/data", "key that is not a string", id="int-key"),
    pytest.param({1: 2}, "", "key that is not a string", id="int-key-top"),
    pytest.param({"name": "e\ud800"}, "/name", "lone surrogate", id="surrogate"),
    pytest.param({"data": {"\udfff": 1}}, "/data", "lone surrogate", id="surrogate-key"),
    pytest.param({"data": {"x": Decimal("NaN")}}, "/data/x", "not a finite number", id="decimal-nan"),
    pytest.param({"data": {"x": Decimal("sNaN")}}, "/data/x", "not a finite number", id="decimal-snan"),
    pytest.param({"timestamp": Decimal("NaN")}, "/timestamp", "not a finite number", id="decimal-nan-minimum"),
    pytest.param({"data": {"x": float("inf")}}, "/data/x", "not a finite number", id="inf"),
    pytest.param({"data": {"x": Decimal("1e5000")}}, "/data/x", "more than 4000 digits", id="decimal-huge"),
]


@pytest.mark.parametrize("fields, pointer, words", HOSTILE)
@pytest.mark.parametrize("call", ["dry_run", "run"])
def test_hostile_input_is_an_input_error_naming_the_pointer(rt, sandbox, fields, pointer, words, call):
    data = {"identifier": "c", "name": "e", **fields}
    before = len(sandbox.journal())
    with pytest.raises(InputValidationError) as info:
        getattr(rt, call)("customerio-track.track_event", data, sandbox.connection("customerio-track"))
    assert len(sandbox.journal()) == before  # refused before any byte was sent
    problem = info.value.problems[0]
    assert problem.pointer.startswith(pointer) and words in problem.message
    json.dumps(info.value.to_dict())  # the error itself serialises (no value inside it)


def test_a_cycle_is_reported_as_too_deep():
    loop: dict = {}
    loop["self"] = loop
    [problem] = value_problems({"a": loop})
    assert "nested more than" in problem.message and problem.pointer.startswith("/a/self/self")


def test_nesting_up_to_the_limit_is_accepted_and_one_more_is_not():
    assert value_problems(nest(MAX_VALUE_DEPTH, "list")) == []
    assert value_problems(nest(MAX_VALUE_DEPTH + 1, "list"))


def test_the_largest_accepted_integer_prints():
    assert value_problems(10**4000 - 1) == [] and len(str(10**4000 - 1)) == 4000
    assert value_problems(-(10**4000))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_anything_json_can_carry_is_accepted(value):
    assert value_problems(value) == []
    json.dumps(value, ensure_ascii=False).encode("utf-8")


hostile_leaf = st.sampled_from([float("nan"), float("-inf"), Decimal("NaN"), Decimal("-Infinity"), 10**4001,
                                -(16**4000), "a\ud800b", "\udc80"])


@st.composite
def hostile_values(draw):
    """A JSON value with one hostile leaf somewhere inside."""
    value = draw(hostile_leaf)
    for key in draw(st.lists(st.one_of(st.text(max_size=3), st.integers(0, 3)), max_size=6)):
        value = [value] if isinstance(key, int) else {key: value}
    return value


@settings(max_examples=200, deadline=None)
@given(hostile_values())
def test_any_hostile_leaf_is_found(value):
    assert len(value_problems(value)) == 1


@settings(max_examples=100, deadline=None)
@given(st.one_of(hostile_values(), st.dictionaries(st.integers() | st.none(), st.integers(), min_size=1)))
def test_the_api_turns_hostile_data_into_a_relaykit_error(rt, value):
    with pytest.raises(RelaykitError):
        rt.dry_run("customerio-track.track_event", {"identifier": "c", "name": "e", "data": {"v": value}}, CONN)


@pytest.fixture
def automation(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(textwrap.dedent("""\
        spec_version: 1
        name: hostile
        inputs:
          type: object
          properties:
            n: {type: number, minimum: 0}
            tags: {type: array}
        connections:
          track: {connector: customerio-track, ref: cio-track}
        steps:
          - id: e
            uses: customerio-track.track_event
            with: {identifier: x, name: e, data: {n: "{{ inputs.n }}"}}
        """), encoding="utf-8")
    return path


@pytest.mark.parametrize("inputs, pointer", [
    pytest.param({"n": Decimal("NaN")}, "/n", id="decimal-nan-minimum"),
    pytest.param({"n": 10**5000}, "/n", id="huge-int"),
    pytest.param({"tags": nest(10_000, "list")}, "/tags/0/0", id="deep"),
    pytest.param({"n": 1, 5: 1}, "", id="int-key"),
    pytest.param({"tags": ["\ud800"]}, "/tags/0", id="surrogate"),
])
def test_hostile_automation_inputs_are_an_input_error(rt, automation, inputs, pointer):
    with pytest.raises(AutomationInputError) as info:
        rt.run_automation(automation, inputs, {"track": CONN}, dry_run=True)
    assert info.value.problems[0].pointer.startswith(pointer)


@pytest.mark.parametrize("connections", [[1], "x", 5, ("track",)])
def test_non_mapping_connections_are_a_connection_error(rt, automation, connections):
    with pytest.raises(ConnectionConfigError):
        rt.run_automation(automation, {"n": 1}, connections, dry_run=True)


@pytest.mark.parametrize("field", [10**5000, Decimal("NaN"), "\ud800", nest(10_000, "dict")],
                         ids=["huge-int", "decimal-nan", "surrogate", "deep"])
def test_hostile_connection_fields_are_a_connection_error(rt, field):
    with pytest.raises(ConnectionConfigError):
        rt.dry_run("customerio-track.track_event", {"identifier": "c", "name": "e"}, {**CONN, "region": field})


# JSON text the bulk readers vet, so that the walk above can be skipped for what they decode.
HOSTILE_TEXT = [
    pytest.param('{"x": NaN}', id="nan"), pytest.param('{"x": -Infinity}', id="infinity"),
    pytest.param('{"x": "a\\ud800"}', id="surrogate-escape"), pytest.param('{"\\uDFFF": 1}', id="surrogate-key"),
    pytest.param('{"x": ' + "9" * 4100 + "}", id="huge-int"),
    pytest.param("[" * (MAX_VALUE_DEPTH + 1) + "]" * (MAX_VALUE_DEPTH + 1), id="too-deep"),
]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_json_text_that_could_hold_a_hostile_value_is_not_vetted(text):
    assert not json_text_is_plain(text)
    assert value_problems(json.loads(text)) != []


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(), kids, max_size=4),
                    max_leaves=30),
       st.booleans())
def test_vetted_json_text_always_passes_the_walk(value, ascii_only):
    """Whatever `json_text_is_plain` vouches for, the walk accepts: vetting never lets a hostile value by."""
    try:
        text = json.dumps(value, ensure_ascii=ascii_only)
    except UnicodeEncodeError:
        return
    if json_text_is_plain(text):
        assert value_problems(json.loads(text)) == []


def test_nesting_just_inside_the_limit_is_vetted():
    text = "[" * (MAX_VALUE_DEPTH - 1) + "]" * (MAX_VALUE_DEPTH - 1)
    assert json_text_is_plain(text) and value_problems(json.loads(text)) == []
