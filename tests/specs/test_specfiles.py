"""Tests for relaykit.specs.documents: the strict YAML/JSON spec loader."""

from __future__ import annotations

import io
import json
import time
import tracemalloc
from importlib import resources
from importlib.resources.abc import Traversable

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relaykit.errors import Problem, SpecError
from relaykit.specs import documents as specfiles
from relaykit.specs.documents import (
    MAX_BYTES,
    Document,
    dump_pointer,
    load_json,
    load_json_file,
    load_yaml,
    load_yaml_file,
    parse_pointer,
)

CANARY = "sk_live_CANARY"

BACKENDS = [pytest.param(yaml.SafeLoader, id="python")]
if hasattr(yaml, "CSafeLoader"):
    BACKENDS.append(pytest.param(yaml.CSafeLoader, id="libyaml"))


@pytest.fixture(params=BACKENDS, autouse=True)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> type:
    """Every test runs with both PyYAML event parsers: the rules must not depend on the backend."""
    monkeypatch.setattr(specfiles, "_LOADER", request.param)
    return request.param


def problems_of(text: str | bytes, **kw: object) -> list[Problem]:
    with pytest.raises(SpecError) as info:
        load_yaml(text, "spec.yaml", **kw)  # type: ignore[arg-type]
    problems = info.value.problems
    assert problems, "a SpecError must carry problems"
    for problem in problems:
        assert problem.file == "spec.yaml"
    return problems


def messages(problems: list[Problem]) -> str:
    return "\n".join(str(p) for p in problems)


ALIAS_BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]" for prev, name in zip("abcdefgh", "bcdefghi", strict=True)),
    ]
)


# --------------------------------------------------------------------------------------------
# Values that load


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a: 1\nb: x\n", {"a": 1, "b": "x"}, id="simple-mapping"),
        pytest.param(
            "on: 1\nyes: 2\nno: 3\noff: 4\ny: 5\nn: 6\n",
            {"on": 1, "yes": 2, "no": 3, "off": 4, "y": 5, "n": 6},
            id="yaml11-bool-keys-are-strings",
        ),
        pytest.param(
            "- yes\n- no\n- on\n- off\n- y\n- n\n- NO\n",
            ["yes", "no", "on", "off", "y", "n", "NO"],
            id="yaml11-bool-values-are-strings",
        ),
        pytest.param(
            "[true, True, TRUE, false, False, FALSE]",
            [True, True, True, False, False, False],
            id="core-booleans",
        ),
        pytest.param("[null, Null, NULL, ~, ]", [None, None, None, None], id="core-nulls"),
        pytest.param("a:\nb: ~\n", {"a": None, "b": None}, id="empty-value-is-null"),
        pytest.param(
            "[0, 7, -3, +12, 0x1F, 0o17, 12345678901234567890]",
            [0, 7, -3, 12, 31, 15, 12345678901234567890],
            id="core-ints",
        ),
        pytest.param(
            "[1.5, -0.5, .5, 1e3, 1.10, 2.5E-2, 1.]",
            [1.5, -0.5, 0.5, 1000.0, 1.1, 0.025, 1.0],
            id="core-floats",
        ),
        pytest.param(
            "[2024-01-01, 12:30:00, 1_000, 2024-01-01T10:00:00Z, 1:20]",
            ["2024-01-01", "12:30:00", "1_000", "2024-01-01T10:00:00Z", "1:20"],
            id="yaml11-dates-times-sexagesimal-stay-strings",
        ),
        pytest.param("['0123', \"007\", !!str 0123]", ["0123", "007", "0123"], id="quoted-leading-zero"),
        pytest.param(
            "[!!int '42', !!float '1', !!bool 'true', !!null '', !!str 1.5]",
            [42, 1.0, True, None, "1.5"],
            id="explicit-core-tags",
        ),
        pytest.param("!!map {a: !!seq [x]}", {"a": ["x"]}, id="explicit-collection-tags"),
        pytest.param(
            "a: |\n  line1\n  line2\nb: >\n  folded\n  text\n",
            {"a": "line1\nline2\n", "b": "folded text\n"},
            id="block-scalars",
        ),
        pytest.param("'<<': 1", {"<<": 1}, id="quoted-merge-key-is-a-string"),
        pytest.param("a: 1\r\nb:\r\n  - x\r\n  - y\r\n", {"a": 1, "b": ["x", "y"]}, id="crlf"),
        pytest.param(b"\xef\xbb\xbfa: 1\n", {"a": 1}, id="utf8-bom-bytes"),
        pytest.param("\ufeffa: 1\n", {"a": 1}, id="bom-str"),
        pytest.param("name: caf\u00e9 \U0001f600".encode(), {"name": "caf\u00e9 \U0001f600"}, id="utf8-bytes"),
        pytest.param("~", None, id="explicit-null-document"),
        pytest.param("a: 'it''s {{ x }}'", {"a": "it's {{ x }}"}, id="template-text-is-a-string"),
    ],
)
def test_values_load(text: str | bytes, expected: object) -> None:
    assert load_yaml(text, "spec.yaml").data == expected


