"""Load YAML and JSON spec files strictly into plain JSON data, keeping every node's file:line:col.

This is the only way relaykit reads a spec file. PyYAML is used for its event stream only; the
document tree is composed here, so the YAML 1.1 surprises (``on`` read as a boolean, ``0123`` as
octal, dates as ``date`` objects), duplicate keys, anchors/aliases (alias bombs), custom tags,
runaway nesting and oversized files are refused before anything walks the data. Every failure is
one `SpecError` listing all the problems found, located but never quoting the offending value.
"""

from __future__ import annotations

import bisect
import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from typing import Any, Union

import yaml

from ..errors import Problem, SpecError

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_INTEGER_DIGITS",
    "Document",
    "dump_pointer",
    "load_json",
    "load_json_file",
    "load_yaml",
    "load_yaml_file",
    "parse_pointer",
]

MAX_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_PROBLEMS = 50  # a file full of aliases must not produce a million problems
MAX_INTEGER_DIGITS = 4000  # below Python's 4,300-digit limit for int <-> text: every integer read can be printed
_INT_BOUND = 10**MAX_INTEGER_DIGITS
_MAX_INT_TEXT = 4 * MAX_INTEGER_DIGITS  # longer text is refused before int() (a hex or octal digit is >= 3 bits)

# The C event parser is ~20x faster and also accepts tabs between flow tokens (as JSON does).
_PURE_LOADER: type = yaml.SafeLoader
_LOADER: type = getattr(yaml, "CSafeLoader", _PURE_LOADER)

_CORE = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_CORE + t for t in ("str", "int", "float", "bool", "null"))
_MAP, _SEQ = _CORE + "map", _CORE + "seq"
_SCALAR_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL})

# YAML 1.2 core schema, except that a decimal with a leading zero is refused rather than guessed.
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_INT_RE = re.compile(r"[-+]?[0-9]+")
_LEADING_ZERO_RE = re.compile(r"[-+]?0[0-9]+")
_HEX_RE = re.compile(r"0x[0-9a-fA-F]+")
_OCT_RE = re.compile(r"0o[0-7]+")
_FLOAT_RE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_SPECIAL_FLOAT_RE = re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
# Characters YAML 1.2 forbids in a stream (C0 controls other than TAB/LF/CR, DEL, C1 except NEL,
# surrogates, U+FFFE/U+FFFF); checked here so both parser backends report them the same way.
_UNPRINTABLE_RE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_BOM = "\ufeff"
_TAG_HINT = "only the YAML core tags !!str, !!int, !!float, !!bool, !!null, !!map and !!seq are allowed"

PathArg = Union[str, "os.PathLike[str]", Traversable]


class _Abort(Exception):
    """Stop composing: the problems so far are all that can be reported."""


# A node's position: (line, column, children); children is a dict (mapping), list (sequence) or None.
_Pos = tuple[int, int, Any]


@dataclass(frozen=True)
class Document:
    """Loaded spec data plus the position of every node, so any JSON pointer maps to file:line:col."""

    data: Any
    file: str
    _positions: _Pos | None = field(default=None, repr=False, compare=False)

    def locate(self, pointer: str) -> tuple[int | None, int | None]:
        """1-based (line, column) of the node at `pointer`, or of its nearest existing ancestor."""
        pos = self._positions
        if pos is None:
            return None, None
        try:
            parts = parse_pointer(pointer)
        except ValueError:
            parts = []
        for part in parts:
            children = pos[2]
            if isinstance(children, dict):
                child = children.get(part)
            elif isinstance(children, list) and part.isdigit() and (part == "0" or part[0] != "0"):
                index = int(part)
                child = children[index] if index < len(children) else None
            else:
                child = None
            if child is None:
                break
            pos = child
        return pos[0], pos[1]

    def problem(self, pointer: str, message: str, hint: str | None = None) -> Problem:
        """A `Problem` at `pointer` in this file, with line and column filled in."""
        line, column = self.locate(pointer)
        return Problem(message, pointer=pointer, file=self.file, line=line, column=column, hint=hint)


# ---------------------------------------------------------------------------------------------
# JSON pointers (RFC 6901)


