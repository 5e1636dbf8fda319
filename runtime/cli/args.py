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


def read_data_arg(value: str | None, what: str) -> Any:
    """JSON text, `@path` to a JSON or YAML file, or `-` for standard input."""
    if value is None:
        return None
    if value == "-":
        text, source = sys.stdin.read(), "<stdin>"
    elif value.startswith("@"):
        path = Path(value[1:])
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"--{what}: cannot read {path}: {exc.strerror}") from None
        source = str(path)
        if path.suffix in (".yaml", ".yml"):
            from ..specs.documents import load_yaml

            return load_yaml(raw, source).data
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{source}: --{what} is not UTF-8 text") from None
    else:
        text, source = value, f"--{what}"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source}:{exc.lineno}:{exc.colno}: --{what} is not valid JSON ({exc.msg})") from None


def make_runtime(args: argparse.Namespace, *, check_everything: bool = False) -> Any:
    """The runtime a command works with; `check_everything` also checks relaykit's own specs (validate)."""
    from ..runtime import Runtime

    return Runtime(strict_output=getattr(args, "strict", False), trust_builtin_specs=not check_everything)
