"""Command-line plumbing shared by every `relaykit` command: usage errors, data arguments, JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_CALL_FAILED, EXIT_USAGE = 0, 1, 2  # success; the call failed; bad usage, spec or input


class UsageError(Exception):
    """Bad command-line usage (exit 2)."""


def print_json(data: Any) -> None:
    """Pretty JSON on stdout, scrubbed of every registered secret."""
    from ..redact import REDACTOR

    sys.stdout.write(REDACTOR.scrub(json.dumps(data, indent=2, ensure_ascii=False, default=str)) + "\n")


MAX_DATA_BYTES = 16 << 20  # an --input file may hold a large batch; spec files are capped lower


def read_data_arg(value: str | None, what: str) -> Any:
    """JSON text, `@path` to a JSON or YAML file, or `-` for standard input.

    Parsed by the strict spec loader (depth, integer size, duplicate keys, NaN), never by a bare
    `json.loads`, so hostile data is a usage error with file:line, not a traceback.
    """
    from ..errors import SpecError
    from ..specs.documents import load_json, load_yaml
    from ..specs.values import MAX_VALUE_DEPTH

    if value is None:
        return None
    kind = "JSON"
    if value == "-":
        raw: str | bytes = sys.stdin.read()
        source = "<stdin>"
    elif value.startswith("@"):
        path = Path(value[1:])
        try:
            raw = path.read_bytes()
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            reason = getattr(exc, "strerror", None) or "not a usable file name"
            raise UsageError(f"--{what}: cannot read {value[1:]!r}: {reason}") from None
        source = str(path)
        kind = "YAML" if path.suffix in (".yaml", ".yml") else "JSON"
    else:
        raw, source = value, f"--{what}"
    load = load_yaml if kind == "YAML" else load_json
    try:
        return load(raw, source, max_bytes=MAX_DATA_BYTES, max_depth=MAX_VALUE_DEPTH).data
    except SpecError as exc:
        lines = [f"--{what} is not valid {kind}: {problem}" for problem in exc.problems[:5]]
        raise UsageError("\n".join(lines)) from None


def read_connection_arg(value: str | None, what: str = "connection") -> Any:
    """`--connection`: `ref:NAME` (plugins, then `RELAYKIT_NAME_*`), JSON, @file, or None for the environment."""
    if value and value.startswith("ref:"):
        return value[4:]
    connection = read_data_arg(value, what)
    if connection is not None and not isinstance(connection, dict):
        raise UsageError(f"--{what} must be a JSON object of connection fields (or ref:NAME for a reference)")
    return connection


def make_runtime(args: argparse.Namespace, *, check_everything: bool = False) -> Any:
    """The runtime a command works with; `check_everything` also checks relaykit's own specs (validate)."""
    from ..runtime import Runtime

    return Runtime(strict_output=getattr(args, "strict", False), trust_builtin_specs=not check_everything)
