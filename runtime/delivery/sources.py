"""Streamed bulk input: JSONL, a JSON array, CSV coerced by the operation's input schema, stdin, dead letters.

Every reader yields one `Record` per item and holds one item at a time, so a backfill of any size
reads in bounded memory. A line that does not decode is not fatal: it becomes a `Record` with a
`problem` (file:line and the reason), which `relaykit bulk` counts as rejected. A dead-letter
record (what `DeadLetterFile` writes) reads back as the item it carries, dedupe id included, so a
dead-letter file is itself input for a resend that lands each item once.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from ..errors import BulkError
from ..specs.values import json_text_is_plain
from .dead_letters import unwrap

FORMATS = ("jsonl", "json", "csv")
_decode = json.JSONDecoder().decode  # str in: skips json.loads' per-call encoding detection
_ABSENT = object()


@dataclass(frozen=True)
class Record:
    """One input item (`value`), where it came from (`file:line`), and why it could not be read, if so."""

    value: Any
    where: str
    problem: str | None = None
    plain: bool = False
    """The value came from JSON text that holds nothing the hostile-value walk refuses (see `json_text_is_plain`)."""


def read_jsonl(stream: IO[bytes], name: str) -> Iterator[Record]:
    """One JSON value per line; blank lines are skipped, undecodable ones become problem records."""
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            text = line.decode("utf-8")
            value = _decode(text)
        except UnicodeDecodeError:
            yield Record(None, where, "is not UTF-8 text")
        except ValueError as exc:
            reason = getattr(exc, "msg", "invalid JSON")
            yield Record(None, where, f"is not valid JSON ({reason})")
        else:
            yield Record(unwrap(value), where, plain=json_text_is_plain(text))


def read_json_array(stream: IO[bytes], name: str) -> Iterator[Record]:
    """The items of one top-level JSON array, streamed (ijson, from the `bulk` extra)."""
    try:
        import ijson
    except ImportError:
        raise BulkError(f"{name}: reading a JSON array needs ijson: pip install 'relaykit[bulk]' "
                        "(or give JSON Lines, one item per line)") from None
    index = -1
    try:
        for index, value in enumerate(ijson.items(stream, "item", use_float=True)):
            yield Record(unwrap(value), f"{name}[{index}]")
    except ijson.JSONError as exc:
        raise BulkError(f"{name}: the JSON array breaks after item {index + 1}: {exc}") from None


class CsvCoercer:
    """Turns CSV text cells into the JSON types an operation's input schema asks for.

    `"42"` becomes 42 where the schema says integer, `"true"` becomes true for a boolean, JSON text
    becomes an object or array, and an empty cell leaves the field out. A cell that does not fit its
    type stays text, so validation names it with its pointer. Dotted headers (`data.plan`) nest.
    """

    def __init__(self, schema: Mapping[str, Any], registry: Any) -> None:
        self._schema = schema
        self._resolver = registry.resolver(base_uri=schema.get("$id", "")) if registry is not None else None
        self._columns: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {}

    def _types(self, path: tuple[str, ...]) -> frozenset[str]:
        node, resolver = self._schema, self._resolver
        for part in path:
            node, resolver = self._deref(node, resolver)
            props = node.get("properties", {}) if isinstance(node, Mapping) else {}
            if part not in props:
                return frozenset()
            node = props[part]
        return self._node_types(node, resolver)

    def _deref(self, node: Any, resolver: Any) -> tuple[Any, Any]:
        for _ in range(16):
            if not (isinstance(node, Mapping) and "$ref" in node and resolver is not None):
                break
            resolved = resolver.lookup(node["$ref"])
            node, resolver = resolved.contents, resolved.resolver
        return node, resolver

    def _node_types(self, node: Any, resolver: Any) -> frozenset[str]:
        node, resolver = self._deref(node, resolver)
        if not isinstance(node, Mapping):
            return frozenset()
        kind = node.get("type")
        if isinstance(kind, str):
            return frozenset({kind})
        if isinstance(kind, list):
            return frozenset(kind)
        values = node.get("enum", [node["const"]] if "const" in node else None)
        if values is not None:
            return frozenset(_json_type(v) for v in values)
        found: set[str] = set()
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, ()):
                found |= self._node_types(sub, resolver)
        return frozenset(found)

    def column(self, header: str) -> tuple[tuple[str, ...], frozenset[str]]:
        hit = self._columns.get(header)
        if hit is None:
            path = tuple(header.split("."))
            hit = self._columns[header] = (path, self._types(path))
        return hit

    def row(self, cells: Mapping[str, str | None]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for header, text in cells.items():
            if header is None or text is None:
                continue
            path, types = self.column(header)
            value = coerce_cell(text, types)
            if value is _ABSENT:
                continue
            node = out
            for part in path[:-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node[path[-1]] = value
        return out


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if value is None:
        return "null"
    return "array" if isinstance(value, list) else "object" if isinstance(value, dict) else "string"


_TRUE, _FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no"})


def coerce_cell(text: str, types: frozenset[str]) -> Any:
    """One CSV cell as the schema's types want it (see `CsvCoercer`); `_ABSENT` for an empty cell."""
    if text == "":
        return _ABSENT
    if not types or "string" in types:
        return text
    stripped = text.strip()
    if "integer" in types:
        try:
            return int(stripped)
        except ValueError:
            pass
    if "number" in types:
        try:
            number = float(stripped)
        except ValueError:
            pass
        else:
            if number == number and abs(number) != float("inf"):
                return int(number) if number.is_integer() and "." not in stripped and "e" not in stripped.lower() \
                    else number
    if "boolean" in types and stripped.lower() in _TRUE | _FALSE:
        return stripped.lower() in _TRUE
    if "null" in types and stripped.lower() == "null":
        return None
    if types & {"object", "array"}:
        try:
            value = json.loads(stripped)
        except ValueError:
            return text
        if _json_type(value) in types:
            return value
    return text


