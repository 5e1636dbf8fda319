"""The `if:` condition language: parsing, semantics and load-time errors, table-driven."""

from __future__ import annotations

import pytest
from relaykit.automation.conditions import ConditionError, compile_condition
from relaykit.errors import SpecError
from relaykit.templates.filters import default_filters

ROOTS = ("inputs", "steps", "item", "index")
CTX = {
    "inputs": {"plan": "pro", "count": 3, "zero": 0, "flag": True, "off": False, "none": None, "empty": "",
               "tags": ["a", "b"], "attrs": {"x": 1}, "email": "ada@example.com", "price": 2.5,
               "a-b": "dash", "nested": {"list": [{"v": 10}]}},
    "steps": {"upsert": {"ok": True, "status": 200, "output": {"id": "42"}},
              "failed": {"ok": False, "status": 500, "output": None}},
    "item": {"name": "signed_up"},
    "index": 2,
}


def evaluate(text, ctx=CTX):
    return compile_condition(text, roots=ROOTS, filters=default_filters()).evaluate(ctx)


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("inputs.plan == 'pro'", True, id="eq-string"),
    pytest.param('inputs.plan == "free"', False, id="eq-string-false"),
    pytest.param("inputs.plan != 'free'", True, id="ne"),
    pytest.param("inputs.count > 2", True, id="gt"),
    pytest.param("inputs.count >= 3", True, id="ge"),
    pytest.param("inputs.count < 3", False, id="lt"),
    pytest.param("inputs.count <= 3", True, id="le"),
    pytest.param("inputs.price < 3", True, id="float-int"),
    pytest.param("'abc' < 'abd'", True, id="string-order"),
    pytest.param("inputs.flag", True, id="truthy-true"),
    pytest.param("inputs.off", False, id="truthy-false"),
    pytest.param("inputs.zero", False, id="truthy-zero"),
    pytest.param("inputs.empty", False, id="truthy-empty-string"),
    pytest.param("inputs.none", False, id="truthy-null"),
    pytest.param("inputs.missing", False, id="truthy-absent"),
    pytest.param("inputs.tags", True, id="truthy-list"),
    pytest.param("not inputs.flag", False, id="not"),
    pytest.param("not not inputs.flag", True, id="not-not"),
    pytest.param("inputs.flag and inputs.count > 1", True, id="and"),
    pytest.param("inputs.off and inputs.count > 1", False, id="and-false"),
    pytest.param("inputs.off or inputs.count > 1", True, id="or"),
    pytest.param("inputs.off or inputs.zero", False, id="or-false"),
    pytest.param("not inputs.off and inputs.flag", True, id="not-binds-tighter"),
    pytest.param("inputs.off and inputs.flag or inputs.flag", True, id="and-before-or"),
    pytest.param("inputs.off and (inputs.flag or inputs.flag)", False, id="parens"),
    pytest.param("'a' in inputs.tags", True, id="in-list"),
    pytest.param("'c' in inputs.tags", False, id="in-list-false"),
    pytest.param("'c' not in inputs.tags", True, id="not-in"),
    pytest.param("inputs.plan in ['pro', 'team']", True, id="in-literal-list"),
    pytest.param("inputs.plan in []", False, id="in-empty-list"),
    pytest.param("'@example' in inputs.email", True, id="substring"),
    pytest.param("'x' in inputs.attrs", True, id="key-in-mapping"),
    pytest.param("'y' in inputs.attrs", False, id="key-not-in-mapping"),
    pytest.param("'a' in inputs.missing", False, id="in-absent"),
    pytest.param("inputs.missing == null", True, id="absent-equals-null"),
    pytest.param("inputs.none == null", True, id="null-equals-null"),
    pytest.param("inputs.missing > 1", False, id="absent-ordering-false"),
    pytest.param("inputs.flag == 1", False, id="bool-is-not-number"),
    pytest.param("inputs.zero == false", False, id="zero-is-not-false"),
    pytest.param("1 in [true]", False, id="in-strict"),
    pytest.param("inputs.count == 3.0", True, id="int-equals-float"),
    pytest.param("inputs.count == '3'", False, id="number-is-not-string"),
    pytest.param("steps.upsert.ok", True, id="step-ok"),
    pytest.param("steps.failed.ok", False, id="step-failed"),
    pytest.param("steps.upsert.output.id == '42'", True, id="step-output"),
    pytest.param("steps.failed.status >= 500", True, id="step-status"),
    pytest.param("item.name == 'signed_up' and index == 2", True, id="item-index"),
    pytest.param("inputs['a-b'] == 'dash'", True, id="bracket-key"),
    pytest.param("inputs.nested.list[0].v == 10", True, id="list-index"),
    pytest.param("inputs.plan | upper == 'PRO'", True, id="filter"),
    pytest.param("inputs.tags | length == 2", True, id="filter-length"),
    pytest.param("inputs.missing | default('x') == 'x'", True, id="filter-default"),
    pytest.param("{{ inputs.plan == 'pro' }}", True, id="wrapped"),
    pytest.param("  {{inputs.flag}}  ", True, id="wrapped-spaces"),
    pytest.param("true", True, id="literal-true"),
    pytest.param("null", False, id="literal-null"),
    pytest.param("-1 < 0", True, id="negative-number"),
    pytest.param("'it\\'s' == \"it's\"", True, id="escapes"),
    pytest.param("inputs.__class__ or inputs.plan.__len__", False, id="no-attribute-access"),
    pytest.param(True, True, id="yaml-bool-true"),
    pytest.param(False, False, id="yaml-bool-false"),
])
def test_condition_semantics(text, expected):
    assert evaluate(text) is expected