def test_result_types_are_plain_json() -> None:
    data = load_yaml("a: [1, 1.5, true, null, x, {b: 2}]", "spec.yaml").data
    assert [type(v) for v in data["a"]] == [int, float, bool, type(None), str, dict]
    assert type(data) is dict


# --------------------------------------------------------------------------------------------
# Problems


@pytest.mark.parametrize(
    ("text", "fragment", "line", "pointer"),
    [
        pytest.param("id: 0123\n", "leading zero", 1, "/id", id="leading-zero-int"),
        pytest.param("ids: [1, -007]\n", "leading zero", 1, "/ids/1", id="signed-leading-zero"),
        pytest.param("x: !!int 0123\n", "leading zero", 1, "/x", id="explicit-int-leading-zero"),
        pytest.param("a: 1\nx: .nan\n", "not valid JSON", 2, "/x", id="nan"),
        pytest.param("x: -.inf\n", "not valid JSON", 1, "/x", id="negative-inf"),
        pytest.param("x: 1e999\n", "too large", 1, "/x", id="float-overflow"),
        pytest.param(
            "x: !!python/object/apply:os.system [echo hi]\n",
            "tag not allowed",
            1,
            "/x",
            id="python-apply-tag",
        ),
        pytest.param("x: !!python/object:builtins.object {}\n", "tag not allowed", 1, "/x", id="python-object"),
        pytest.param("x: !!python/name:os.system\n", "tag not allowed", 1, "/x", id="python-name"),
        pytest.param("x: !!binary aGVsbG8=\n", "tag not allowed", 1, "/x", id="binary"),
        pytest.param("x: !!timestamp 2024-01-01\n", "tag not allowed", 1, "/x", id="timestamp"),
        pytest.param("x: !custom value\n", "tag not allowed", 1, "/x", id="custom-tag"),
        pytest.param("x: !!set {a, b}\n", "tag not allowed", 1, "/x", id="set"),
        pytest.param("x: !!omap [a: 1]\n", "tag not allowed", 1, "/x", id="omap"),
        pytest.param("x: ! text\n", "tag not allowed", 1, "/x", id="non-specific-tag"),
        pytest.param("x: !!str [a]\n", "tag not allowed", 1, "/x", id="str-tag-on-sequence"),
        pytest.param("x: !!int abc\n", "not a valid integer", 1, "/x", id="bad-explicit-int"),
        pytest.param("x: !!bool yes\n", "not a valid boolean", 1, "/x", id="yaml11-explicit-bool"),
        pytest.param("a: &anchor 1\n", "anchors are not allowed", 1, "/a", id="anchor"),
        pytest.param("a: 1\nb: *x\n", None, 2, "/b", id="alias-unknown-anchor"),
        pytest.param("base: {a: 1}\nc:\n  <<: {a: 2}\n", "merge keys", 3, "/c", id="merge-key"),
        pytest.param("a: 1\nb: 2\na: 3\n", "first defined at line 1", 3, "/a", id="duplicate-key"),
        pytest.param("1: x\n", "keys must be strings", 1, "", id="int-key"),
        pytest.param("null: x\n", "keys must be strings", 1, "", id="null-key"),
        pytest.param("true: x\n", "keys must be strings", 1, "", id="bool-key"),
        pytest.param("1.5: x\n", "keys must be strings", 1, "", id="float-key"),
        pytest.param("? [a, b]\n: x\n", "keys must be strings", 1, "", id="sequence-key"),
        pytest.param("? {a: 1}\n: x\n", "keys must be strings", 1, "", id="mapping-key"),
        pytest.param("? \n: x\n", "keys must be strings", 1, "", id="empty-key"),
        pytest.param("", "empty document", 1, "", id="empty-file"),
        pytest.param("# only a comment\n", "empty document", None, "", id="comment-only"),
        pytest.param("---\n", "empty document", None, "", id="bare-document-marker"),
        pytest.param("a: 1\n---\nb: 2\n", "more than one document", 2, "", id="multi-document"),
        pytest.param("a:\n\tb: 1\n", "syntax error", 2, None, id="tab-indentation"),
        pytest.param("a: [1, 2\n", "syntax error", None, None, id="unclosed-flow"),
        pytest.param("a: 'unterminated\n", "syntax error", None, None, id="unterminated-quote"),
        pytest.param('a: "bad \\q escape"\n', "syntax error", 1, None, id="bad-escape"),
        pytest.param("a: b: c\n", "syntax error", 1, None, id="nested-compact-mapping"),
        pytest.param("a: 1\n b: 2\n", "syntax error", 2, None, id="bad-indentation"),
        pytest.param("a: x\x00y\n", "U+0000", 1, None, id="nul-character"),
        pytest.param("a: \x1b[31m\n", "U+001B", 1, None, id="escape-character"),
    ],
)
def test_problems(text: str, fragment: str | None, line: int | None, pointer: str | None) -> None:
    problems = problems_of(text)
    assert len(problems) >= 1
    first = problems[0]
    if fragment is not None:
        assert fragment in messages(problems)
    if line is not None:
        assert first.line == line
    if pointer is not None:
        assert first.pointer == pointer
    assert all(p.line is None or p.line >= 1 for p in problems)


