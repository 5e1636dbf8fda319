"""Tests for relaykit.limits: payload limits found before sending, each with its JSON pointer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from canary_scan import PIPELINES_KEY, SITE_ID, TRACK_KEY
from relaykit.call.limits import MILLISECONDS_THRESHOLD, check_body_limits, check_input_limits, resolve_pointer
from relaykit.errors import InputValidationError, RenderError
from relaykit.runtime import Runtime

PERSON = {  # create_or_update_customer's limits
    "identifiers": ["/identifier"],
    "max_identifier_bytes": 150,
    "attributes": ["/attributes"],
    "max_attributes": 300,
    "max_attribute_name_bytes": 150,
    "max_attribute_value_bytes": 1000,
    "unix_timestamps": ["/created_at", "/timestamp"],
}


def problem_pointers(data: Any, limits: dict[str, Any] = PERSON) -> list[str]:
    return [p.pointer for p in check_input_limits(data, limits)]


@pytest.mark.parametrize(("identifier", "pointers"), [
    pytest.param("a" * 150, [], id="150-ascii"),
    pytest.param("a" * 151, ["/identifier"], id="151-ascii"),
    pytest.param("é" * 75, [], id="75-two-byte"),
    pytest.param("é" * 76, ["/identifier"], id="76-two-byte"),
    pytest.param("€" * 50, [], id="50-three-byte"),
    pytest.param("€" * 51, ["/identifier"], id="51-three-byte"),
    pytest.param("\U0001f600" * 37 + "ab", [], id="150-with-emoji"),
    pytest.param("\U0001f600" * 38, ["/identifier"], id="152-emoji"),
    pytest.param("\ud800" * 51, ["/identifier"], id="lone-surrogates"),
    pytest.param(12345, [], id="not-a-string"),
])
def test_identifier_bytes(identifier: Any, pointers: list[str]) -> None:
    assert problem_pointers({"identifier": identifier}) == pointers


@pytest.mark.parametrize(("count", "pointers"), [
    pytest.param(300, [], id="300"),
    pytest.param(301, ["/attributes"], id="301"),
])
def test_attribute_count(count: int, pointers: list[str]) -> None:
    assert problem_pointers({"attributes": {f"a{i}": i for i in range(count)}}) == pointers


@pytest.mark.parametrize(("attributes", "pointers"), [
    pytest.param({"n" * 150: 1}, [], id="name-150"),
    pytest.param({"n" * 151: 1}, ["/attributes/" + "n" * 151], id="name-151"),
    pytest.param({"é" * 76: 1}, ["/attributes/" + "é" * 76], id="name-152-bytes"),
    pytest.param({"a/b~" + "n" * 150: 1}, ["/attributes/a~1b~0" + "n" * 150], id="name-escaped-in-pointer"),
    pytest.param({"v": "x" * 1000}, [], id="value-1000"),
    pytest.param({"v": "x" * 1001}, ["/attributes/v"], id="value-1001"),
    pytest.param({"v": "é" * 501}, ["/attributes/v"], id="value-1002-bytes"),
    pytest.param({"v": ["x" * 500, "y" * 500]}, ["/attributes/v"], id="list-value-json-bytes"),
    pytest.param({"v": {"k": "x" * 992}}, [], id="object-value-1000-json-bytes"),
    pytest.param({"v": {"k": "x" * 993}}, ["/attributes/v"], id="object-value-1001-json-bytes"),
    pytest.param({"v": None}, [], id="null-value"),
    pytest.param({"v": 10**999}, [], id="1000-digit-number"),
    pytest.param({"v": 10**1000}, ["/attributes/v"], id="1001-digit-number"),
    pytest.param({"v": 10**5000}, [], id="unserialisable-number-left-to-renderer"),
])
def test_attribute_sizes(attributes: dict[str, Any], pointers: list[str]) -> None:
    assert problem_pointers({"attributes": attributes}) == pointers


@pytest.mark.parametrize(("value", "pointers"), [
    pytest.param(1700000000, [], id="seconds"),
    pytest.param(1700000000.5, [], id="fractional-seconds"),
    pytest.param(MILLISECONDS_THRESHOLD, [], id="threshold"),
    pytest.param(MILLISECONDS_THRESHOLD + 1, ["/created_at"], id="above-threshold"),
    pytest.param(1700000000000, ["/created_at"], id="milliseconds"),
    pytest.param(1700000000000.0, ["/created_at"], id="float-milliseconds"),
    pytest.param(True, [], id="bool"),
    pytest.param("1700000000000", [], id="string"),
])
def test_millisecond_timestamps(value: Any, pointers: list[str]) -> None:
    assert problem_pointers({"created_at": value}) == pointers


def test_every_problem_reported_at_once() -> None:
    data = {"identifier": "x" * 151, "attributes": {"v": "x" * 1001}, "created_at": 1700000000000,
            "timestamp": 1700000000001}
    assert problem_pointers(data) == ["/identifier", "/attributes/v", "/created_at", "/timestamp"]


def test_no_limits_declared_means_no_problems() -> None:
    assert check_input_limits({"identifier": "x" * 10_000}, {"identifiers": ["/identifier"]}) == []


@pytest.mark.parametrize(("size", "cap", "problems"), [
    pytest.param(32768, 32768, 0, id="at-cap"),
    pytest.param(32769, 32768, 1, id="over-cap"),
    pytest.param(10**6, None, 0, id="no-cap"),
])
def test_body_cap(size: int, cap: int | None, problems: int) -> None:
    found = check_body_limits(b"x" * size, None, {"max_body_bytes": cap} if cap else {})
    assert len(found) == problems
    if problems:
        assert found[0].pointer == "" and str(size) in found[0].message and str(cap) in found[0].message


def test_no_body_no_problem() -> None:
    assert check_body_limits(None, None, {"max_body_bytes": 1}) == []


def _item(size: int) -> dict[str, str]:
    """A batch item whose compact JSON is exactly `size` bytes."""
    overhead = len(json.dumps({"p": ""}, separators=(",", ":")))
    return {"p": "x" * (size - overhead)}


@pytest.mark.parametrize(("sizes", "pointers"), [
    pytest.param([32768, 10], [], id="at-item-cap"),
    pytest.param([10, 32769, 20, 40000], ["/batch/1", "/batch/3"], id="over-item-cap"),
])
def test_per_item_cap(sizes: list[int], pointers: list[str]) -> None:
    body_json = {"batch": [_item(s) for s in sizes]}
    body = json.dumps(body_json, separators=(",", ":")).encode()
    limits = {"max_body_bytes": 512000, "max_item_bytes": 32768, "items": "/batch"}
    assert [p.pointer for p in check_body_limits(body, body_json, limits)] == pointers


@pytest.mark.parametrize(("data", "pointer", "found"), [
    pytest.param({"a": [1, 2]}, "/a/*", [("/a/0", 1), ("/a/1", 2)], id="star-list"),
    pytest.param({"a": {"x": 1, "y": 2}}, "/a/*", [("/a/x", 1), ("/a/y", 2)], id="star-object"),
    pytest.param({"a": 1}, "", [("", {"a": 1})], id="whole-document"),
    pytest.param({"a": 1}, "/b", [], id="missing"),
    pytest.param({"a": [1, 2]}, "/a/1", [("/a/1", 2)], id="index"),
    pytest.param({"a": [1, 2]}, "/a/2", [], id="index-out-of-range"),
    pytest.param({"a": [1, 2]}, "/a/-1", [], id="negative-index"),
    pytest.param({"a/b": {"~c": 1}}, "/a~1b/~0c", [("/a~1b/~0c", 1)], id="escapes"),
    pytest.param({"batch": [{"messageId": "m1"}, {}, {"messageId": None}]}, "/batch/*/messageId",
                 [("/batch/0/messageId", "m1"), ("/batch/2/messageId", None)], id="star-then-key"),
    pytest.param({"a": "text"}, "/a/*", [], id="star-on-scalar"),
    pytest.param({"a": [[1], [2, 3]]}, "/a/*/*", [("/a/0/0", 1), ("/a/1/0", 2), ("/a/1/1", 3)], id="double-star"),
    pytest.param([{"k": 1}], "/0/k", [("/0/k", 1)], id="root-list"),
])
def test_resolve_pointer(data: Any, pointer: str, found: list[tuple[str, Any]]) -> None:
    assert resolve_pointer(data, pointer) == found


# ---------------------------------------------------------------------------------------------
# The same limits through dry runs (nothing is sent)


@pytest.fixture(scope="module")
def rt() -> Runtime:
    return Runtime(load_entry_points=True)


TRACK = {"site_id": SITE_ID, "api_key": TRACK_KEY}
PIPELINES = {"api_key": PIPELINES_KEY}


@pytest.mark.parametrize(("name", "data", "connection", "pointers"), [
    pytest.param("customerio-track.track_event", {"identifier": "x" * 151, "name": "n"}, TRACK, ["/identifier"],
                 id="track-identifier"),
    pytest.param("customerio-track.create_or_update_customer",
                 {"identifier": "a", "attributes": {f"a{i}": 1 for i in range(301)}}, TRACK, ["/attributes"],
                 id="track-301-attributes"),
    pytest.param("customerio-track.track_event", {"identifier": "a", "name": "n", "data": {"x": "y" * 33000}},
                 TRACK, [""], id="track-body-over-32kb"),
    pytest.param("customerio-pipelines.track", {"userId": "1", "event": "e", "properties": {"x": "y" * 33000}},
                 PIPELINES, [""], id="pipelines-event-over-32kb"),
    pytest.param("customerio-pipelines.batch",
                 {"batch": [{"type": "track", "userId": "1", "event": "e", "properties": {"x": "y" * 20000}}] * 26},
                 PIPELINES, [""], id="pipelines-batch-over-500kb"),
    pytest.param("customerio-pipelines.batch",
                 {"batch": [{"type": "track", "userId": "1", "event": "e"},
                            {"type": "track", "userId": "2", "event": "e", "properties": {"x": "y" * 33000}}]},
                 PIPELINES, ["/batch/1"], id="pipelines-batch-item-over-32kb"),
])
def test_limits_refused_in_dry_run(rt: Runtime, name: str, data: dict[str, Any], connection: dict[str, str],
                                   pointers: list[str]) -> None:
    with pytest.raises(InputValidationError) as info:
        rt.dry_run(name, data, connection)
    assert [p.pointer for p in info.value.problems] == pointers
    assert "yyyyyyyy" not in str(info.value)


def test_unserialisable_attribute_is_a_render_error(rt: Runtime) -> None:
    with pytest.raises(RenderError) as info:
        rt.dry_run("customerio-track.create_or_update_customer", {"identifier": "a", "attributes": {"v": {1, 2}}},
                   TRACK)
    assert info.value.pointer == "/body"


def test_an_unprintable_integer_attribute_is_an_input_error_at_its_pointer(rt: Runtime) -> None:
    with pytest.raises(InputValidationError) as info:
        rt.dry_run("customerio-track.create_or_update_customer", {"identifier": "a", "attributes": {"v": 10**5000}},
                   TRACK)
    assert [p.pointer for p in info.value.problems] == ["/attributes/v"]


def test_batch_under_limits_renders(rt: Runtime) -> None:
    batch = [{"type": "track", "userId": "1", "event": "e", "properties": {"x": "y" * 19000}}] * 26
    request = rt.dry_run("customerio-pipelines.batch", {"batch": batch}, PIPELINES)
    assert 490_000 < len(request.body) <= 512_000
