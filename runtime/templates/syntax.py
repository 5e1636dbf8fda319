"""The expression grammar: tokenizer and parser of `{{ path | filter(args) }}` text (compile time only).

Shared with the automation conditions grammar (`scan_number`, `scan_string`, one syntax-error type).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["ExpressionSyntaxError", "ParsedExpr", "ParsedFilter", "parse_template", "scan_number", "scan_string"]


class ExpressionSyntaxError(Exception):
    """A template or condition that does not parse, at a character offset (the compiler adds file:line)."""

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
        raise ExpressionSyntaxError(pos, "malformed number")
    raw = match.group()
    number: int | float = float(raw) if match.group(1) or match.group(2) else int(raw)
    if isinstance(number, float) and not math.isfinite(number):
        raise ExpressionSyntaxError(pos, "number out of range")
    return number, match.end()


def scan_string(text: str, pos: int) -> tuple[str, int]:
    """The quoted string literal starting at `text[pos]` -> (value, index after its closing quote)."""
    quote, n = text[pos], len(text)
    chars: list[str] = []
    end = pos + 1
    while True:
        if end >= n:
            raise ExpressionSyntaxError(pos, "unterminated string literal")
        c = text[end]
        if c == quote:
            return "".join(chars), end + 1
        if c == "\\":
            if end + 1 >= n or text[end + 1] not in _ESCAPES:
                raise ExpressionSyntaxError(end, "unknown escape in string literal")
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
            raise ExpressionSyntaxError(pos, "'{{' has no closing '}}'")
        ch = text[pos]
        if ch == "}":
            if text.startswith("}}", pos):
                tokens.append(_Token("END", None, pos))
                return tokens, pos + 2
            raise ExpressionSyntaxError(pos, "a single '}' is not allowed inside an expression")
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
                raise ExpressionSyntaxError(pos, "malformed number")
        elif ch in "'\"":
            value, end = scan_string(text, pos)
            tokens.append(_Token("STRING", value, pos))
            pos = end
        else:
            raise ExpressionSyntaxError(pos, "unexpected character in expression")


_LITERAL_NAMES = {"true": True, "false": False, "null": None}


@dataclass
class ParsedFilter:
    """One `| name(args)` of a parsed expression."""

    name: str
    args: tuple[Any, ...]
    offset: int


@dataclass
class ParsedExpr:
    """One expression as parsed: a path (root + steps) or a literal, then filters."""

    root: str | None
    steps: tuple[str | int, ...]
    literal: Any
    filters: list[ParsedFilter]
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
            raise ExpressionSyntaxError(token.offset, f"expected {what}, found {_TOKEN_WORDS[token.kind]}")
        self.i += 1
        return token

    def expression(self) -> ParsedExpr:
        first = self.peek()
        if first.kind == "END":
            raise ExpressionSyntaxError(first.offset, "empty expression")
        if first.kind == "NAME" and first.value not in _LITERAL_NAMES:
            parsed = ParsedExpr(self.take("NAME", "").value, self.path_steps(), None, [], first.offset)
        else:
            parsed = ParsedExpr(None, (), self.literal(), [], first.offset)
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
            parsed.filters.append(ParsedFilter(name.value, tuple(args), name.offset))
        token = self.peek()
        if token.kind != "END":
            raise ExpressionSyntaxError(token.offset, f"expected '|' or '}}}}', found {_TOKEN_WORDS[token.kind]}")
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
                    raise ExpressionSyntaxError(token.offset, "expected a list index or a quoted key inside '[ ]'")
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
        raise ExpressionSyntaxError(token.offset, f"expected a literal, found {_TOKEN_WORDS[token.kind]}")


def parse_template(text: str) -> list[str | ParsedExpr]:
    """Split a string into literal text and parsed expressions."""
    parts: list[str | ParsedExpr] = []
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