def dump_pointer(parts: Iterable[str | int]) -> str:
    """Join reference tokens into a JSON pointer, escaping ``~`` and ``/``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def parse_pointer(pointer: str) -> list[str]:
    """Split a JSON pointer into unescaped reference tokens; ``""`` is the whole document."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError("a JSON pointer must be empty or start with '/'")
    parts = pointer[1:].split("/")
    if any("~" in p for p in parts):
        if re.search(r"~(?![01])", pointer):
            raise ValueError("a JSON pointer may only use the escapes ~0 and ~1")
        parts = [p.replace("~1", "/").replace("~0", "~") for p in parts]
    return parts


# ---------------------------------------------------------------------------------------------
# Shared input handling


def _prepare(text: str | bytes, file: str, max_bytes: int, *, yaml_chars: bool = True) -> str:
    """Size-check, decode and BOM-strip the input; refuse characters YAML forbids in a stream."""
    if isinstance(text, str):
        # A character is at least one byte, so only encode when the length alone does not decide.
        size = len(text) if len(text) > max_bytes else len(text.encode("utf-8", "surrogatepass"))
    else:
        size = len(text)
    if size > max_bytes:
        raise SpecError(
            Problem(
                f"file is larger than the limit of {max_bytes} bytes", file=file, hint="split it or raise the limit"
            )
        )
    source = text if isinstance(text, str) else _decode(bytes(text), file)
    if source.startswith(_BOM):
        source = source[1:]
    if not yaml_chars:  # JSON strings may hold any character; json.loads checks the rest
        return source
    problems = []
    for match in _UNPRINTABLE_RE.finditer(source):
        line, column = _line_col(source, match.start())
        problems.append(
            Problem(
                f"control or non-character code point U+{ord(match.group()):04X} is not allowed",
                file=file,
                line=line,
                column=column,
                hint="escape it inside a double-quoted string",
            )
        )
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise SpecError(problems)
    return source