def test_tab_problem_has_a_hint() -> None:
    (problem,) = problems_of("a:\n\tb: 1\n")
    assert (problem.line, problem.column) == (2, 1)
    assert problem.hint and "spaces" in problem.hint


def test_syntax_error_is_one_problem_without_snippet() -> None:
    (problem,) = problems_of("a: 1\nsecret: [" + CANARY + ", \n")
    assert CANARY not in str(problem)
    assert "^" not in problem.message and "\n" not in problem.message


def test_all_problems_are_reported() -> None:
    problems = problems_of("a: 0123\nb: .nan\nc: !!binary aGk=\nd: &x 1\ne: *x\na: 2\n7: z\n")
    assert [p.pointer for p in problems] == ["/a", "/b", "/c", "/d", "/e", "/a", ""]
    assert [p.line for p in problems] == [1, 2, 3, 4, 5, 6, 7]
    assert all(p.column is not None for p in problems)


def test_duplicate_key_names_both_lines() -> None:
    (problem,) = problems_of("outer:\n  k: 1\n  other: 2\n  k: 3\n")
    assert problem.pointer == "/outer/k"
    assert (problem.line, problem.column) == (4, 3)
    assert "line 2" in str(problem) and "line 4" in str(problem)


def test_problem_count_is_capped() -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * 5000) + "]\n"
    problems = problems_of(text)
    assert len(problems) <= specfiles.MAX_PROBLEMS + 1
    assert "too many problems" in problems[-1].message


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"a: 1\nb: 2\na: {CANARY}\n", id="duplicate-key-value"),
        pytest.param(f"a: {CANARY}\na: {CANARY}\n", id="duplicate-key-both"),
        pytest.param(f"token: !!binary {CANARY}\n", id="binary-tag"),
        pytest.param(f"token: !secret {CANARY}\n", id="custom-tag"),
        pytest.param(f"token: &{CANARY} x\nother: *{CANARY}\n", id="anchor-name"),
        pytest.param(f"token: {CANARY}\n\tbad: 1\n", id="tab-after-secret"),
        pytest.param(f"token: '{CANARY}\n", id="unterminated-quote"),
        pytest.param(f'token: "{CANARY}\\q"\n', id="bad-escape"),
        pytest.param(f"token: !!int {CANARY}\n", id="explicit-int"),
        pytest.param(f"token: [{CANARY}\n", id="unclosed-flow"),
        pytest.param(f"token: {CANARY}\x07\n", id="control-char"),
        pytest.param(f"token: {CANARY}\n---\nx: 1\n", id="multi-doc"),
    ],
)
def test_messages_never_contain_values(text: str) -> None:
    with pytest.raises(SpecError) as info:
        load_yaml(text, "spec.yaml")
    assert CANARY not in str(info.value)
    assert CANARY not in repr(info.value.to_dict()).replace("/" + CANARY, "")


