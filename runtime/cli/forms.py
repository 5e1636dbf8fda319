"""`relaykit describe` as a form: each field with its type, required mark, choices, default, example, help.

It reads the self-contained schemas `Runtime.describe` returns and lays them out as the form a
workflow tool (Tray, n8n) would draw: nested object fields as `parent.child`, list items as
`parent[].child`, recursive definitions named once, connection fields with secrets marked and the
environment variable each one is read from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["describe_lines", "field_rows", "type_name"]

_MAX_DEPTH = 3
_VALUE_WIDTH = 60


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _VALUE_WIDTH else text[:_VALUE_WIDTH - 3] + "..."


def type_name(schema: Any) -> str:
    """A reader's name for a schema's type: `string (date-time)`, `list of string`, `object | string`."""
    if not isinstance(schema, Mapping) or not schema:
        return "any"
    if "$ref" in schema and str(schema["$ref"]).startswith("#/$defs/"):
        return str(schema["$ref"]).rsplit("/", 1)[-1].replace("_", " ")
    kind = schema.get("type")
    if isinstance(kind, list):
        name = " or ".join(str(k) for k in kind)
    elif isinstance(kind, str):
        name = kind
    elif "const" in schema:
        name = "constant"
    elif "enum" in schema:
        kinds = sorted({type(v).__name__ for v in schema["enum"]})
        name = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}.get(kinds[0], "any") \
            if len(kinds) == 1 else "any"
    elif "properties" in schema:
        name = "object"
    else:
        variants = schema.get("oneOf") or schema.get("anyOf")
        if isinstance(variants, list) and variants:
            return " | ".join(dict.fromkeys(_variant_name(v) for v in variants))
        return "any"
    if name == "array":
        items = schema.get("items")
        name = f"list of {type_name(items)}" if isinstance(items, Mapping) and items else "list"
    if isinstance(schema.get("format"), str):
        name += f" ({schema['format']})"
    return name


def _variant_name(schema: Any) -> str:
    if isinstance(schema, Mapping) and schema.get("title") and not schema.get("type"):
        return str(schema["title"])
    return type_name(schema)


def _details(schema: Mapping[str, Any], example: Any, secret: bool) -> list[str]:
    parts = []
    if "const" in schema:
        parts.append(f"always {_short(schema['const'])}")
    if isinstance(schema.get("enum"), list):
        parts.append("one of: " + ", ".join(_short(v) for v in schema["enum"]))
    if "default" in schema:
        parts.append(f"default: {_short(schema['default'])}")
    examples = schema.get("examples")
    if isinstance(examples, list) and examples and not secret:
        parts.append(f"example: {_short(examples[0])}")
    elif example is not None and not secret:
        parts.append(f"example: {_short(example)}")
    return parts


def _help(schema: Mapping[str, Any]) -> str:
    title, description = schema.get("title"), schema.get("description")
    if title and description:
        return f"{title}: {description}"
    return str(description or title or "")


def field_rows(schema: Any, examples: Mapping[str, Any] | None = None, *, prefix: str = "",
               depth: int = 0) -> Iterator[dict[str, Any]]:
    """One row per field of an object schema (nested fields included): name, type, required, details, help."""
    if not isinstance(schema, Mapping):
        return
    required = set(schema.get("required") or [])
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, Mapping):
            continue
        path = f"{prefix}{name}"
        example = (examples or {}).get(name) if isinstance(examples, Mapping) else None
        secret = bool(sub.get("secret"))
        yield {"field": path, "type": type_name(sub), "required": name in required, "secret": secret,
               "details": _details(sub, example, secret), "help": _help(sub)}
        if depth + 1 >= _MAX_DEPTH:
            continue
        if sub.get("properties"):
            yield from field_rows(sub, example if isinstance(example, Mapping) else None, prefix=f"{path}.",
                                  depth=depth + 1)
        items = sub.get("items")
        if isinstance(items, Mapping) and items.get("properties"):
            first = example[0] if isinstance(example, list) and example else None
            yield from field_rows(items, first if isinstance(first, Mapping) else None, prefix=f"{path}[].",
                                  depth=depth + 1)


def _section(title: str, rows: list[dict[str, Any]], extra: dict[str, str] | None = None) -> list[str]:
    if not rows:
        return [f"  {title}: (none)"]
    lines = [f"  {title} (* required):"]
    width = min(max(len(r["field"]) for r in rows), 28)
    for row in rows:
        mark = "*" if row["required"] else " "
        kind = row["type"] + (", secret" if row["secret"] else "")
        lines.append(f"   {mark} {row['field']:<{width}}  {kind}")
        details = list(row["details"])
        if extra and row["field"] in extra:
            details.append(extra[row["field"]])
        pad = " " * (width + 7)
        if details:
            lines.append(pad + "; ".join(details))
        if row["help"]:
            lines.append(pad + row["help"])
    return lines


def describe_lines(info: Mapping[str, Any], env_prefix: str) -> list[str]:
    """The text of `relaykit describe`: header, input fields, output fields, connection fields."""
    lines = [f"{info['name']}: {info['title']}"]
    if info.get("description"):
        lines.append(f"  {info['description']}")
    if info.get("request"):
        lines.append(f"  request: {info['request']['method']} {info['request']['path']}  "
                     f"(idempotency: {info['idempotency']}, rate class: {info['rate_limit_class']})")
    if info.get("docs_url"):
        lines.append(f"  docs: {info['docs_url']}")
    example = next((e.get("input") for e in info.get("examples") or [] if isinstance(e, Mapping)), None)
    lines.append("")
    lines.extend(_section("input", list(field_rows(info["input_schema"], example))))
    lines.append("")
    output = info.get("output_schema")
    rows = list(field_rows(output)) if output else []
    if output and not rows:
        lines.append(f"  output: {type_name(output)}" + (f"  {_help(output)}" if _help(output) else ""))
    else:
        lines.extend(_section("output", rows))
    lines.append("")
    connection = info["connection_schema"]
    variables = {f: f"from ${env_prefix}{f.upper()}" for f in (connection.get("properties") or {})}
    lines.extend(_section("connection", list(field_rows(connection, depth=_MAX_DEPTH - 1)), variables))
    for sample in (info.get("examples") or [])[:1]:
        lines.append("")
        lines.append("  example input: " + json.dumps(sample.get("input"), ensure_ascii=False))
    return lines
