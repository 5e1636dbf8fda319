"""The `{{ expr }}` expression language: compile YAML value trees once at load, render them per call.

An expression is a path into the render context (``input.customer.id``, ``steps.a.output[0]``,
``input["a-b"]``) or a literal, piped through registered filters. Nothing else exists: no
attribute access, no calls besides filters, no arithmetic, no ``eval``. A string that is exactly one
expression keeps the value's type; any other string interpolates text. Rendered values are data and
are never parsed again, so a value containing ``{{`` or ``"`` comes out verbatim.
"""

from __future__ import annotations

import difflib
import inspect
import json
import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from ..errors import Problem, SpecError

__all__ = [
    "MISSING",
    "Compiled",
    "Filter",
    "FilterError",
    "FilterRegistry",
    "TemplateRenderError",
    "compile_value",
    "default_filters",
    "render_string_once",
    "to_text",
]


class _Missing:
    """The type of `MISSING`: an absent path, distinct from an explicit null."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""Rendered for an absent path; drops its key from a mapping and its item from a list."""


class TemplateRenderError(Exception):
    """A template could not be rendered; the caller turns it into `relaykit.errors.RenderError`."""

    def __init__(self, pointer: str, reason: str) -> None:
        super().__init__(f"{pointer or '/'}: {reason}")
        self.pointer = pointer
        self.reason = reason


class FilterError(ValueError):
    """Raise from a filter with a message that names the problem but never contains the value.

    Its message is shown to the user; any other `TypeError`/`ValueError` gets a generic message,
    because Python's own messages (``int('abc')``) quote the value.
    """


# ---------------------------------------------------------------------------------------------
# Filters


@dataclass(frozen=True)
class Filter:
    """A registered filter and what the compiler needs to check calls to it."""

    name: str
    func: Callable[..., Any]
    accepts_missing: bool = False
    min_args: int = 0
    max_args: int | None = None  # None: any number


_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


class FilterRegistry:
    """The filters a template may use, by name; filters are `(value, *args) -> value` functions."""

    def __init__(self) -> None:
        self._filters: dict[str, Filter] = {}

    def add(self, name: str, func: Callable[..., Any], *, accepts_missing: bool = False) -> None:
        """Register `func` under `name`; its signature fixes how many arguments a template may pass."""
        if not _NAME_RE.match(name):
            raise ValueError(f"invalid filter name {name!r}")
        if name in self._filters:
            raise ValueError(f"filter {name!r} is already registered")
        min_args, max_args = _arity(func)
        self._filters[name] = Filter(name, func, accepts_missing, min_args, max_args)

    def get(self, name: str) -> Filter | None:
        """The filter registered as `name`, or None."""
        return self._filters.get(name)

    def names(self) -> list[str]:
        """Registered names, sorted (for suggestions and docs)."""
        return sorted(self._filters)

    def copy(self) -> FilterRegistry:
        """An independent registry with the same filters, to extend without touching this one."""
        other = FilterRegistry()
        other._filters = dict(self._filters)
        return other

    def __contains__(self, name: object) -> bool:
        return name in self._filters


def _arity(func: Callable[..., Any]) -> tuple[int, int | None]:
    """(min, max) template arguments of a filter: its positional parameters after the value."""
    try:
        params = list(inspect.signature(func).parameters.values())[1:]
    except (TypeError, ValueError):  # some builtins have no signature: do not check
        return 0, None
    low, high = 0, 0
    for param in params:
        if param.kind is param.VAR_POSITIONAL:
            return low, None
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            high += 1
            if param.default is param.empty:
                low += 1
    return low, high