# --------------------------------------------------------------------------------------------
# Hostile sizes and shapes


def test_alias_bomb_is_refused_fast_and_small() -> None:
    tracemalloc.start()
    start = time.thread_time()
    with pytest.raises(SpecError) as info:
        load_yaml(ALIAS_BOMB, "bomb.yaml")
    elapsed = time.thread_time() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 5_000_000
    text = str(info.value)
    assert "anchors are not allowed" in text and "aliases are not allowed" in text


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("[" * 10_000 + "]" * 10_000, id="flow-sequence"),
        pytest.param("{a: " * 10_000 + "1" + "}" * 10_000, id="flow-mapping"),
        pytest.param("- " * 10_000 + "x\n", id="block-sequence"),
        pytest.param("".join(" " * i + "a:\n" for i in range(100)) + " " * 100 + "b: 1\n", id="block-mapping"),
        pytest.param("[" * 10_000, id="flow-unclosed"),
    ],
)
def test_deep_nesting_is_a_clean_spec_error(text: str, backend: type) -> None:
    start = time.thread_time()
    problems = problems_of(text)
    assert time.thread_time() - start < 2.0
    assert "nesting is deeper than 64 levels" in problems[-1].message


def test_depth_limit_is_exact() -> None:
    assert load_yaml("[" * 64 + "]" * 64, "spec.yaml").data is not None
    problems_of("[" * 65 + "]" * 65)
    assert load_yaml("[[[1]]]", "spec.yaml", max_depth=3).data == [[[1]]]
    problems_of("[[[1]]]", max_depth=2)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a: " + "x" * (5 * 1024 * 1024), id="5MB-str"),
        pytest.param(b"a: " + b"x" * (5 * 1024 * 1024), id="5MB-bytes"),
        pytest.param("a: " + "\u00e9" * (MAX_BYTES // 2), id="multibyte-over-limit"),
    ],
)
def test_size_cap(text: str | bytes) -> None:
    start = time.thread_time()
    (problem,) = problems_of(text)
    assert time.thread_time() - start < 0.5
    assert "larger than the limit" in problem.message


def test_size_cap_is_configurable() -> None:
    problems_of("a: 12345", max_bytes=4)
    assert load_yaml("a: 1", "spec.yaml", max_bytes=4).data == {"a": 1}