@pytest.mark.parametrize(("text", "fragment"), [
    pytest.param("", "empty condition", id="empty"),
    pytest.param("inputs.plan = 'pro'", "use '=='", id="single-equals"),
    pytest.param("inputs.plan ==", "expected a value", id="missing-operand"),
    pytest.param("inputs.a < inputs.b < inputs.c", "chained comparisons", id="chained"),
    pytest.param("(inputs.flag", "expected ')'", id="unclosed-paren"),
    pytest.param("inputs.flag inputs.off", "missing 'and'/'or'", id="juxtaposed"),
    pytest.param("'abc", "unterminated string", id="unterminated"),
    pytest.param("inputs.plan == 'a' and", "expected a value", id="dangling-and"),
    pytest.param("inputs.x + 1", "unexpected character", id="arithmetic"),
    pytest.param("inputs.plan.__class__()", "unexpected text", id="call"),
    pytest.param("{{ inputs.a }} == 'x'", "may only wrap the whole condition", id="partial-braces"),
    pytest.param("env.HOME == 'x'", "unknown variable 'env'", id="unknown-root"),
    pytest.param("inputs.plan | nosuch == 'x'", "unknown filter 'nosuch'", id="unknown-filter"),
    pytest.param("inputs.tags[-1]", "expected a list index", id="negative-index"),
    pytest.param("in inputs.tags", "expected a value, found 'in'", id="keyword-as-value"),
    pytest.param("[inputs.plan] == 1", "expected a literal", id="path-in-list-literal"),
    pytest.param(5, "must be a string", id="not-a-string"),
    pytest.param("not " * 40 + "true", "nested too deeply", id="too-deep"),
])
def test_condition_syntax_errors_are_spec_errors(text, fragment):
    with pytest.raises(SpecError) as info:
        compile_condition(text, roots=("inputs", "steps"), filters=default_filters(), file="a.yaml",
                          pointer="/steps/0/if", locate=lambda p: (7, 9))
    problem = info.value.problems[0]
    assert fragment in str(problem)
    assert (problem.file, problem.line, problem.pointer) == ("a.yaml", 7, "/steps/0/if")


@pytest.mark.parametrize(("text", "fragment"), [
    pytest.param("inputs.plan < inputs.count", "cannot order a string and a number", id="order-mixed"),
    pytest.param("inputs.tags > 1", "cannot order a list", id="order-list"),
    pytest.param("1 in inputs.email", "needs a string on the left", id="in-string-number"),
    pytest.param("'a' in inputs.count", "needs a list, a string or a mapping", id="in-number"),
    pytest.param("inputs.plan | int > 1", "filter 'int'", id="filter-fails"),
])
def test_condition_runtime_errors_never_quote_values(text, fragment):
    with pytest.raises(ConditionError) as info:
        evaluate(text)
    assert fragment in str(info.value)
    assert "pro" not in str(info.value) and "ada@example.com" not in str(info.value)


def test_references_lists_paths_used():
    cond = compile_condition("steps.upsert.ok and inputs.plan in ['a'] or item.x | length > 1",
                             roots=ROOTS, filters=default_filters())
    assert cond.references() == {("steps", "upsert", "ok"), ("inputs", "plan"), ("item", "x")}


def test_short_circuit_skips_errors():
    # the right side would raise (ordering a string and a number) but is never evaluated
    assert evaluate("inputs.off and inputs.plan < 1") is False
    assert evaluate("inputs.flag or inputs.plan < 1") is True


def test_rendered_data_is_never_code():
    ctx = {"inputs": {"plan": "inputs.flag or true"}}
    assert evaluate("inputs.plan == 'x'", ctx) is False
    assert evaluate("inputs.plan", ctx) is True  # a non-empty string, not an expression