def _decode(raw: bytes, file: str) -> str:
    """UTF-8 only (a BOM is allowed); a bad byte is reported by offset, never by content."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError(
            Problem(
                f"not valid UTF-8 at byte offset {exc.start}",
                file=file,
                line=line,
                column=column,
                hint="save the file as UTF-8",
            )
        ) from None


def _line_col(text: str, index: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def _read(path: PathArg, max_bytes: int, display: str | None) -> tuple[bytes, str]:
    """Read at most `max_bytes` + 1 bytes, so an oversized file is never pulled into memory."""
    name = display or str(path)
    try:
        if isinstance(path, Traversable):
            with path.open("rb") as handle:
                return handle.read(max_bytes + 1), name
        with open(path, "rb") as handle:
            return handle.read(max_bytes + 1), name
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SpecError(Problem(f"cannot read file: {reason}", file=name)) from None


# ---------------------------------------------------------------------------------------------
# YAML


def load_yaml(text: str | bytes, file: str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Document:
    """Parse one YAML document into JSON-compatible data, or raise `SpecError` with every problem."""
    source = _prepare(text, file, max_bytes)
    composer = _compose(source, file, max_depth, _LOADER)
    if composer.syntax_failed and _LOADER is not _PURE_LOADER:
        # libyaml refuses deep flow nesting on its own while scanning ahead, before relaykit sees the events
        # that cross its limit. The pure-Python parser reads lazily, so it reaches relaykit's own depth check
        # first: ask it whether the refusal is about nesting, so the message and position are relaykit's on
        # every backend. This runs only on invalid input.
        second = _compose(source, file, max_depth, _PURE_LOADER)
        if second.depth_exceeded:
            composer = second
    if composer.result is not None and not composer.problems:
        data, positions = composer.result
        return Document(data, file, positions)
    raise SpecError(composer.problems, f"{file}: invalid YAML")


def _compose(source: str, file: str, max_depth: int, loader: type) -> _Composer:
    composer = _Composer(source, file, max_depth, loader)
    try:
        composer.result = composer.compose()
    except _Abort:
        pass
    except RecursionError:  # depth is capped while composing; this is only a second line of defence
        composer.add(None, "nesting is too deep", f"the limit is {max_depth} levels")
        composer.depth_exceeded = True
    return composer


def load_yaml_file(path: PathArg, *, display: str | None = None, **kw: Any) -> Document:
    """Read and load a YAML file (a path or an `importlib.resources` traversable)."""
    raw, name = _read(path, kw.get("max_bytes", MAX_BYTES), display)
    return load_yaml(raw, name, **kw)


class _Composer:
    """Builds plain data from PyYAML events, checking every rule as each node is seen."""

    def __init__(self, text: str, file: str, max_depth: int, loader: type) -> None:
        self.text = text
        self.file = file
        self.max_depth = max_depth
        self.loader = loader
        self.problems: list[Problem] = []
        self.path: list[str | int] = []
        self.depth = 0
        self.result: tuple[Any, _Pos] | None = None
        self.syntax_failed = False
        self.depth_exceeded = False

    # -- reporting

    def add(self, mark: Any, message: str, hint: str | None = None, pointer: str | None = None) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.problems.append(Problem(f"too many problems; stopped after {MAX_PROBLEMS}", file=self.file))
            raise _Abort
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        self.problems.append(
            Problem(
                message,
                pointer=dump_pointer(self.path) if pointer is None else pointer,
                file=self.file,
                line=line,
                column=column,
                hint=hint,
            )
        )

    def syntax_error(self, exc: yaml.YAMLError) -> None:
        """Report a parser error from its `problem` text; `context` is kept only as a phrase."""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        context = getattr(exc, "context", None)
        message = f"{context}: {problem}" if context else problem
        hint = None
        problem_mark = getattr(exc, "problem_mark", None)
        context_mark = getattr(exc, "context_mark", None)
        if problem_mark is not None and self.text[problem_mark.index : problem_mark.index + 1] == "\t":
            hint = "indent with spaces; YAML does not allow tabs for indentation"
        elif (
            context_mark is not None
            and problem_mark is not None
            and (context_mark.line, context_mark.column) != (problem_mark.line, problem_mark.column)
        ):
            hint = f"started at line {context_mark.line + 1}, column {context_mark.column + 1}"
        self.syntax_failed = True
        self.add(problem_mark or context_mark, f"syntax error: {message}", hint)

    # -- events

    def compose(self) -> tuple[Any, _Pos]:
        try:
            parser = self.loader(self.text)
        except yaml.YAMLError as exc:  # the pure-Python reader checks the whole stream up front
            self.syntax_error(exc)
            raise _Abort from None
        self.parser = parser
        try:
            self.next_event()  # StreamStartEvent
            event = self.next_event()
            if isinstance(event, yaml.StreamEndEvent):
                self.add(event.start_mark, "empty document", "a spec file needs content")
                raise _Abort
            event = self.next_event()
            if isinstance(event, yaml.ScalarEvent) and event.tag is None and event.implicit[0] and event.value == "":
                self.add(event.start_mark, "empty document", "a spec file needs content")
                raise _Abort
            data, pos = self.node(event)
            self.next_event()  # DocumentEndEvent
            event = self.next_event()
            if not isinstance(event, yaml.StreamEndEvent):
                self.add(
                    event.start_mark,
                    "more than one document in the file",
                    "remove the second '---' or split the file",
                    pointer="",
                )
                raise _Abort
            return data, pos
        finally:
            parser.dispose()

    def next_event(self) -> Any:
        try:
            return self.parser.get_event()
        except yaml.YAMLError as exc:
            self.syntax_error(exc)
            raise _Abort from None

    def node(self, event: Any) -> tuple[Any, _Pos]:
        mark = event.start_mark
        pos_line, pos_col = mark.line + 1, mark.column + 1
        if isinstance(event, yaml.AliasEvent):
            self.add(mark, "aliases are not allowed", "repeat the value instead of using '*'")
            return None, (pos_line, pos_col, None)
        if event.anchor is not None:
            self.add(mark, "anchors are not allowed", "remove the '&' anchor")
        if isinstance(event, yaml.ScalarEvent):
            return self.scalar(event), (pos_line, pos_col, None)
        self.depth += 1
        if self.depth > self.max_depth:
            self.depth_exceeded = True
            self.add(mark, f"nesting is deeper than {self.max_depth} levels")
            raise _Abort
        try:
            if isinstance(event, yaml.MappingStartEvent):
                if event.tag is not None and event.tag != _MAP:
                    self.add(mark, "tag not allowed here", _TAG_HINT)
                return self.mapping(pos_line, pos_col)
            if event.tag is not None and event.tag != _SEQ:
                self.add(mark, "tag not allowed here", "only the YAML core tags are supported")
            return self.sequence(pos_line, pos_col)
        finally:
            self.depth -= 1

    def mapping(self, line: int, column: int) -> tuple[Any, _Pos]:
        data: dict[str, Any] = {}
        children: dict[str, _Pos] = {}
        key_lines: dict[str, int] = {}
        while True:
            event = self.next_event()
            if isinstance(event, yaml.MappingEndEvent):
                return data, (line, column, children)
            key = self.key(event)
            # The value is composed even when the key is bad, so its problems are reported too.
            self.path.append(key if isinstance(key, str) else "?")
            try:
                value, pos = self.node(self.next_event())
            finally:
                self.path.pop()
            if not isinstance(key, str):
                continue
            key_line = event.start_mark.line + 1
            if key in key_lines:
                self.add(
                    event.start_mark,
                    f"duplicate key (first defined at line {key_lines[key]}, again at line {key_line})",
                    "each key may appear once in a mapping",
                    pointer=dump_pointer([*self.path, key]),
                )
                continue
            key_lines[key] = key_line
            data[key] = value
            children[key] = pos

    def sequence(self, line: int, column: int) -> tuple[Any, _Pos]:
        data: list[Any] = []
        children: list[_Pos] = []
        while True:
            event = self.next_event()
            if isinstance(event, yaml.SequenceEndEvent):
                return data, (line, column, children)
            self.path.append(len(data))
            try:
                value, pos = self.node(event)
            finally:
                self.path.pop()
            data.append(value)
            children.append(pos)

    def key(self, event: Any) -> str | None:
        """A mapping key: a string scalar, or None after reporting why it is not one."""
        if not isinstance(event, yaml.ScalarEvent):
            self.node(event)  # report aliases/anchors inside, then drop it
            self.add(event.start_mark, "mapping keys must be strings", "use a plain or quoted string key")
            return None
        if event.anchor is not None:
            self.add(event.start_mark, "anchors are not allowed", "remove the '&' anchor")
        plain = event.tag is None and event.implicit[0]
        if plain and event.value == "<<":
            self.add(event.start_mark, "merge keys ('<<') are not allowed", "write the keys out")
            return None
        if event.tag in (None, _STR) and not plain:
            return event.value
        if event.tag is None and _resolve_plain(event.value) is str:
            return event.value
        self.add(event.start_mark, "mapping keys must be strings", "quote the key")
        return None

    def scalar(self, event: Any) -> Any:
        """Resolve a scalar by the YAML 1.2 core schema (explicit core tags are honoured)."""
        tag, value, mark = event.tag, event.value, event.start_mark
        if tag is None:
            if not event.implicit[0]:  # quoted or block scalar
                return value
            tag = _resolve_plain(value)
            if tag is str:
                return value
        elif tag not in _SCALAR_TAGS:
            self.add(mark, "tag not allowed", _TAG_HINT)
            return None
        if tag == _STR:
            return value
        if tag == _NULL:
            if value in _NULLS:
                return None
            self.add(mark, "not a valid null", "use null, ~ or nothing")
        elif tag == _BOOL:
            if value in _TRUE or value in _FALSE:
                return value in _TRUE
            self.add(mark, "not a valid boolean", "use true or false; quote other words")
        elif tag == _INT:
            if _LEADING_ZERO_RE.fullmatch(value):
                self.add(mark, "ambiguous number with a leading zero", "quote it if it is an identifier")
            elif not (_INT_RE.fullmatch(value) or _HEX_RE.fullmatch(value) or _OCT_RE.fullmatch(value)):
                self.add(mark, "not a valid integer")
            else:
                number = _yaml_int(value)
                if number is not None:
                    return number
                self.add(mark, f"integer has more than {MAX_INTEGER_DIGITS} digits", "quote it if it is an identifier")
        elif _SPECIAL_FLOAT_RE.fullmatch(value):
            self.add(mark, "NaN and infinity are not valid JSON numbers")
        elif _FLOAT_RE.fullmatch(value):
            number = float(value)
            if math.isfinite(number):
                return number
            self.add(mark, "number is too large for a JSON float")
        else:
            self.add(mark, "not a valid float")
        return None


def _yaml_int(value: str) -> int | None:
    """A decimal, hex or octal integer of at most `MAX_INTEGER_DIGITS` decimal digits, else None."""
    if value[1:2] in ("x", "o"):  # int() is linear in these bases, and the text is capped first
        number = int(value, 0) if len(value) <= _MAX_INT_TEXT else _INT_BOUND
        return number if number < _INT_BOUND else None
    return int(value, 10) if len(value.lstrip("+-")) <= MAX_INTEGER_DIGITS else None


def _resolve_plain(value: str) -> Any:
    """The core-schema tag of an untagged plain scalar, or `str` when it is just text."""
    if not value:
        return _NULL
    first = value[0]
    # Fast path: most scalars are words, and only these characters can start a non-string.
    if first not in "0123456789+-.~nNtTfF":
        return str
    if value in _NULLS:
        return _NULL
    if value in _TRUE or value in _FALSE:
        return _BOOL
    if _INT_RE.fullmatch(value) or _HEX_RE.fullmatch(value) or _OCT_RE.fullmatch(value):
        return _INT
    if _FLOAT_RE.fullmatch(value) or _SPECIAL_FLOAT_RE.fullmatch(value):
        return _FLOAT
    return str


# ---------------------------------------------------------------------------------------------
# JSON


def load_json(text: str | bytes, file: str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Document:
    """Parse strict JSON (no duplicate keys, no NaN/Infinity) with node positions, or raise `SpecError`."""
    source = _prepare(text, file, max_bytes, yaml_chars=False)
    if not source.strip():
        raise SpecError(Problem("empty document", file=file, hint="a spec file needs content"))
    try:
        data = json.loads(source, parse_constant=lambda _name: None, parse_int=_parse_int, parse_float=_parse_float)
    except json.JSONDecodeError as exc:
        # The decoder's `msg` names the expected token, never the document text.
        raise SpecError(
            Problem(f"syntax error: {exc.msg}", file=file, line=exc.lineno, column=exc.colno),
            f"{file}: invalid JSON",
        ) from None
    except RecursionError:
        raise SpecError(
            Problem(f"nesting is deeper than {max_depth} levels", file=file), f"{file}: invalid JSON"
        ) from None
    indexer = _JsonIndexer(source, file, max_depth)
    positions = indexer.run()
    if indexer.problems:
        raise SpecError(indexer.problems, f"{file}: invalid JSON")
    return Document(data, file, positions)


def _parse_int(text: str) -> int | None:
    """An integer the rest of relaykit can print; None (reported by the indexer, with its place) otherwise."""
    return int(text) if len(text.lstrip("-")) <= MAX_INTEGER_DIGITS else None


def _parse_float(text: str) -> float | None:
    number = float(text)
    return number if math.isfinite(number) else None


def load_json_file(path: PathArg, *, display: str | None = None, **kw: Any) -> Document:
    """Read and load a JSON file (a path or an `importlib.resources` traversable)."""
    raw, name = _read(path, kw.get("max_bytes", MAX_BYTES), display)
    return load_json(raw, name, **kw)


_JSON_WS = re.compile(r"[ \t\n\r]*")
_JSON_INT = re.compile(r"-?[0-9]+")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


def _skip_ws(text: str, index: int) -> int:
    match = _JSON_WS.match(text, index)
    return match.end() if match else index


_JSON_WORDS = ("true", "false", "null", "NaN", "Infinity", "-Infinity")


class _JsonIndexer:
    """Walks text that `json.loads` already accepted, recording positions, duplicates, depth, NaN.

    Iterative (an explicit stack), so it cannot hit the recursion limit.
    """

    def __init__(self, text: str, file: str, max_depth: int) -> None:
        self.text = text
        self.file = file
        self.max_depth = max_depth
        self.problems: list[Problem] = []
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def where(self, index: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.line_starts, index)
        return line, index - self.line_starts[line - 1] + 1

    def add(self, index: int, path: list[str | int], message: str, hint: str | None = None) -> None:
        line, column = self.where(index)
        self.problems.append(Problem(message, dump_pointer(path), self.file, line, column, hint))

    def run(self) -> _Pos | None:
        text = self.text
        scanstring = json.decoder.scanstring  # type: ignore[attr-defined]
        # Each frame: [children, path key of the next child, seen-key lines (mappings only)].
        stack: list[list[Any]] = []
        path: list[str | int] = []
        root: _Pos | None = None
        i = _skip_ws(text, 0)
        expect_value = True
        while True:
            if expect_value:
                start = i
                pos_line, pos_col = self.where(i)
                ch = text[i]
                if ch in "{[":
                    if len(stack) >= self.max_depth:
                        self.add(i, path, f"nesting is deeper than {self.max_depth} levels")
                        return None
                    children: Any = {} if ch == "{" else []
                    node: _Pos = (pos_line, pos_col, children)
                    self.attach(stack, root, node)
                    if root is None:
                        root = node
                    stack.append([children, None, {} if ch == "{" else None])
                    i = _skip_ws(text, i + 1)
                    if text[i] in "}]":
                        i += 1
                        stack.pop()
                        expect_value = False
                    elif ch == "{":
                        i = self.key(stack, path, i)
                    else:
                        path.append(0)
                        stack[-1][1] = 0
                    continue
                if ch == '"':
                    _, i = scanstring(text, i + 1, True)
                elif ch in "-0123456789" and not text.startswith("-Infinity", i):
                    number = _JSON_NUMBER.match(text, i)  # json.loads validated it
                    i = number.end()  # type: ignore[union-attr]
                    self.number(start, path, number.group())  # type: ignore[union-attr]
                else:
                    word = next(w for w in _JSON_WORDS if text.startswith(w, i))
                    if word in ("NaN", "Infinity", "-Infinity"):
                        self.add(start, path, "NaN and Infinity are not valid JSON")
                    i += len(word)
                node = (pos_line, pos_col, None)
                self.attach(stack, root, node)
                if root is None:
                    root = node
                expect_value = False
            # After a value: ',' continues the container, '}'/']' closes it.
            if not stack:
                return root
            i = _skip_ws(text, i)
            ch = text[i]
            path.pop()
            if ch == ",":
                i = _skip_ws(text, i + 1)
                frame = stack[-1]
                if frame[2] is not None:
                    i = self.key(stack, path, i)
                else:
                    frame[1] += 1
                    path.append(frame[1])
                expect_value = True
            else:
                i += 1
                stack.pop()
                if not stack:
                    return root
                expect_value = False  # the closed container is a finished value of its parent

    def number(self, index: int, path: list[str | int], text: str) -> None:
        """Report what `_parse_int` / `_parse_float` turned into None: too many digits, or beyond a float."""
        if _JSON_INT.fullmatch(text):
            if _parse_int(text) is None:
                self.add(index, path, f"integer has more than {MAX_INTEGER_DIGITS} digits")
        elif _parse_float(text) is None:
            self.add(index, path, "number is too large for a JSON float")

    def key(self, stack: list[list[Any]], path: list[str | int], i: int) -> int:
        """Read `"key" :` at `i`; report a duplicate; leave `path` pointing at the key's value."""
        frame = stack[-1]
        key, end = json.decoder.scanstring(self.text, i + 1, True)  # type: ignore[attr-defined]
        line = self.where(i)[0]
        seen: dict[str, int] = frame[2]
        if key in seen:
            self.add(
                i,
                [*path, key],
                f"duplicate key (first defined at line {seen[key]}, again at line {line})",
                "each key may appear once in an object",
            )
            frame[1] = _DUPLICATE
        else:
            seen[key] = line
            frame[1] = key
        path.append(key)
        end = _skip_ws(self.text, end)
        return _skip_ws(self.text, end + 1)  # skip ':'

    @staticmethod
    def attach(stack: list[list[Any]], root: _Pos | None, node: _Pos) -> None:
        if not stack:
            return
        children, key, _ = stack[-1]
        if isinstance(children, dict):
            if key is not _DUPLICATE:
                children[key] = node
        else:
            children.append(node)


_DUPLICATE = object()