@pytest.mark.parametrize(
    ("raw", "line", "column"),
    [
        pytest.param(b"a: \xff\n", 1, 4, id="invalid-start-byte"),
        pytest.param(b"a: 1\nb: caf\xe9\n", 2, 7, id="latin-1"),
        pytest.param("a: 1\n".encode("utf-16"), 1, 1, id="utf-16"),
        pytest.param(b"a: \xe2\x82\n", 1, 4, id="truncated-sequence"),
    ],
)
def test_non_utf8_bytes(raw: bytes, line: int, column: int) -> None:
    (problem,) = problems_of(raw)
    assert "not valid UTF-8" in problem.message and "byte offset" in problem.message
    assert (problem.line, problem.column) == (line, column)


# --------------------------------------------------------------------------------------------
# Positions


LOCATE_DOC = """\
name: x
request:
  body:
    json:
      - first
      - {id: 7, "a/b": 1, "t~n": 2}
  empty: []
"""


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        pytest.param("", (1, 1), id="root"),
        pytest.param("/name", (1, 7), id="top-value"),
        pytest.param("/request", (3, 3), id="block-mapping-value"),
        pytest.param("/request/body/json", (5, 7), id="block-sequence"),
        pytest.param("/request/body/json/0", (5, 9), id="sequence-item"),
        pytest.param("/request/body/json/1/id", (6, 14), id="flow-mapping-value"),
        pytest.param("/request/body/json/1/a~1b", (6, 24), id="escaped-slash"),
        pytest.param("/request/body/json/1/t~0n", (6, 34), id="escaped-tilde"),
        pytest.param("/request/empty", (7, 10), id="empty-sequence"),
        pytest.param("/request/body/json/1/missing", (6, 9), id="missing-key-gives-parent"),
        pytest.param("/request/body/json/9", (5, 7), id="index-out-of-range-gives-parent"),
        pytest.param("/request/body/json/01", (5, 7), id="leading-zero-index-is-not-an-index"),
        pytest.param("/name/deeper", (1, 7), id="below-a-scalar"),
        pytest.param("not-a-pointer", (1, 1), id="malformed-pointer-gives-root"),
    ],
)
def test_locate(pointer: str, expected: tuple[int, int]) -> None:
    assert load_yaml(LOCATE_DOC, "op.yaml").locate(pointer) == expected


def test_locate_with_crlf_and_bom() -> None:
    doc = load_yaml(b"\xef\xbb\xbfa: 1\r\nb:\r\n  c: 2\r\n", "op.yaml")
    assert doc.locate("/b/c") == (3, 6)


def test_problem_helper() -> None:
    doc = load_yaml(LOCATE_DOC, "op.yaml")
    problem = doc.problem("/request/body/json/1/id", "must be a string", hint="quote it")
    assert problem == Problem("must be a string", "/request/body/json/1/id", "op.yaml", 6, 14, "quote it")
    assert str(problem) == "op.yaml:6:14 /request/body/json/1/id: must be a string (quote it)"


def test_document_without_positions() -> None:
    assert Document({"a": 1}, "x").locate("/a") == (None, None)


# --------------------------------------------------------------------------------------------
# Pointers


@pytest.mark.parametrize(
    ("parts", "pointer"),
    [
        pytest.param([], "", id="root"),
        pytest.param(["a", 0, "b"], "/a/0/b", id="mixed"),
        pytest.param(["a/b", "c~d", ""], "/a~1b/c~0d/", id="escapes-and-empty"),
        pytest.param(["~1"], "/~01", id="tilde-one-literal"),
    ],
)
def test_pointer_round_trip(parts: list[str | int], pointer: str) -> None:
    assert dump_pointer(parts) == pointer
    assert parse_pointer(pointer) == [str(p) for p in parts]


@pytest.mark.parametrize(
    "pointer",
    [pytest.param("a/b", id="no-leading-slash"), pytest.param("/a~2", id="bad-escape")],
)
def test_parse_pointer_rejects(pointer: str) -> None:
    with pytest.raises(ValueError):
        parse_pointer(pointer)


# --------------------------------------------------------------------------------------------
# Files


