"""Schema `pattern`s match in linear time (RE2), keep ECMA-262's `$`, and are refused at load when unsafe (item 10)."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from relaykit.specs.jsonschemas import DataValidator
from relaykit.specs.patterns import PatternError, compile_pattern

EVIL = ["^(a+)+$", "^(a|a)*$", "^(a|aa)+$", "^([a-zA-Z]+)*$", "(x+x+)+y", "^(\\w+\\s?)*$"]


CHECK = """
import sys, time
from relaykit.specs.jsonschemas import DataValidator
for pattern in sys.argv[1:]:
    for text in ("a" * 32 + "!", "a" * 50_000 + "!"):  # N=32 ran past 120 s on Python's re
        DataValidator({"type": "string", "pattern": pattern}).is_valid(text)
print("done")
"""


def test_catastrophic_patterns_match_in_linear_time():
    # In a child process: a backtracking match holds the GIL, so only a process can be timed out.
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHECK, *EVIL], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "done", done.stderr[-500:]
    assert time.perf_counter() - started < 30


def test_pattern_properties_and_additional_properties_use_the_same_engine():
    schema = {"type": "object", "patternProperties": {"^(a+)+$": {"type": "integer"}}, "additionalProperties": False}
    validator = DataValidator(schema)
    started = time.thread_time()  # CPU time of this thread: a busy machine does not make it fail
    assert not validator.is_valid({"a" * 50_000 + "!": 1})
    assert validator.is_valid({"aaa": 1}) and not validator.is_valid({"aaa": "x"})
    assert not validator.is_valid({"aaa\n": 1})  # `$` is the end of the name, as in ECMA-262
    assert time.thread_time() - started < 2.0


@pytest.mark.parametrize("pattern, words", [
    ("(?=a)", "lookahead"), ("(?<!a)b", "lookahead or lookbehind"), ("(a)\\1", "backreference"),
    ("(", "not a valid regular expression"), ("[", "not a valid regular expression"),
])
def test_unsafe_or_invalid_patterns_are_refused_with_a_reason(pattern, words):
    with pytest.raises(PatternError, match=re.escape(words)):
        compile_pattern(pattern)


@pytest.mark.parametrize("pattern, text, matches", [
    ("^\\u00e9$", "é", True), ("^\\\\u00e9$", "\\u00e9", True), ("^\\d+$", "١٢", False),  # \d is ASCII (ECMA-262)
    ("^a$", "a\n", False), ("^a", "\ud800", False), ("^.$", "\ud800", True),
])
def test_ecma_262_details(pattern, text, matches):
    assert (compile_pattern(pattern).search(text) is not None) is matches


simple_patterns = st.lists(st.sampled_from(["a", "b", "[ab]", "a*", "b+", "(ab)?", "(a|b)", ".", "[^a]", "\\d"]),
                           min_size=1, max_size=6).map("".join).map(lambda p: f"^{p}$")


@settings(max_examples=300, deadline=None)
@given(simple_patterns, st.text(alphabet="ab1\n", max_size=8))
def test_agrees_with_an_anchored_python_match_where_python_is_safe(pattern, text):
    expected = re.search(pattern[:-1] + "\\Z", text, re.ASCII) is not None
    assert (compile_pattern(pattern).search(text) is not None) is expected


@settings(max_examples=400, deadline=None)
@given(simple_patterns | st.sampled_from(["\\S", "é+", "^.$", "", "x", "^\\u00e9"]),
       st.text(alphabet=st.sampled_from(["a", "b", "1", "\n", " ", "é", "\ud800", "😀"]), max_size=8))
def test_the_verdict_shortcut_agrees_with_search(pattern, text):
    """`found` (what validation asks) is `search(...) is not None`, surrogates and non-ASCII included."""
    compiled = compile_pattern(pattern)
    assert compiled.found(text) is (compiled.search(text) is not None)


def test_the_verdict_shortcut_falls_back_to_search_without_the_wrappers_internals():
    compiled = compile_pattern("^a+$")
    fallback = type(compiled)(compiled.pattern, compiled._regex)
    fallback._raw = None  # what a google-re2 without `_regexp` gives
    assert fallback.found("aaa") and not fallback.found("aab")