def read_csv(stream: IO[bytes], name: str, coercer: CsvCoercer) -> Iterator[Record]:
    """One item per row after the header row, cells coerced by the operation's input schema."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    try:
        for row in reader:
            where = f"{name}:{reader.line_num}"
            if None in row:
                yield Record(None, where, "has more cells than the header row")
                continue
            yield Record(coercer.row(row), where)
    except UnicodeDecodeError:
        raise BulkError(f"{name}: is not UTF-8 text") from None
    except csv.Error as exc:
        raise BulkError(f"{name}:{reader.line_num}: is not valid CSV ({exc})") from None


def detect_format(path: str, head: bytes) -> str:
    """jsonl, json or csv from the file name, else from the first byte (`[` is a JSON array)."""
    lower = path.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    return "json" if head.lstrip()[:1] == b"[" else "jsonl"


def count_items(path: str, fmt: str) -> int | None:
    """Items in a regular JSONL or CSV file, by counting non-blank lines (for the progress ETA); else None."""
    if path == "-" or fmt == "json" or not os.path.isfile(path):
        return None
    count = 0
    with open(path, "rb") as stream:
        for line in stream:
            count += bool(line.strip())
    return max(0, count - 1) if fmt == "csv" else count


def open_records(path: str, fmt: str | None = None, coercer: CsvCoercer | None = None
                 ) -> tuple[Iterator[Record], str, IO[bytes]]:
    """Records from `path` (or `-` for stdin), its format, and the open stream (the caller closes it)."""
    if fmt is not None and fmt not in FORMATS:
        raise BulkError(f"unknown input format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if path == "-":
        stream: IO[bytes] = sys.stdin.buffer
        name = "<stdin>"
    else:
        try:
            stream = open(path, "rb")
        except OSError as exc:
            raise BulkError(f"{path}: cannot read the input ({exc.strerror})") from None
        name = path
    peek = getattr(stream, "peek", None)
    head = peek(64)[:64] if peek is not None else b""
    fmt = fmt or detect_format(path if path != "-" else "", head)
    if fmt == "csv":
        if coercer is None:
            raise BulkError("CSV input needs the operation's input schema to coerce its cells")
        return read_csv(stream, name, coercer), fmt, stream
    if fmt == "json":
        return read_json_array(stream, name), fmt, stream
    return read_jsonl(stream, name), fmt, stream