def test_load_yaml_file(tmp_path) -> None:
    path = tmp_path / "op.yaml"
    path.write_bytes(b"a:\r\n  b: 1\r\n")
    doc = load_yaml_file(path)
    assert doc.data == {"a": {"b": 1}} and doc.file == str(path)
    assert load_yaml_file(str(path), display="ops/op.yaml").file == "ops/op.yaml"
    assert load_yaml_file(path).locate("/a/b") == (2, 6)


class _FakeTraversable:
    """A minimal importlib.resources Traversable, like a resource inside a zipped package."""

    def __init__(self, content: bytes) -> None:
        self.content = content

    def open(self, mode: str = "r", *args: object, **kw: object) -> io.BytesIO:
        assert mode == "rb"
        return io.BytesIO(self.content)


Traversable.register(_FakeTraversable)


def test_load_yaml_file_traversable() -> None:
    doc = load_yaml_file(_FakeTraversable(b"a: 1\n"), display="pkg/op.yaml")
    assert (doc.data, doc.file) == ({"a": 1}, "pkg/op.yaml")


def test_load_yaml_file_package_resource() -> None:
    with pytest.raises(SpecError) as info:  # a real Traversable: this module is not YAML
        load_yaml_file(resources.files("relaykit").joinpath("errors.py"), display="errors.py")
    assert info.value.problems[0].file == "errors.py"


def test_file_size_cap_reads_little(tmp_path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: " + b"x" * (5 * 1024 * 1024))
    start = time.thread_time()
    with pytest.raises(SpecError) as info:
        load_yaml_file(path)
    assert time.thread_time() - start < 0.5
    assert "larger than the limit" in str(info.value)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(SpecError) as info:
        load_yaml_file(tmp_path / "nope.yaml")
    assert "cannot read file" in str(info.value)


# --------------------------------------------------------------------------------------------
# JSON


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('{"a": [1, 2.5, true, null, "x"]}', {"a": [1, 2.5, True, None, "x"]}, id="object"),
        pytest.param("[]", [], id="empty-array"),
        pytest.param('"just a string"', "just a string", id="scalar-root"),
        pytest.param('{"a":\t1,\r\n"b": "\\u00e9\\/"}', {"a": 1, "b": "\u00e9/"}, id="tabs-crlf-escapes"),
        pytest.param(b'\xef\xbb\xbf{"a": 1}', {"a": 1}, id="bom"),
        pytest.param('{"on": "0123", "yes": 1e3}', {"on": "0123", "yes": 1000.0}, id="no-yaml-surprises"),
    ],
)
def test_json_loads(text: str | bytes, expected: object) -> None:
    assert load_json(text, "s.json").data == expected


@pytest.mark.parametrize(
    ("text", "fragment", "line", "pointer"),
    [
        pytest.param('{"a": 1,\n "b": 2,\n "a": 3}', "first defined at line 1", 3, "/a", id="duplicate-key"),
        pytest.param('{"x": {"k": 1, "k": 2}}', "duplicate key", 1, "/x/k", id="nested-duplicate"),
        pytest.param('{"a": NaN}', "NaN", 1, "/a", id="nan"),
        pytest.param("[1, Infinity, -Infinity]", "NaN and Infinity", 1, "/1", id="infinity"),
        pytest.param('{"a": 1,}', "syntax error", 1, "", id="trailing-comma"),
        pytest.param("{'a': 1}", "syntax error", 1, "", id="single-quotes"),
        pytest.param('{"a": 1} {"b": 2}', "syntax error", 1, "", id="two-documents"),
        pytest.param("", "empty document", None, "", id="empty"),
        pytest.param("[" * 70 + "]" * 70, "nesting is deeper", 1, None, id="too-deep"),
        pytest.param("[" * 10_000 + "]" * 10_000, "nesting is deeper", None, "", id="very-deep"),
        pytest.param(b'{"a": "\xff"}', "not valid UTF-8", 1, "", id="non-utf8"),
    ],
)
def test_json_problems(text: str | bytes, fragment: str, line: int | None, pointer: str | None) -> None:
    with pytest.raises(SpecError) as info:
        load_json(text, "s.json")
    first = info.value.problems[0]
    assert fragment in str(info.value)
    assert first.line == line
    if pointer is not None:
        assert first.pointer == pointer