def to_text(value: Any) -> str:
    """How a value reads inside interpolated text: JSON spelling for bool/null/containers."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FilterError("NaN and infinity have no JSON text")
        return str(value)
    if isinstance(value, (dict, list, tuple)):
        return _compact_json(value)
    raise FilterError(f"a {type(value).__name__} value cannot be turned into text")


def _compact_json(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise FilterError("NaN and infinity are not valid JSON") from None
    except TypeError:
        raise FilterError("the value contains something that is not JSON data") from None


def _f_default(value: Any, fallback: Any) -> Any:
    return fallback if value is MISSING or value is None else value


def _f_urlencode(value: Any) -> str:
    return quote(to_text(value), safe="")


def _f_json(value: Any) -> str:
    return _compact_json(value)


def _f_string(value: Any) -> str:
    return to_text(value)


_INT_TEXT_RE = re.compile(r"\s*[-+]?[0-9]+\s*")
_FLOAT_TEXT_RE = re.compile(r"\s*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*")


def _f_int(value: Any) -> int:
    if isinstance(value, bool):
        raise FilterError("a boolean is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise FilterError("the number has a fractional part")
        return int(value)
    if isinstance(value, str) and _INT_TEXT_RE.fullmatch(value):
        return int(value)
    raise FilterError("expected an integer or a string of digits")


def _f_float(value: Any) -> float:
    if isinstance(value, bool):
        raise FilterError("a boolean is not a number")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and _FLOAT_TEXT_RE.fullmatch(value):
        number = float(value)
    else:
        raise FilterError("expected a number or a numeric string")
    if not math.isfinite(number):
        raise FilterError("the number is not finite")
    return number


_BOOL_WORDS = {"true": True, "false": False}


def _f_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.strip().lower()]
    raise FilterError("expected a boolean, 0/1 or the words true/false")


def _text_only(value: Any) -> str:
    if not isinstance(value, str):
        raise FilterError("expected a string")
    return value


def _f_lower(value: Any) -> str:
    return _text_only(value).lower()


def _f_upper(value: Any) -> str:
    return _text_only(value).upper()


def _f_trim(value: Any) -> str:
    return _text_only(value).strip()


_MAX_SECONDS = 10**11  # year 5138: anything larger is almost certainly milliseconds
_ISO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?"
    r"(?:(?P<z>[Zz])|(?P<sign>[-+])(?P<oh>\d{2}):?(?P<om>\d{2}))?"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _parse_iso(value: str) -> datetime:
    """An aware datetime from ISO-8601 text; a time without a zone is refused as ambiguous."""
    match = _ISO_RE.fullmatch(value.strip())
    if not match:
        raise FilterError("expected an ISO-8601 date-time such as 2024-01-31T12:00:00Z")
    if match["z"]:
        tz = timezone.utc
    elif match["sign"]:
        offset = timedelta(hours=int(match["oh"]), minutes=int(match["om"]))
        tz = timezone(-offset if match["sign"] == "-" else offset)
    else:
        raise FilterError("the date-time has no timezone; add Z or an offset such as +02:00")
    year, month, day, hour, minute = (int(match[i]) for i in range(1, 6))
    second = int(match[6] or 0)
    micro = int((match[7] or ".0")[1:7].ljust(6, "0"))
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        raise FilterError("the date-time is out of range") from None


def _check_seconds(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FilterError("expected unix seconds or an ISO-8601 date-time")
    if isinstance(value, float) and not math.isfinite(value):
        raise FilterError("the number is not finite")
    if abs(value) > _MAX_SECONDS:
        raise FilterError("the timestamp looks like milliseconds; unix seconds are expected")
    return value


def _f_unix_seconds(value: Any) -> int | float:
    if isinstance(value, str):
        return math.floor((_parse_iso(value) - _EPOCH).total_seconds())
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise FilterError("the date-time has no timezone")
        return math.floor((value - _EPOCH).total_seconds())
    return _check_seconds(value)


def _f_iso8601(value: Any) -> str:
    if isinstance(value, str):
        _parse_iso(value)
        return value
    seconds = _check_seconds(value)
    return (_EPOCH + timedelta(seconds=math.floor(seconds))).strftime("%Y-%m-%dT%H:%M:%SZ")


def _f_length(value: Any) -> int:
    if isinstance(value, (str, list, tuple, dict)):
        return len(value)
    raise FilterError("expected a string, list or mapping")


def _f_join(value: Any, sep: str) -> str:
    if not isinstance(value, (list, tuple)):
        raise FilterError("expected a list")
    if not isinstance(sep, str):
        raise FilterError("the separator must be a string")
    return sep.join(to_text(item) for item in value)


def _f_keys(value: Any) -> list[str]:
    if not isinstance(value, Mapping):
        raise FilterError("expected a mapping")
    return list(value)


def default_filters() -> FilterRegistry:
    """A fresh registry holding the built-in filters."""
    registry = FilterRegistry()
    registry.add("default", _f_default, accepts_missing=True)
    for name, func in (
        ("urlencode", _f_urlencode),
        ("json", _f_json),
        ("string", _f_string),
        ("int", _f_int),
        ("float", _f_float),
        ("bool", _f_bool),
        ("lower", _f_lower),
        ("upper", _f_upper),
        ("trim", _f_trim),
        ("unix_seconds", _f_unix_seconds),
        ("iso8601", _f_iso8601),
        ("length", _f_length),
        ("join", _f_join),
        ("keys", _f_keys),
    ):
        registry.add(name, func)
    return registry


# ---------------------------------------------------------------------------------------------
# Tokenizer and parser (compile time only)


class _SyntaxError(Exception):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


_PUNCT = {".": "DOT", "[": "LBRACK", "]": "RBRACK", "|": "PIPE", "(": "LPAREN", ")": "RPAREN", ",": "COMMA"}
_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS = _NAME_START | frozenset("0123456789-")
_DIGITS = frozenset("0123456789")
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r", "/": "/"}
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def scan_number(text: str, pos: int) -> tuple[int | float, int]:
    """The JSON-style number literal at `text[pos]` -> (value, end); shared with `conditions`."""
    match = _NUMBER_RE.match(text, pos)
    if not match:
        raise _SyntaxError(pos, "malformed number")
    raw = match.group()
    number: int | float = float(raw) if match.group(1) or match.group(2) else int(raw)
    if isinstance(number, float) and not math.isfinite(number):
        raise _SyntaxError(pos, "number out of range")
    return number, match.end()


def scan_string(text: str, pos: int) -> tuple[str, int]:
    """The quoted string literal starting at `text[pos]` -> (value, index after its closing quote)."""
    quote, n = text[pos], len(text)
    chars: list[str] = []
    end = pos + 1
    while True:
        if end >= n:
            raise _SyntaxError(pos, "unterminated string literal")
        c = text[end]
        if c == quote:
            return "".join(chars), end + 1
        if c == "\\":
            if end + 1 >= n or text[end + 1] not in _ESCAPES:
                raise _SyntaxError(end, "unknown escape in string literal")
            chars.append(_ESCAPES[text[end + 1]])
            end += 2
        else:
            chars.append(c)
            end += 1
_TOKEN_WORDS = {
    "NAME": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "END": "'}}'",
    "DOT": "'.'",
    "LBRACK": "'['",
    "RBRACK": "']'",
    "PIPE": "'|'",
    "LPAREN": "'('",
    "RPAREN": "')'",
    "COMMA": "','",
}


@dataclass
class _Token:
    kind: str
    value: Any
    offset: int


def _tokenize(text: str, pos: int) -> tuple[list[_Token], int]:
    """Tokens of one expression starting after its ``{{``; returns them and the offset after ``}}``."""
    tokens: list[_Token] = []
    n = len(text)
    while True:
        while pos < n and text[pos] in " \t\r\n":
            pos += 1
        if pos >= n:
            raise _SyntaxError(pos, "'{{' has no closing '}}'")
        ch = text[pos]
        if ch == "}":
            if text.startswith("}}", pos):
                tokens.append(_Token("END", None, pos))
                return tokens, pos + 2
            raise _SyntaxError(pos, "a single '}' is not allowed inside an expression")
        if ch in _PUNCT:
            tokens.append(_Token(_PUNCT[ch], ch, pos))
            pos += 1
        elif ch in _NAME_START:
            end = pos + 1
            while end < n and text[end] in _NAME_CHARS:
                end += 1
            tokens.append(_Token("NAME", text[pos:end], pos))
            pos = end
        elif ch in _DIGITS or ch == "-":
            number, end = scan_number(text, pos)
            tokens.append(_Token("NUMBER", number, pos))
            pos = end
            if pos < n and (text[pos] in _NAME_CHARS or text[pos] == "."):
                raise _SyntaxError(pos, "malformed number")
        elif ch in "'\"":
            value, end = scan_string(text, pos)
            tokens.append(_Token("STRING", value, pos))
            pos = end
        else:
            raise _SyntaxError(pos, "unexpected character in expression")


_LITERAL_NAMES = {"true": True, "false": False, "null": None}


@dataclass
class _ParsedFilter:
    name: str
    args: tuple[Any, ...]
    offset: int


@dataclass
class _Parsed:
    """One expression as parsed: a path (root + steps) or a literal, then filters."""

    root: str | None
    steps: tuple[str | int, ...]
    literal: Any
    filters: list[_ParsedFilter]
    offset: int


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self, kind: str, what: str) -> _Token:
        token = self.tokens[self.i]
        if token.kind != kind:
            raise _SyntaxError(token.offset, f"expected {what}, found {_TOKEN_WORDS[token.kind]}")
        self.i += 1
        return token

    def expression(self) -> _Parsed:
        first = self.peek()
        if first.kind == "END":
            raise _SyntaxError(first.offset, "empty expression")
        if first.kind == "NAME" and first.value not in _LITERAL_NAMES:
            parsed = _Parsed(self.take("NAME", "").value, self.path_steps(), None, [], first.offset)
        else:
            parsed = _Parsed(None, (), self.literal(), [], first.offset)
        while self.peek().kind == "PIPE":
            self.i += 1
            name = self.take("NAME", "a filter name after '|'")
            args: list[Any] = []
            if self.peek().kind == "LPAREN":
                self.i += 1
                args.append(self.literal())
                while self.peek().kind == "COMMA":
                    self.i += 1
                    args.append(self.literal())
                self.take("RPAREN", "')' or ','")
            parsed.filters.append(_ParsedFilter(name.value, tuple(args), name.offset))
        token = self.peek()
        if token.kind != "END":
            raise _SyntaxError(token.offset, f"expected '|' or '}}}}', found {_TOKEN_WORDS[token.kind]}")
        return parsed

    def path_steps(self) -> tuple[str | int, ...]:
        steps: list[str | int] = []
        while True:
            kind = self.peek().kind
            if kind == "DOT":
                self.i += 1
                steps.append(self.take("NAME", "a key name after '.'").value)
            elif kind == "LBRACK":
                self.i += 1
                token = self.peek()
                if token.kind == "STRING":
                    steps.append(token.value)
                elif token.kind == "NUMBER" and isinstance(token.value, int) and token.value >= 0:
                    steps.append(token.value)
                else:
                    raise _SyntaxError(token.offset, "expected a list index or a quoted key inside '[ ]'")
                self.i += 1
                self.take("RBRACK", "']'")
            else:
                return tuple(steps)

    def literal(self) -> Any:
        token = self.peek()
        if token.kind in ("STRING", "NUMBER"):
            self.i += 1
            return token.value
        if token.kind == "NAME" and token.value in _LITERAL_NAMES:
            self.i += 1
            return _LITERAL_NAMES[token.value]
        raise _SyntaxError(token.offset, f"expected a literal, found {_TOKEN_WORDS[token.kind]}")


def _parse_template(text: str) -> list[str | _Parsed]:
    """Split a string into literal text and parsed expressions."""
    parts: list[str | _Parsed] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            if pos < len(text):
                parts.append(text[pos:])
            return parts
        if start > pos:
            parts.append(text[pos:start])
        tokens, pos = _tokenize(text, start + 2)
        parts.append(_Parser(tokens).expression())


# ---------------------------------------------------------------------------------------------
# Compiled nodes (render time: no parsing, no regexes)


class _Expr:
    """An evaluable expression: a path lookup or a literal, then a chain of filters."""

    __slots__ = ("filters", "literal", "path_text", "root", "steps")

    def __init__(self, parsed: _Parsed, filters: tuple[tuple[Filter, tuple[Any, ...]], ...]) -> None:
        self.root = parsed.root
        self.steps = parsed.steps
        self.literal = parsed.literal
        self.filters = filters
        self.path_text = _path_text(parsed.root, parsed.steps) if parsed.root else "literal"

    def evaluate(self, ctx: Mapping[str, Any], pointer: str) -> Any:
        if self.root is None:
            value = self.literal
        else:
            value = ctx.get(self.root, MISSING)
            for step in self.steps:
                # Inline fast path for the common case; MISSING is not a dict, so it stays MISSING.
                if type(value) is dict and type(step) is str:
                    value = value.get(step, MISSING)
                else:
                    value = _lookup(value, step)
        for flt, args in self.filters:
            if value is MISSING and not flt.accepts_missing:
                continue  # absent passes through untouched, so a later `default` can still apply
            try:
                value = flt.func(value, *args)
            except FilterError as exc:
                raise TemplateRenderError(pointer, f"filter {flt.name!r}: {exc}") from None
            except (TypeError, ValueError, OverflowError) as exc:
                reason = f"filter {flt.name!r} cannot handle this value ({type(exc).__name__})"
                raise TemplateRenderError(pointer, reason) from None
        return value


def _lookup(value: Any, step: str | int) -> Any:
    """One path step: a mapping key or a list index; anything else is absent (never getattr)."""
    if type(step) is str:
        if type(value) is dict or isinstance(value, Mapping):
            return value.get(step, MISSING)
        return MISSING
    if type(value) is list or type(value) is tuple:
        return value[step] if step < len(value) else MISSING
    return MISSING


def _path_text(root: str, steps: tuple[str | int, ...]) -> str:
    text = root
    for step in steps:
        if isinstance(step, int):
            text += f"[{step}]"
        elif _NAME_RE.match(step):
            text += "." + step
        else:
            text += "[" + json.dumps(step) + "]"
    return text


class _Node:
    """A compiled piece of the value tree."""

    __slots__ = ()

    def render(self, ctx: Mapping[str, Any], encode: Callable[[Any, str], str] | None) -> Any:
        raise NotImplementedError


class _Whole(_Node):
    """A string that is exactly one expression: the value keeps its own type."""

    __slots__ = ("expr", "pointer")

    def __init__(self, expr: _Expr, pointer: str) -> None:
        self.expr = expr
        self.pointer = pointer

    def render(self, ctx: Mapping[str, Any], encode: Callable[[Any, str], str] | None) -> Any:
        value = self.expr.evaluate(ctx, self.pointer)
        if encode is None or value is MISSING:
            return value
        return encode(value, self.pointer)


class _Interpolated(_Node):
    """Literal text and expressions joined into one string; an absent value is an error."""

    __slots__ = ("parts", "pointer")

    def __init__(self, parts: tuple[str | _Expr, ...], pointer: str) -> None:
        self.parts = parts
        self.pointer = pointer

    def render(self, ctx: Mapping[str, Any], encode: Callable[[Any, str], str] | None) -> Any:
        pointer = self.pointer
        out: list[str] = []
        for part in self.parts:
            if type(part) is str:
                out.append(part)
                continue
            value = part.evaluate(ctx, pointer)  # type: ignore[union-attr]
            if value is MISSING:
                raise TemplateRenderError(pointer, f"{part.path_text} is absent")  # type: ignore[union-attr]
            if encode is not None:
                out.append(encode(value, pointer))
            elif type(value) is str:
                out.append(value)
            else:
                try:
                    out.append(to_text(value))
                except FilterError as exc:
                    raise TemplateRenderError(pointer, str(exc)) from None
        return "".join(out)


class _Mapping(_Node):
    """A mapping; keys whose value renders to MISSING are left out."""

    __slots__ = ("items",)

    def __init__(self, items: tuple[tuple[Any, Any, _Node | None], ...]) -> None:
        self.items = items  # (key, constant, node): node None means the constant is used as is

    def render(self, ctx: Mapping[str, Any], encode: Callable[[Any, str], str] | None) -> Any:
        out = {}
        for key, constant, node in self.items:
            if node is None:
                out[key] = constant
            else:
                value = node.render(ctx, encode)
                if value is not MISSING:
                    out[key] = value
        return out


class _Sequence(_Node):
    """A list; items that render to MISSING are dropped."""

    __slots__ = ("items",)

    def __init__(self, items: tuple[tuple[Any, _Node | None], ...]) -> None:
        self.items = items

    def render(self, ctx: Mapping[str, Any], encode: Callable[[Any, str], str] | None) -> Any:
        out = []
        for constant, node in self.items:
            if node is None:
                out.append(constant)
            else:
                value = node.render(ctx, encode)
                if value is not MISSING:
                    out.append(value)
        return out


class Compiled:
    """A compiled value tree: render it per call with a context; compile once at load."""

    __slots__ = ("_constant", "_is_constant", "_node", "_references", "pointer")

    def __init__(self, node: _Node | None, constant: Any, references: set[tuple[str | int, ...]], pointer: str) -> None:
        self._node = node
        self._constant = constant
        self._references = frozenset(references)
        self._is_constant = not self._has_expressions(node)
        self.pointer = pointer

    @property
    def is_constant(self) -> bool:
        """True when the value holds no expression at all (rendering just rebuilds containers)."""
        return self._is_constant

    @staticmethod
    def _has_expressions(node: _Node | None) -> bool:
        if node is None:
            return False
        if isinstance(node, (_Whole, _Interpolated)):
            return True
        if isinstance(node, _Mapping):
            return any(Compiled._has_expressions(child) for _, _, child in node.items)
        if isinstance(node, _Sequence):
            return any(Compiled._has_expressions(child) for _, child in node.items)
        return False

    def render(self, context: Mapping[str, Any], *, encode: Callable[[Any, str], str] | None = None) -> Any:
        """Evaluate every expression against `context`; may return `MISSING` for a whole absent value.

        `encode(value, pointer)`, when given, turns each expression result into text, both inside
        interpolated strings and for whole-value strings (e.g. one URL path segment). Values taken
        from `context` are returned as they are, not copied.
        Raises `TemplateRenderError` for an absent value inside text or a failing filter.
        """
        if self._node is None:
            return self._constant
        return self._node.render(context, encode)

    def references(self) -> set[tuple[str | int, ...]]:
        """Every path used: (root, key or index, ...), so loaders can refuse forbidden variables."""
        return set(self._references)


# ---------------------------------------------------------------------------------------------
# Compilation


class _Compiler:
    def __init__(
        self,
        roots: Collection[str],
        filters: FilterRegistry,
        file: str | None,
        locate: Callable[[str], tuple[int | None, int | None]] | None,
    ) -> None:
        self.roots = roots
        self.filters = filters
        self.file = file
        self.locate = locate
        self.problems: list[Problem] = []
        self.references: set[tuple[str | int, ...]] = set()

    def problem(self, pointer: str, message: str, hint: str | None = None) -> None:
        line, column = self.locate(pointer) if self.locate else (None, None)
        self.problems.append(Problem(message, pointer, self.file, line, column, hint))

    def value(self, value: Any, pointer: str) -> _Node | None:
        """A node for `value`, or None when it is a constant needing no rendering."""
        if isinstance(value, str):
            return self.string(value, pointer) if "{{" in value else None
        if isinstance(value, dict):
            items = []
            for key, child in value.items():
                node = self.value(child, f"{pointer}/{_escape(str(key))}")
                items.append((key, child, node))
            # Containers are always rebuilt, so a caller may mutate a rendered result safely.
            return _Mapping(tuple(items))
        if isinstance(value, (list, tuple)):
            seq_items = []
            for index, child in enumerate(value):
                node = self.value(child, f"{pointer}/{index}")
                seq_items.append((child, node))
            return _Sequence(tuple(seq_items))
        return None

    def string(self, text: str, pointer: str) -> _Node | None:
        try:
            parts = _parse_template(text)
        except _SyntaxError as exc:
            self.problem(pointer, f"template syntax error at character {exc.offset + 1}: {exc.message}")
            return None
        compiled: list[str | _Expr] = []
        ok = True
        for part in parts:
            if isinstance(part, str):
                compiled.append(part)
                continue
            expr = self.expression(part, pointer)
            if expr is None:
                ok = False
            else:
                compiled.append(expr)
        if not ok:
            return None
        if len(compiled) == 1 and isinstance(compiled[0], _Expr):
            return _Whole(compiled[0], pointer)
        return _Interpolated(tuple(compiled), pointer)

    def expression(self, parsed: _Parsed, pointer: str) -> _Expr | None:
        ok = True
        if parsed.root is not None:
            if parsed.root in self.roots:
                self.references.add((parsed.root, *parsed.steps))
            else:
                ok = False
                self.problem(
                    pointer,
                    f"unknown variable {parsed.root!r}",
                    _suggest(parsed.root, self.roots, "variables"),
                )
        resolved = []
        for call in parsed.filters:
            flt = self.filters.get(call.name)
            if flt is None:
                ok = False
                self.problem(
                    pointer,
                    f"unknown filter {call.name!r}",
                    _suggest(call.name, self.filters.names(), "filters"),
                )
                continue
            count = len(call.args)
            if count < flt.min_args or (flt.max_args is not None and count > flt.max_args):
                ok = False
                self.problem(pointer, f"filter {call.name!r} takes {_arity_text(flt)}, got {count}")
                continue
            resolved.append((flt, call.args))
        return _Expr(parsed, tuple(resolved)) if ok else None


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _arity_text(flt: Filter) -> str:
    low, high = flt.min_args, flt.max_args
    if high is None:
        return f"at least {low} argument{'s' if low != 1 else ''}"
    if low == high:
        return f"{low} argument{'s' if low != 1 else ''}"
    return f"{low} to {high} arguments"


def _suggest(name: str, known: Collection[str], what: str) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    return f"known {what}: " + (", ".join(sorted(known)) or "none")


def compile_value(
    value: Any,
    *,
    roots: Collection[str],
    filters: FilterRegistry,
    file: str | None = None,
    pointer: str = "",
    locate: Callable[[str], tuple[int | None, int | None]] | None = None,
) -> Compiled:
    """Compile a YAML value tree; raise one `SpecError` listing every bad template in it.

    `pointer` is where `value` sits in its file; problems and `encode` calls use full pointers, and
    `locate` (e.g. `Document.locate`) maps them to line and column. Mapping keys are never templates.
    """
    compiler = _Compiler(roots, filters, file, locate)
    node = compiler.value(value, pointer)
    if compiler.problems:
        raise SpecError(compiler.problems, "invalid template")
    return Compiled(node, value, compiler.references, pointer)


def render_string_once(template: str, context: Mapping[str, Any], filters: FilterRegistry | None = None) -> Any:
    """Compile and render one string against `context` (for tools and tests; not for hot paths)."""
    compiled = compile_value(template, roots=list(context), filters=filters or default_filters())
    return compiled.render(context)
