"""Tests for relaykit.templates: the `{{ expr }}` expression language."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import pytest
from relaykit.errors import SpecError
from relaykit.specs.documents import load_yaml
from relaykit.templates.compiled import Compiled, compile_value, render_string_once
from relaykit.templates.filters import (
    MISSING,
    FilterError,
    FilterRegistry,
    TemplateRenderError,
    default_filters,
    to_text,
)

CANARY = "sk_live_CANARY"
ROOTS = ("input", "connection", "region")

CONTEXT: dict[str, Any] = {
    "input": {
        "identifier": "ada@example.com",
        "name": "signed_up",
        "data": {"plan": "pro", "seats": 3},
        "count": 478,
        "count_text": "478",
        "ratio": 0.5,
        "flag": True,
        "off": False,
        "nothing": None,
        "tags": ["a", "b", "c"],
        "people": [{"id": 1, "email": "x@example.com"}, {"id": 2}],
        "a-b": "dashed",
        "with space": "spaced",
        "ts": 1_700_000_000,
        "ts_ms": 1_700_000_000_000,
        "when": "2023-11-14T22:13:20Z",
        "when_offset": "2023-11-15T00:13:20+02:00",
        "naive": "2023-11-14T22:13:20",
        "padded": "  Mixed Case  ",
        "hostile": "a\"b}}c\n{{ input.count }}'",
        "secret": CANARY,
    },
    "region": "eu",
}


def compile_(value: Any, **kw: Any) -> Compiled:
    kw.setdefault("roots", ROOTS)
    kw.setdefault("filters", default_filters())
    return compile_value(value, **kw)


def render(value: Any, context: dict[str, Any] | None = None, **kw: Any) -> Any:
    return compile_(value).render(CONTEXT if context is None else context, **kw)


# --------------------------------------------------------------------------------------------
# Whole values keep their type; everything else is text


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param("{{ input.data }}", {"plan": "pro", "seats": 3}, id="dict-stays-dict"),
        pytest.param("{{ input.count }}", 478, id="int-stays-int"),
        pytest.param("{{ input.count_text }}", "478", id="numeric-string-stays-string"),
        pytest.param("{{ input.ratio }}", 0.5, id="float"),
        pytest.param("{{ input.flag }}", True, id="bool"),
        pytest.param("{{ input.nothing }}", None, id="explicit-null"),
        pytest.param("{{ input.tags }}", ["a", "b", "c"], id="list"),
        pytest.param("{{input.count}}", 478, id="no-spaces"),
        pytest.param("{{\n  input.count\n}}", 478, id="newlines-inside-braces"),
        pytest.param("{{ input.people[0].email }}", "x@example.com", id="index-then-key"),
        pytest.param("{{ input.people[1].id }}", 2, id="second-item"),
        pytest.param("{{ input['a-b'] }}", "dashed", id="quoted-key-single"),
        pytest.param('{{ input["with space"] }}', "spaced", id="quoted-key-double"),
        pytest.param("{{ input.a-b }}", "dashed", id="dash-in-name"),
        pytest.param("{{ region }}", "eu", id="bare-root"),
        pytest.param("{{ 'text' }}", "text", id="string-literal"),
        pytest.param('{{ "say \\"hi\\"\\n" }}', 'say "hi"\n', id="escapes"),
        pytest.param("{{ 42 }}", 42, id="int-literal"),
        pytest.param("{{ -1.5e2 }}", -150.0, id="float-literal"),
        pytest.param("{{ true }}", True, id="true-literal"),
        pytest.param("{{ null }}", None, id="null-literal"),
        pytest.param("{{ '{{' }}", "{{", id="literal-braces"),
        pytest.param("{{ '}}' }}", "}}", id="closing-braces-in-string"),
    ],
)
def test_whole_value(template: str, expected: Any) -> None:
    result = render(template)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param("id-{{ input.count }}", "id-478", id="int"),
        pytest.param("{{ input.count }} ", "478 ", id="trailing-space-makes-text"),
        pytest.param(" {{ input.count }}", " 478", id="leading-space-makes-text"),
        pytest.param("{{ input.name }}/{{ input.count }}", "signed_up/478", id="two-expressions"),
        pytest.param("r={{ input.ratio }}", "r=0.5", id="float"),
        pytest.param("{{ input.flag }},{{ input.off }}", "true,false", id="bools"),
        pytest.param("[{{ input.nothing }}]", "[]", id="null-is-empty"),
        pytest.param("d={{ input.data }}", 'd={"plan":"pro","seats":3}', id="dict-compact-json"),
        pytest.param("t={{ input.tags }}", 't=["a","b","c"]', id="list-compact-json"),
        pytest.param("{{ '{{' }} not a template }}", "{{ not a template }}", id="escaped-open"),
        pytest.param("a }} b { c", "a }} b { c", id="stray-braces-are-text"),
        pytest.param("no templates", "no templates", id="plain"),
        pytest.param("", "", id="empty"),
    ],
)
def test_interpolation(template: str, expected: str) -> None:
    assert render(template) == expected


def test_non_string_scalars_are_constants() -> None:
    value = {"a": 1, "b": 2.5, "c": True, "d": None, "e": [1, "x"]}
    compiled = compile_(value)
    assert compiled.is_constant
    assert compiled.render({}) == value
    assert compiled.render({}) is not compiled.render({})  # containers are rebuilt per render


# --------------------------------------------------------------------------------------------
# Absent values


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param({"a": "{{ input.gone }}", "b": 1}, {"b": 1}, id="mapping-key-dropped"),
        pytest.param({"a": "{{ input.nothing }}"}, {"a": None}, id="null-is-not-absent"),
        pytest.param(["{{ input.gone }}", "x", "{{ input.count }}"], ["x", 478], id="list-item-dropped"),
        pytest.param({"a": {"b": "{{ input.gone }}"}}, {"a": {}}, id="nested-mapping-kept-empty"),
        pytest.param({"a": "{{ input.tags[3] }}"}, {}, id="index-out-of-range"),
        pytest.param({"a": "{{ input.count.deeper }}"}, {}, id="key-below-a-scalar"),
        pytest.param({"a": "{{ input.data[0] }}"}, {}, id="index-into-mapping"),
        pytest.param({"a": "{{ input.tags.length }}"}, {}, id="key-into-list"),
        pytest.param({"a": "{{ input.name[0] }}"}, {}, id="strings-are-not-indexable"),
        pytest.param({"a": "{{ connection.site }}"}, {}, id="root-absent-from-context"),
        pytest.param({"a": "{{ input.gone | default('x') }}"}, {"a": "x"}, id="default-on-absent"),
        pytest.param({"a": "{{ input.nothing | default(0) }}"}, {"a": 0}, id="default-on-null"),
        pytest.param({"a": "{{ input.count | default(0) }}"}, {"a": 478}, id="default-not-needed"),
        pytest.param({"a": "{{ input.gone | upper | default('N') }}"}, {"a": "N"}, id="absent-skips-filters"),
        pytest.param({"a": "{{ input.gone | upper }}"}, {}, id="absent-through-filter-stays-absent"),
        pytest.param({"a": "x{{ input.gone | default('') }}y"}, {"a": "xy"}, id="default-in-text"),
    ],
)
def test_absent_values(value: Any, expected: Any) -> None:
    assert render(value) == expected


def test_whole_template_absent_returns_missing() -> None:
    assert render("{{ input.gone }}") is MISSING
    assert not MISSING and repr(MISSING) == "MISSING"


def test_absent_inside_text_is_a_render_error() -> None:
    compiled = compile_({"request": {"path": "/v1/customers/{{ input.gone }}"}}, pointer="/op")
    with pytest.raises(TemplateRenderError) as info:
        compiled.render(CONTEXT)
    assert info.value.pointer == "/op/request/path"
    assert "input.gone is absent" in info.value.reason


# --------------------------------------------------------------------------------------------
# Filters


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param("{{ input.identifier | urlencode }}", "ada%40example.com", id="urlencode-email"),
        pytest.param("{{ 'a/b?c#d e' | urlencode }}", "a%2Fb%3Fc%23d%20e", id="urlencode-one-segment"),
        pytest.param("{{ '..' | urlencode }}", "..", id="urlencode-dots-stay"),
        pytest.param("{{ input.count | urlencode }}", "478", id="urlencode-int"),
        pytest.param("{{ input.data | json }}", '{"plan":"pro","seats":3}', id="json"),
        pytest.param("{{ 'é' | json }}", '"é"', id="json-unicode"),
        pytest.param("{{ input.count | string }}", "478", id="string-int"),
        pytest.param("{{ input.flag | string }}", "true", id="string-bool"),
        pytest.param("{{ input.count_text | int }}", 478, id="int-from-text"),
        pytest.param("{{ 4.0 | int }}", 4, id="int-from-whole-float"),
        pytest.param("{{ input.count | float }}", 478.0, id="float-from-int"),
        pytest.param("{{ '2.5' | float }}", 2.5, id="float-from-text"),
        pytest.param("{{ 'TRUE' | bool }}", True, id="bool-from-word"),
        pytest.param("{{ 0 | bool }}", False, id="bool-from-zero"),
        pytest.param("{{ input.padded | lower }}", "  mixed case  ", id="lower"),
        pytest.param("{{ input.padded | upper }}", "  MIXED CASE  ", id="upper"),
        pytest.param("{{ input.padded | trim }}", "Mixed Case", id="trim"),
        pytest.param("{{ input.padded | trim | lower }}", "mixed case", id="chain"),
        pytest.param("{{ input.ts | unix_seconds }}", 1_700_000_000, id="unix-seconds-int"),
        pytest.param("{{ 1700000000.5 | unix_seconds }}", 1_700_000_000.5, id="unix-seconds-float"),
        pytest.param("{{ input.when | unix_seconds }}", 1_700_000_000, id="unix-seconds-iso-z"),
        pytest.param("{{ input.when_offset | unix_seconds }}", 1_700_000_000, id="unix-seconds-iso-offset"),
        pytest.param("{{ '2023-11-14T22:13:20.999+0000' | unix_seconds }}", 1_700_000_000, id="unix-fraction"),
        pytest.param("{{ input.ts | iso8601 }}", "2023-11-14T22:13:20Z", id="iso8601-from-seconds"),
        pytest.param("{{ input.when_offset | iso8601 }}", "2023-11-15T00:13:20+02:00", id="iso8601-passthrough"),
        pytest.param("{{ input.tags | length }}", 3, id="length-list"),
        pytest.param("{{ input.name | length }}", 9, id="length-string"),
        pytest.param("{{ input.data | length }}", 2, id="length-mapping"),
        pytest.param("{{ input.tags | join(',') }}", "a,b,c", id="join"),
        pytest.param("{{ input.data | keys }}", ["plan", "seats"], id="keys"),
        pytest.param("{{ input.data | keys | join('+') }}", "plan+seats", id="keys-join"),
    ],
)
def test_filters(template: str, expected: Any) -> None:
    result = render(template)
    assert result == expected
    assert type(result) is type(expected)


def test_unix_seconds_accepts_aware_datetime_objects() -> None:
    context = {"input": {"at": datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)}}
    assert render("{{ input.at | unix_seconds }}", context) == 1_700_000_000


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        pytest.param("{{ input.ts_ms | unix_seconds }}", "looks like milliseconds", id="unix-milliseconds"),
        pytest.param("{{ input.ts_ms | iso8601 }}", "looks like milliseconds", id="iso8601-milliseconds"),
        pytest.param("{{ input.naive | unix_seconds }}", "no timezone", id="unix-naive-text"),
        pytest.param("{{ input.naive | iso8601 }}", "no timezone", id="iso8601-naive-text"),
        pytest.param("{{ '2024-01-01' | unix_seconds }}", "ISO-8601", id="date-only"),
        pytest.param("{{ input.flag | unix_seconds }}", "unix seconds", id="unix-bool"),
        pytest.param("{{ '2024-02-30T00:00:00Z' | unix_seconds }}", "out of range", id="impossible-date"),
        pytest.param("{{ input.name | int }}", "expected an integer", id="int-from-word"),
        pytest.param("{{ 4.5 | int }}", "fractional", id="int-from-fraction"),
        pytest.param("{{ input.flag | int }}", "boolean", id="int-from-bool"),
        pytest.param("{{ input.name | float }}", "expected a number", id="float-from-word"),
        pytest.param("{{ 'maybe' | bool }}", "expected a boolean", id="bool-from-word"),
        pytest.param("{{ input.count | lower }}", "expected a string", id="lower-int"),
        pytest.param("{{ input.count | length }}", "expected a string, list or mapping", id="length-int"),
        pytest.param("{{ input.name | join(',') }}", "expected a list", id="join-string"),
        pytest.param("{{ input.tags | join(1) }}", "separator", id="join-int-separator"),
        pytest.param("{{ input.tags | keys }}", "expected a mapping", id="keys-list"),
    ],
)
def test_filter_failures(template: str, fragment: str) -> None:
    compiled = compile_({"field": template})
    with pytest.raises(TemplateRenderError) as info:
        compiled.render(CONTEXT)
    assert info.value.pointer == "/field"
    assert fragment in info.value.reason


def test_naive_datetime_object_refused() -> None:
    context = {"input": {"at": datetime(2023, 11, 14, 22, 13, 20)}}
    with pytest.raises(TemplateRenderError, match="no timezone"):
        render("{{ input.at | unix_seconds }}", context)


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("{{ input.secret | int }}", id="int"),
        pytest.param("{{ input.secret | float }}", id="float"),
        pytest.param("{{ input.secret | unix_seconds }}", id="unix-seconds"),
        pytest.param("{{ input.secret | iso8601 }}", id="iso8601"),
        pytest.param("{{ input.secret | bool }}", id="bool"),
        pytest.param("{{ input.secret | keys }}", id="keys"),
        pytest.param("{{ input.secret | python_int }}", id="third-party-filter"),
        pytest.param("x{{ input.gone }}{{ input.secret }}", id="absent-in-text"),
    ],
)
def test_render_errors_never_contain_the_value(template: str) -> None:
    filters = default_filters()
    filters.add("python_int", lambda v: int(v))  # Python's own message would quote the value
    compiled = compile_value({"f": template}, roots=ROOTS, filters=filters)
    with pytest.raises(TemplateRenderError) as info:
        compiled.render(CONTEXT)
    assert CANARY not in str(info.value)


def test_json_filter_refuses_nan() -> None:
    with pytest.raises(TemplateRenderError, match="not valid JSON"):
        render("{{ input.x | json }}", {"input": {"x": float("nan")}})


def test_registry() -> None:
    filters = default_filters()
    assert {"default", "urlencode", "json", "unix_seconds", "iso8601", "join", "keys"} <= set(filters.names())
    filters.add("shout", lambda value, suffix="!": str(value).upper() + suffix)
    assert render_string_once("{{ input.name | shout }}", CONTEXT, filters) == "SIGNED_UP!"
    assert render_string_once("{{ input.name | shout('?') }}", CONTEXT, filters) == "SIGNED_UP?"
    assert filters.get("shout") is not None and filters.get("nope") is None
    assert "shout" not in default_filters()  # a fresh registry each time
    with pytest.raises(ValueError, match="already registered"):
        filters.add("shout", str.upper)
    with pytest.raises(ValueError, match="invalid filter name"):
        filters.add("bad name", str.upper)


def test_filter_accepting_missing() -> None:
    filters = FilterRegistry()
    filters.add("is_absent", lambda value: value is MISSING, accepts_missing=True)
    compiled = compile_value("{{ input.gone | is_absent }}", roots=ROOTS, filters=filters)
    assert compiled.render(CONTEXT) is True


def test_filter_error_message_is_shown() -> None:
    def strict(value: Any) -> Any:
        raise FilterError("must be a customer id")

    filters = FilterRegistry()
    filters.add("strict", strict)
    with pytest.raises(TemplateRenderError, match="filter 'strict': must be a customer id"):
        compile_value("{{ input.name | strict }}", roots=ROOTS, filters=filters).render(CONTEXT)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param("s", "s", id="str"),
        pytest.param(True, "true", id="true"),
        pytest.param(None, "", id="none"),
        pytest.param(10**20, "100000000000000000000", id="big-int"),
        pytest.param({"k": [1, None]}, '{"k":[1,null]}', id="compact-json"),
    ],
)
def test_to_text(value: Any, text: str) -> None:
    assert to_text(value) == text


# --------------------------------------------------------------------------------------------
# Hostile templates stay data


@pytest.mark.parametrize(
    "value",
    [
        pytest.param('"', id="quote"),
        pytest.param("}}", id="closing-braces"),
        pytest.param("{{ input.secret }}", id="template-text"),
        pytest.param("line1\nline2\r\n", id="newlines"),
        pytest.param("{0.__class__}", id="format-string"),
        pytest.param('", "admin": true, "x": "', id="json-injection"),
    ],
)
def test_rendered_values_are_never_reparsed(value: str) -> None:
    context = {"input": {"v": value, "secret": CANARY}}
    compiled = compile_({"whole": "{{ input.v }}", "text": "<{{ input.v }}>", "json": "{{ input | json }}"})
    result = compiled.render(context)
    assert result["whole"] == value
    assert result["text"] == f"<{value}>"
    assert json.loads(result["json"]) == context["input"]
    assert CANARY not in result["whole"] + result["text"]


def test_hostile_context_value_stays_verbatim() -> None:
    assert render("{{ input.hostile }}") == CONTEXT["input"]["hostile"]
    assert render("x{{ input.hostile }}x") == "x" + CONTEXT["input"]["hostile"] + "x"


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("{{ input.__class__ }}", id="dunder-class"),
        pytest.param("{{ input.__init__.__globals__ }}", id="dunder-globals"),
        pytest.param("{{ input.items }}", id="dict-method-name"),
        pytest.param("{{ input.tags.__len__ }}", id="list-dunder"),
        pytest.param("{{ input.name.upper }}", id="str-method-name"),
    ],
)
def test_attribute_names_are_only_keys(template: str) -> None:
    class Obj:
        items = name = tags = "attribute"

    assert render(template) is MISSING
    assert render(template, {"input": Obj()}) is MISSING  # objects are opaque: no getattr
    assert render(template, {"input": {"__class__": "k", "__init__": {"__globals__": "g"}, "items": 1}}) in (
        "k",
        "g",
        1,
        MISSING,
    )


# --------------------------------------------------------------------------------------------
# Compile-time problems


@pytest.mark.parametrize(
    ("template", "fragment", "hint"),
    [
        pytest.param("{{ ''.__class__ }}", "expected '|' or '}}', found '.'", None, id="attribute-on-literal"),
        pytest.param("{{ input.x", "'{{' has no closing '}}'", None, id="unclosed"),
        pytest.param("{{ input.x }", "single '}'", None, id="single-close"),
        pytest.param("{{ input.x } }}", "single '}'", None, id="lone-brace"),
        pytest.param("{{ }}", "empty expression", None, id="empty"),
        pytest.param("{{ input. }}", "expected a key name after '.'", None, id="dot-without-name"),
        pytest.param("{{ input.0 }}", "expected a key name after '.'", None, id="dot-number"),
        pytest.param("{{ input[-1] }}", "list index or a quoted key", None, id="negative-index"),
        pytest.param("{{ input[x] }}", "list index or a quoted key", None, id="bare-name-index"),
        pytest.param("{{ input[0 }}", "expected ']'", None, id="unclosed-index"),
        pytest.param("{{ input.x | }}", "filter name", None, id="pipe-without-filter"),
        pytest.param("{{ input.x | default( }}", "expected a literal", None, id="unclosed-args"),
        pytest.param("{{ input.x | default(input.y) }}", "expected a literal", None, id="path-as-argument"),
        pytest.param("{{ input.x + 1 }}", "unexpected character", None, id="arithmetic"),
        pytest.param("{{ input.x() }}", "expected '|' or '}}'", None, id="call"),
        pytest.param("{{ 'abc }}", "unterminated string", None, id="unterminated-string"),
        pytest.param("{{ 'a\\q' }}", "unknown escape", None, id="bad-escape"),
        pytest.param("{{ 1abc }}", "malformed number", None, id="bad-number"),
        pytest.param("{{ input.x input.y }}", "found a name", None, id="two-paths"),
        pytest.param("{{ inptu.name }}", "unknown variable 'inptu'", "did you mean 'input'?", id="root-typo"),
        pytest.param("{{ secrets.key }}", "unknown variable 'secrets'", "known variables", id="unknown-root"),
        pytest.param("{{ input.x | lowr }}", "unknown filter 'lowr'", "did you mean 'lower'?", id="filter-typo"),
        pytest.param("{{ input.x | eval }}", "unknown filter 'eval'", "known filters", id="unknown-filter"),
        pytest.param("{{ input.x | join }}", "takes 1 argument, got 0", None, id="too-few-args"),
        pytest.param("{{ input.x | upper('a') }}", "takes 0 arguments, got 1", None, id="too-many-args"),
        pytest.param("{{ input.x | attr('format') }}", "unknown filter 'attr'", None, id="jinja-attr"),
        pytest.param("{{ range(10) }}", "expected '|' or '}}'", None, id="range-call"),
    ],
)
def test_compile_problems(template: str, fragment: str, hint: str | None) -> None:
    with pytest.raises(SpecError) as info:
        compile_({"request": {"path": template}}, file="op.yaml", pointer="/x", locate=lambda p: (7, 9))
    (problem,) = info.value.problems
    assert fragment in problem.message
    assert (problem.file, problem.line, problem.column, problem.pointer) == ("op.yaml", 7, 9, "/x/request/path")
    if hint is not None:
        assert problem.hint is not None and hint in problem.hint


def test_syntax_error_offset_is_reported() -> None:
    with pytest.raises(SpecError) as info:
        compile_("abc {{ input.x | }}")
    assert "at character 18" in info.value.problems[0].message


def test_all_problems_collected_with_yaml_positions() -> None:
    doc = load_yaml(
        "request:\n"
        "  path: /v1/{{ inptu.id }}\n"
        "  body:\n"
        "    name: '{{ input.name | lowr }}'\n"
        "    ok: '{{ input.name }}'\n"
        "    list: [x, '{{ input. }}']\n",
        "op.yaml",
    )
    with pytest.raises(SpecError) as info:
        compile_(doc.data["request"], file=doc.file, pointer="/request", locate=doc.locate)
    got = [(p.pointer, p.line, p.column) for p in info.value.problems]
    assert got == [
        ("/request/path", 2, 9),
        ("/request/body/name", 4, 11),
        ("/request/body/list/1", 6, 15),
    ]
    assert "op.yaml:2:9 /request/path: unknown variable 'inptu'" in str(info.value)


def test_problem_messages_do_not_quote_templates() -> None:
    with pytest.raises(SpecError) as info:
        compile_({"a": f"{CANARY} {{{{ input.x | nope }}}}", "b": f"{{{{ '{CANARY}' . }}}}"})
    assert CANARY not in str(info.value)


# --------------------------------------------------------------------------------------------
# encode hook, references, constants


def segment(value: Any, pointer: str) -> str:
    if isinstance(value, (dict, list)):
        raise TemplateRenderError(pointer, "a path segment must be a scalar")
    return quote(to_text(value), safe="")


@pytest.mark.parametrize(
    ("template", "context", "expected"),
    [
        pytest.param(
            "/v1/customers/{{ input.id }}/events",
            {"id": "a/b?c"},
            "/v1/customers/a%2Fb%3Fc/events",
            id="segment-in-text",
        ),
        pytest.param("{{ input.id }}", {"id": "ada@example.com"}, "ada%40example.com", id="whole-value"),
        pytest.param("/x/{{ input.id }}", {"id": 7}, "/x/7", id="int"),
        pytest.param("/x/{{ input.id }}", {"id": True}, "/x/true", id="bool"),
        pytest.param(
            "/x/{{ input.id }}", {"id": "{{ input.id }}"}, "/x/%7B%7B%20input.id%20%7D%7D", id="template-text-value"
        ),
        pytest.param("/x/{{ input.id }}", {"id": ".."}, "/x/..", id="dot-dot-left-to-caller"),
        pytest.param("{{ input.gone }}", {}, MISSING, id="whole-missing-not-encoded"),
    ],
)
def test_encode_hook(template: str, context: dict[str, Any], expected: Any) -> None:
    assert render(template, {"input": context}, encode=segment) == expected


def test_encode_hook_gets_pointer_and_raw_value() -> None:
    seen: list[tuple[Any, str]] = []

    def record(value: Any, pointer: str) -> str:
        seen.append((value, pointer))
        return "E"

    compiled = compile_({"path": "/a/{{ input.count }}/{{ input.flag }}", "whole": "{{ input.data }}"}, pointer="/r")
    assert compiled.render(CONTEXT, encode=record) == {"path": "/a/E/E", "whole": "E"}
    assert seen == [(478, "/r/path"), (True, "/r/path"), ({"plan": "pro", "seats": 3}, "/r/whole")]


def test_encode_hook_can_refuse() -> None:
    with pytest.raises(TemplateRenderError, match="scalar"):
        render("/x/{{ input.data }}", encode=segment)


def test_references() -> None:
    compiled = compile_(
        {
            "a": "{{ input.people[0].email }}",
            "b": ["x{{ connection.site_id }}", "{{ region }}"],
            "c": "{{ input['a-b'] | default('z') }}",
            "d": "{{ 'literal' }}",
            "e": 5,
        }
    )
    assert compiled.references() == {
        ("input", "people", 0, "email"),
        ("connection", "site_id"),
        ("region",),
        ("input", "a-b"),
    }
    assert not compiled.is_constant
    compiled.references().clear()  # a copy: callers cannot change the compiled state
    assert len(compiled.references()) == 4


@pytest.mark.parametrize(
    ("value", "constant"),
    [
        pytest.param({"a": 1, "b": ["x", {"c": None}]}, True, id="nested-constants"),
        pytest.param("plain {text}", True, id="plain-string"),
        pytest.param(3, True, id="scalar"),
        pytest.param({"a": ["{{ 'x' }}"]}, False, id="literal-expression"),
        pytest.param({"a": {"b": "{{ input.x }}"}}, False, id="nested-expression"),
    ],
)
def test_is_constant(value: Any, constant: bool) -> None:
    compiled = compile_(value)
    assert compiled.is_constant is constant
    if constant:
        assert compiled.render({}) == value


def test_keys_are_never_templates() -> None:
    assert render({"{{ input.name }}": "{{ input.count }}"}) == {"{{ input.name }}": 478}


def test_context_can_be_any_mapping() -> None:
    from types import MappingProxyType

    context = MappingProxyType({"input": MappingProxyType({"x": 1})})
    assert render({"a": "{{ input.x }}", "b": "{{ input.y }}"}, context) == {"a": 1}  # type: ignore[arg-type]