def test_json_reports_every_problem() -> None:
    with pytest.raises(SpecError) as info:
        load_json('{"a": NaN, "b": {"c": 1, "c": Infinity}}', "s.json")
    assert [p.pointer for p in info.value.problems] == ["/a", "/b/c", "/b/c"]


def test_json_messages_never_contain_values() -> None:
    texts = (f'{{"a": "{CANARY}", "a": "{CANARY}"}}', f'{{"a": "{CANARY}" "b"}}', f'{{"a": "{CANARY}\\q"}}')
    for text in texts:
        with pytest.raises(SpecError) as info:
            load_json(text, "s.json")
        assert CANARY not in str(info.value)


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        pytest.param("", (1, 1), id="root"),
        pytest.param("/a", (2, 8), id="object-value"),
        pytest.param("/a/b/1", (3, 14), id="array-item"),
        pytest.param("/a/b/1/c", (3, 20), id="nested"),
        pytest.param("/a/e", (4, 10), id="empty-array"),
        pytest.param("/f/1", (5, 13), id="after-empty-containers"),
        pytest.param("/g", (6, 8), id="last"),
        pytest.param("/a/b/7", (3, 10), id="missing-gives-parent"),
    ],
)
def test_json_locate(pointer: str, expected: tuple[int, int]) -> None:
    text = '{\n  "a": {\n    "b": [1, {"c": "x"}],\n    "e": []},\n  "f": [[], {}],\n  "g": null\n}\n'
    assert load_json(text, "s.json").locate(pointer) == expected


def test_load_json_file(tmp_path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"a": {"b": 1}}')
    doc = load_json_file(path, display="schemas/s.json")
    assert (doc.data, doc.file, doc.locate("/a/b")) == ({"a": {"b": 1}}, "schemas/s.json", (1, 13))


# --------------------------------------------------------------------------------------------
# Property: positions of every node, for arbitrary documents


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)


def _pointers(value: object, prefix: str = "") -> list[tuple[str, object]]:
    found = [(prefix, value)]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _pointers(child, prefix + dump_pointer([key]))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _pointers(child, f"{prefix}/{index}")
    return found


def _char_at(text: str, line: int, column: int) -> str:
    return text.split("\n")[line - 1][column - 1]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values, indent=st.sampled_from([None, 0, 2]), ascii_only=st.booleans())
def test_json_positions_property(value: object, indent: int | None, ascii_only: bool) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    doc = load_json(text, "p.json")
    assert doc.data == value
    for pointer, node in _pointers(value):
        line, column = doc.locate(pointer)
        assert line is not None and column is not None
        first = json.dumps(node, ensure_ascii=ascii_only)[0]
        assert _char_at(text, line, column) == first, pointer


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.recursive(
        st.integers() | st.text(alphabet="abcxyz _-", min_size=1).map(lambda s: "k" + s),
        lambda children: (
            st.lists(children, min_size=1, max_size=3)
            | st.dictionaries(st.text(alphabet="abc", min_size=1, max_size=3), children, min_size=1, max_size=3)
        ),
        max_leaves=12,
    ),
    flow=st.sampled_from([False, None, True]),
)
def test_yaml_positions_property(value: object, flow: bool | None) -> None:
    text = yaml.safe_dump(value, default_flow_style=flow, width=10_000)
    doc = load_yaml(text, "p.yaml")
    assert doc.data == value
    for pointer, node in _pointers(value):
        line, column = doc.locate(pointer)
        assert line is not None and column is not None
        if not isinstance(node, (dict, list)) or flow is True:
            expected = {dict: "{", list: "["}.get(type(node), str(node)[0])
            assert _char_at(text, line, column) in (expected, "'", '"'), pointer
