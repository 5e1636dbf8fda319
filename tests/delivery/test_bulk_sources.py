"""Bulk input readers: JSONL and JSON arrays streamed, CSV cells coerced by the operation's input schema."""

from __future__ import annotations

import io
import json

import pytest
from relaykit.delivery.sources import CsvCoercer, coerce_cell, open_records, read_csv, read_json_array, read_jsonl
from relaykit.errors import BulkError


@pytest.mark.parametrize("text,types,expected", [
    ("42", {"integer"}, 42),
    ("-7", {"integer"}, -7),
    ("4.5", {"number"}, 4.5),
    ("42", {"number"}, 42),
    ("1e3", {"number"}, 1000.0),
    ("true", {"boolean"}, True),
    ("False", {"boolean"}, False),
    ("1", {"boolean"}, True),
    ("no", {"boolean"}, False),
    ("null", {"null", "integer"}, None),
    ('{"plan": "pro"}', {"object"}, {"plan": "pro"}),
    ("[1, 2]", {"array"}, [1, 2]),
    ("42", {"string"}, "42"),
    ("42", {"string", "integer"}, "42"),  # a string is allowed: the cell stays text
    ("42", set(), "42"),  # nothing known: text
    ("abc", {"integer"}, "abc"),  # does not fit: left for validation to name
    ("4.5", {"integer"}, "4.5"),
    ("nan", {"number"}, "nan"),
    ("[1]", {"object"}, "[1]"),
    ("maybe", {"boolean"}, "maybe"),
])
def test_csv_coercion_table(text, types, expected):
    value = coerce_cell(text, frozenset(types))
    assert value == expected and type(value) is type(expected)


def test_csv_rows_follow_the_operation_schema_through_refs_and_dotted_headers(rt):
    op = rt.operation("customerio-track.track_event")
    coercer = CsvCoercer(op.input_schema, rt.schema_registry)
    data = (b"\xef\xbb\xbfidentifier,name,timestamp,data.plan,data.seats,event_id\n"
            b"42,signed_up,1700000000,pro,3,\n"
            b"ada@example.com,upgraded,,team,,01HZY7K8Q4W9X2M5N6P3R1T0VA\n")
    records = list(read_csv(io.BytesIO(data), "people.csv", coercer))
    assert [r.where for r in records] == ["people.csv:2", "people.csv:3"]
    assert records[0].value == {"identifier": "42", "name": "signed_up", "timestamp": 1700000000,
                                "data": {"plan": "pro", "seats": "3"}}  # data is free-form: text stays text
    assert records[1].value == {"identifier": "ada@example.com", "name": "upgraded", "data": {"plan": "team"},
                                "event_id": "01HZY7K8Q4W9X2M5N6P3R1T0VA"}


def test_csv_row_with_extra_cells_is_a_problem_record(rt):
    coercer = CsvCoercer(rt.operation("customerio-pipelines.track").input_schema, rt.schema_registry)
    records = list(read_csv(io.BytesIO(b"userId,event\n1,E,extra\n2,F\n"), "x.csv", coercer))
    assert records[0].problem == "has more cells than the header row" and records[1].value == {"userId": "2",
                                                                                                "event": "F"}


def test_jsonl_lines_bad_lines_and_dead_letter_records():
    data = (b'{"a": 1}\n\n  \nnot json\n'
            b'{"relaykit_dead_letter": 1, "index": 4, "item": {"a": 2}, "error": "ServerError", '
            b'"reason": "HTTP 503", "attempts": 4}\n\xff\n')
    records = list(read_jsonl(io.BytesIO(data), "in.jsonl"))
    assert [(r.value, r.where, r.problem) for r in records] == [
        ({"a": 1}, "in.jsonl:1", None),
        (None, "in.jsonl:4", "is not valid JSON (Expecting value)"),
        ({"a": 2}, "in.jsonl:5", None),
        (None, "in.jsonl:6", "is not UTF-8 text"),
    ]


class CountingStream(io.RawIOBase):
    """A JSON array produced on demand: how far the reader has read when it hands out an item."""

    def __init__(self, n):
        self.n, self.i, self.buffer, self.served = n, 0, b"[", 0

    def readable(self):
        return True

    def readinto(self, b):
        while len(self.buffer) < len(b) and self.i <= self.n:
            if self.i < self.n:
                self.buffer += (b"," if self.i else b"") + json.dumps({"n": self.i, "pad": "x" * 50}).encode()
            else:
                self.buffer += b"]"
            self.i += 1
        chunk, self.buffer = self.buffer[:len(b)], self.buffer[len(b):]
        b[:len(chunk)] = chunk
        self.served += len(chunk)
        return len(chunk)


def test_json_array_is_streamed_not_loaded():
    stream = CountingStream(200_000)  # about 13 MB if it were read whole
    records = read_json_array(io.BufferedReader(stream), "big.json")
    first = next(records)
    assert first.value == {"n": 0, "pad": "x" * 50} and first.where == "big.json[0]"
    assert stream.served < 1_000_000
    assert sum(1 for _ in records) == 199_999


def test_json_array_cut_short_stops_with_the_position():
    with pytest.raises(BulkError, match=r"broken.json: the JSON array breaks after item 2"):
        list(read_json_array(io.BytesIO(b'[{"a": 1}, {"a": 2}, {"a": '), "broken.json"))


def test_format_is_detected_from_the_name_or_the_first_byte(tmp_path):
    array = tmp_path / "events.json"
    array.write_text('  [{"a": 1}, {"a": 2}]')
    lines = tmp_path / "events.json.txt"
    lines.write_text('{"a": 1}\n')
    for path, fmt, count in ((array, "json", 2), (lines, "jsonl", 1)):
        records, found, stream = open_records(str(path))
        with stream:
            assert found == fmt and len(list(records)) == count
    with pytest.raises(BulkError, match="cannot read the input"):
        open_records(str(tmp_path / "missing.jsonl"))
    with pytest.raises(BulkError, match="unknown input format 'xml'"):
        open_records(str(array), "xml")
