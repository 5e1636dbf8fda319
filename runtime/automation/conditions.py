"""Boolean conditions for automation `if:` fields: a tiny parser and evaluator, never `eval`.

Grammar (whitespace-insensitive; the whole text may be wrapped in one ``{{ }}``)::

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := operand (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in") operand)?
    operand    := "(" expr ")" | "[" literal ("," literal)* "]" | value
    value      := (path | literal) ("|" filter ["(" literal ("," literal)* ")"])*

A `value` is handed to the template compiler (as ``{{ value }}``), so paths, filters and the roots a
field may read behave exactly as in templates. Semantics, chosen to be unsurprising and safe:
equality never confuses booleans with numbers; an absent value equals ``null``; ordering compares two
numbers or two strings, is false when either side is null/absent and an error otherwise; ``in``
tests list membership, substrings or mapping keys; truthiness is Python's (``null``, ``false``,
``0``, ``""``, ``[]``, ``{}`` and absent are false).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import Problem, SpecError
from ..templates.compiled import Compiled, compile_value
from ..templates.filters import MISSING, FilterRegistry, TemplateRenderError
from ..templates.syntax import ExpressionSyntaxError, scan_number, scan_string

__all__ = ["Condition", "ConditionError", "compile_condition"]


class ConditionError(Exception):
    """A condition could not be evaluated (incomparable types, a failing filter); never quotes values."""


@dataclass(frozen=True)
class _Tok:
    kind: str  # NAME, NUMBER, STRING, OP, PUNCT, END
    value: Any
    start: int
    end: int


_KEYWORDS = frozenset({"and", "or", "not", "in"})
_LITERALS = {"true": True, "false": False, "null": None}
_COMPARE = ("==", "!=", "<=", ">=", "<", ">")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_WRAPPED_RE = re.compile(r"\s*\{\{(.*)\}\}\s*", re.S)
MAX_LENGTH = 2000
MAX_DEPTH = 32


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in " \t\r\n":
            pos += 1
        if pos >= n:
            tokens.append(_Tok("END", None, pos, pos))
            return tokens
        ch = text[pos]
        two = text[pos:pos + 2]
        if two in ("==", "!=", "<=", ">="):
            tokens.append(_Tok("OP", two, pos, pos + 2))
            pos += 2
        elif ch in "<>":
            tokens.append(_Tok("OP", ch, pos, pos + 1))
            pos += 1
        elif ch in ".[]()|,":
            tokens.append(_Tok("PUNCT", ch, pos, pos + 1))
            pos += 1
        elif ch == "=":
            raise ExpressionSyntaxError(pos, "use '==' to compare")
        elif ch == "{" or ch == "}":
            raise ExpressionSyntaxError(pos, "'{{ }}' may only wrap the whole condition")
        elif _NAME_RE.match(text, pos):
            match = _NAME_RE.match(text, pos)
            assert match is not None
            tokens.append(_Tok("NAME", match.group(), pos, match.end()))
            pos = match.end()
        elif ch.isdigit() or ch == "-":
            number, end = scan_number(text, pos)
            if end < n and (text[end].isalnum() or text[end] in "._"):
                raise ExpressionSyntaxError(pos, "malformed number")
            tokens.append(_Tok("NUMBER", number, pos, end))
            pos = end
        elif ch in "'\"":
            value, end = scan_string(text, pos)
            tokens.append(_Tok("STRING", value, pos, end))
            pos = end
        else:
            raise ExpressionSyntaxError(pos, "unexpected character")


# -- the tree ---------------------------------------------------------------------------------


class _Node:
    def eval(self, ctx: Mapping[str, Any]) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class _Const(_Node):
    value: Any

    def eval(self, ctx: Mapping[str, Any]) -> Any:
        return self.value


@dataclass(frozen=True)
class _Value(_Node):
    compiled: Compiled

    def eval(self, ctx: Mapping[str, Any]) -> Any:
        try:
            return self.compiled.render(ctx)
        except TemplateRenderError as exc:
            raise ConditionError(exc.reason) from None


@dataclass(frozen=True)
class _Not(_Node):
    operand: _Node

    def eval(self, ctx: Mapping[str, Any]) -> Any:
        return not truthy(self.operand.eval(ctx))


@dataclass(frozen=True)
class _Bool(_Node):
    op: str  # and | or
    operands: tuple[_Node, ...]

    def eval(self, ctx: Mapping[str, Any]) -> Any:
        if self.op == "and":
            return all(truthy(o.eval(ctx)) for o in self.operands)
        return any(truthy(o.eval(ctx)) for o in self.operands)


@dataclass(frozen=True)
class _Compare(_Node):
    op: str
    left: _Node
    right: _Node

    def eval(self, ctx: Mapping[str, Any]) -> Any:
        return compare(self.op, self.left.eval(ctx), self.right.eval(ctx))


def truthy(value: Any) -> bool:
    """Python truthiness; the absent marker is false."""
    return value is not MISSING and bool(value)


def _norm(value: Any) -> Any:
    return None if value is MISSING else value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def strict_equal(a: Any, b: Any) -> bool:
    """Equality where `true` is not `1` and `false` is not `0`, also inside lists and mappings."""
    a, b = _norm(a), _norm(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(strict_equal(a[k], b[k]) for k in a)
    if type(a) is not type(b) and not (isinstance(a, str) and isinstance(b, str)):
        return False
    return bool(a == b)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if _is_number(value):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return "null"


def compare(op: str, left: Any, right: Any) -> bool:
    """Apply one comparison operator with the documented semantics."""
    left, right = _norm(left), _norm(right)
    if op == "==":
        return strict_equal(left, right)
    if op == "!=":
        return not strict_equal(left, right)
    if op in ("in", "not in"):
        found = _contains(right, left)
        return found if op == "in" else not found
    if left is None or right is None:
        return False
    if not ((_is_number(left) and _is_number(right)) or (isinstance(left, str) and isinstance(right, str))):
        raise ConditionError(f"cannot order {_kind(left)} and {_kind(right)} with {op!r}")
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _contains(container: Any, item: Any) -> bool:
    if container is None:
        return False
    if isinstance(container, (list, tuple)):
        return any(strict_equal(item, x) for x in container)
    if isinstance(container, str):
        if not isinstance(item, str):
            raise ConditionError(f"'in' a string needs a string on the left, not {_kind(item)}")
        return item in container
    if isinstance(container, Mapping):
        return isinstance(item, str) and item in container
    raise ConditionError(f"'in' needs a list, a string or a mapping on the right, not {_kind(container)}")


# -- the parser -------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, base: int, compile_operand: Callable[[str, int], Compiled]) -> None:
        self.text = text
        self.base = base  # offset of `text` inside the field, for error positions
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0
        self.compile_operand = compile_operand

    def peek(self, ahead: int = 0) -> _Tok:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def is_word(self, word: str, ahead: int = 0) -> bool:
        tok = self.peek(ahead)
        return tok.kind == "NAME" and tok.value == word

    def expect_punct(self, ch: str) -> None:
        tok = self.peek()
        if tok.kind != "PUNCT" or tok.value != ch:
            raise ExpressionSyntaxError(tok.start, f"expected {ch!r}")
        self.i += 1

    def parse(self) -> _Node:
        if self.peek().kind == "END":
            raise ExpressionSyntaxError(0, "empty condition")
        node = self.or_expr()
        tok = self.peek()
        if tok.kind != "END":
            raise ExpressionSyntaxError(tok.start, "unexpected text after the condition (missing 'and'/'or'?)")
        return node

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionSyntaxError(self.peek().start, "the condition is nested too deeply")

    def or_expr(self) -> _Node:
        parts = [self.and_expr()]
        while self.is_word("or"):
            self.i += 1
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else _Bool("or", tuple(parts))

    def and_expr(self) -> _Node:
        parts = [self.not_expr()]
        while self.is_word("and"):
            self.i += 1
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else _Bool("and", tuple(parts))

    def not_expr(self) -> _Node:
        if self.is_word("not"):
            self.i += 1
            self.nested()
            node = _Not(self.not_expr())
            self.depth -= 1
            return node
        return self.comparison()

    def comparison_op(self) -> str | None:
        tok = self.peek()
        if tok.kind == "OP":
            self.i += 1
            return str(tok.value)
        if self.is_word("in"):
            self.i += 1
            return "in"
        if self.is_word("not") and self.is_word("in", 1):
            self.i += 2
            return "not in"
        return None

    def comparison(self) -> _Node:
        left = self.operand()
        op = self.comparison_op()
        if op is None:
            return left
        right = self.operand()
        tok = self.peek()
        if tok.kind == "OP" or self.is_word("in") or (self.is_word("not") and self.is_word("in", 1)):
            raise ExpressionSyntaxError(tok.start, "chained comparisons are not supported; join them with 'and'")
        return _Compare(op, left, right)

    def operand(self) -> _Node:
        tok = self.peek()
        if tok.kind == "PUNCT" and tok.value == "(":
            self.i += 1
            self.nested()
            node = self.or_expr()
            self.depth -= 1
            self.expect_punct(")")
            return node
        if tok.kind == "PUNCT" and tok.value == "[":
            return self.list_literal()
        if tok.kind == "NAME" and tok.value in _KEYWORDS:
            raise ExpressionSyntaxError(tok.start, f"expected a value, found {tok.value!r}")
        if tok.kind in ("NAME", "NUMBER", "STRING"):
            return self.value()
        raise ExpressionSyntaxError(tok.start, "expected a value")

    def literal(self) -> Any:
        tok = self.peek()
        if tok.kind in ("NUMBER", "STRING"):
            self.i += 1
            return tok.value
        if tok.kind == "NAME" and tok.value in _LITERALS:
            self.i += 1
            return _LITERALS[tok.value]
        raise ExpressionSyntaxError(tok.start, "expected a literal (string, number, true, false or null)")

    def list_literal(self) -> _Node:
        self.expect_punct("[")
        items: list[Any] = []
        if not (self.peek().kind == "PUNCT" and self.peek().value == "]"):
            items.append(self.literal())
            while self.peek().kind == "PUNCT" and self.peek().value == ",":
                self.i += 1
                items.append(self.literal())
        self.expect_punct("]")
        return _Const(tuple(items))

    def value(self) -> _Node:
        """A path or literal with filters; its source text is compiled by the template compiler."""
        first = self.peek()
        start = first.start
        if first.kind == "NAME" and first.value not in _LITERALS:
            self.i += 1
            while True:
                tok = self.peek()
                if tok.kind == "PUNCT" and tok.value == ".":
                    self.i += 1
                    if self.peek().kind != "NAME":
                        raise ExpressionSyntaxError(self.peek().start, "expected a key name after '.'")
                    self.i += 1
                elif tok.kind == "PUNCT" and tok.value == "[":
                    self.i += 1
                    if self.peek().kind not in ("STRING", "NUMBER"):
                        raise ExpressionSyntaxError(self.peek().start,
                                                    "expected a list index or a quoted key inside '[ ]'")
                    self.i += 1
                    self.expect_punct("]")
                else:
                    break
            is_path = True
        else:
            self.literal()
            is_path = False
        has_filters = False
        while self.peek().kind == "PUNCT" and self.peek().value == "|":
            has_filters = True
            self.i += 1
            if self.peek().kind != "NAME":
                raise ExpressionSyntaxError(self.peek().start, "expected a filter name after '|'")
            self.i += 1
            if self.peek().kind == "PUNCT" and self.peek().value == "(":
                self.i += 1
                self.literal()
                while self.peek().kind == "PUNCT" and self.peek().value == ",":
                    self.i += 1
                    self.literal()
                self.expect_punct(")")
        end = self.tokens[self.i - 1].end
        if not is_path and not has_filters:
            return _Const(first.value if first.kind != "NAME" else _LITERALS[first.value])
        source = self.text[start:end]
        if "}}" in source:  # only possible inside a string literal; it would end the template early
            raise ExpressionSyntaxError(start, "'}}' is not allowed inside a condition")
        return _Value(self.compile_operand(source, self.base + start))


@dataclass(frozen=True)
class Condition:
    """A compiled condition: evaluate it against a context; list the paths it reads."""

    source: str
    _root: _Node
    _references: frozenset[tuple[str | int, ...]]

    def evaluate(self, context: Mapping[str, Any]) -> bool:
        """True or false; `ConditionError` when it cannot be decided (e.g. ordering a string and a number)."""
        return truthy(self._root.eval(context))

    def references(self) -> set[tuple[str | int, ...]]:
        """Every path used: (root, key or index, ...)."""
        return set(self._references)


def compile_condition(
    source: Any,
    *,
    roots: Collection[str],
    filters: FilterRegistry,
    file: str | None = None,
    pointer: str = "",
    locate: Callable[[str], tuple[int | None, int | None]] | None = None,
) -> Condition:
    """Parse a condition (a string, or a YAML boolean) at load; `SpecError` with file:line on any mistake."""

    def fail(message: str, hint: str | None = None) -> SpecError:
        line, column = locate(pointer) if locate else (None, None)
        return SpecError(Problem(message, pointer, file, line, column, hint), "invalid condition")

    if isinstance(source, bool):
        return Condition(str(source).lower(), _Const(source), frozenset())
    if not isinstance(source, str):
        raise fail("a condition must be a string such as \"inputs.plan == 'pro'\" (or true/false)")
    if len(source) > MAX_LENGTH:
        raise fail(f"the condition is longer than {MAX_LENGTH} characters")
    text, base = source, 0
    wrapped = _WRAPPED_RE.fullmatch(source)
    if wrapped and "{{" not in wrapped.group(1) and "}}" not in wrapped.group(1):
        text, base = wrapped.group(1), wrapped.start(1)
    references: set[tuple[str | int, ...]] = set()

    def compile_operand(operand: str, offset: int) -> Compiled:
        compiled = compile_value("{{ " + operand + " }}", roots=roots, filters=filters, file=file, pointer=pointer,
                                 locate=locate)
        references.update(compiled.references())
        return compiled

    try:
        root = _Parser(text, base, compile_operand).parse()
    except ExpressionSyntaxError as exc:
        raise fail(f"condition syntax error at character {base + exc.offset + 1}: {exc.message}",
                   "conditions use paths, literals, ==, !=, <, <=, >, >=, in, not in, and, or, not and ( )") from None
    return Condition(source, root, frozenset(references))
