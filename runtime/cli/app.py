"""The `relaykit` command: list, describe, validate and call operations, and run the sandbox.

Exit codes: 0 success; 1 the call failed (the API or the network said no); 2 bad usage, spec,
connection or input (nothing was sent). Errors print one line per problem and never a traceback
unless `--debug`; secrets are scrubbed from everything printed, tracebacks included. Heavy modules
are imported inside the commands that need them, so `relaykit --help` stays instant.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from .args import UsageError, print_json, read_data_arg

EXIT_OK, EXIT_CALL_FAILED, EXIT_USAGE = 0, 1, 2


def _runtime(args: argparse.Namespace, *, check_everything: bool = False) -> Any:
    from ..runtime import Runtime

    return Runtime(strict_output=getattr(args, "strict", False), trust_builtin_specs=not check_everything)


# -- commands -------------------------------------------------------------------------------------
def cmd_connectors(args: argparse.Namespace) -> int:
    """List connectors."""
    rt = _runtime(args)
    infos = rt.connectors()
    if args.json:
        print_json(infos)
        return EXIT_OK
    for info in infos:
        print(f"{info['name']:<24} {info['version']:<8} {info['title']}")
        print(f"{'':<24} regions: {', '.join(info['regions'])}; operations: {len(info['operations'])}")
    return EXIT_OK


def cmd_operations(args: argparse.Namespace) -> int:
    """List operations."""
    rt = _runtime(args)
    names = rt.operations(args.connector)
    if args.json:
        print_json([rt.describe(n) | {"input_schema": None, "output_schema": None, "connection_schema": None}
                     for n in names])
        return EXIT_OK
    for name in names:
        op = rt.operation(name)
        print(f"{name:<52} {op.title}")
    return EXIT_OK


def cmd_describe(args: argparse.Namespace) -> int:
    """Show one operation."""
    rt = _runtime(args)
    info = rt.describe(args.name)
    if args.json:
        print_json(info)
        return EXIT_OK
    if "input_schema" not in info:
        print_json(info)
        return EXIT_OK
    print(f"{info['name']}: {info['title']}")
    if info.get("description"):
        print(f"  {info['description']}")
    if info.get("request"):
        print(f"  request: {info['request']['method']} {info['request']['path']}  "
              f"(idempotency: {info['idempotency']}, rate class: {info['rate_limit_class']})")
    print("  input:")
    schema = info["input_schema"]
    required = set(schema.get("required", []))
    for field, sub in (schema.get("properties") or {}).items():
        kind = sub.get("type") or ("enum" if "enum" in sub else "ref" if "$ref" in sub else "any")
        mark = "*" if field in required else " "
        print(f"   {mark} {field:<22} {kind!s:<10} {sub.get('description', '')}")
    print("  connection:")
    conn = info["connection_schema"]
    for field, sub in conn.get("properties", {}).items():
        secret = " (secret)" if sub.get("secret") else ""
        mark = "*" if field in set(conn.get("required", [])) else " "
        print(f"   {mark} {field:<22} {sub.get('title', '')}{secret}")
    for example in info.get("examples", [])[:1]:
        print("  example input: " + json.dumps(example["input"], ensure_ascii=False))
    return EXIT_OK


def cmd_plugins(args: argparse.Namespace) -> int:
    """List plugins."""
    rt = _runtime(args)
    infos = rt.plugins()
    if args.json:
        print_json([i.to_dict() for i in infos])
        return EXIT_OK
    for info in infos:
        print(f"{info.name:<24} {info.distribution} {info.version}  hooks: {', '.join(info.hooks)}")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate spec files."""
    from .validate import validate_paths

    rt = _runtime(args, check_everything=True)
    problems, checked = validate_paths(rt, args.files)
    if args.json:
        print_json({"ok": not problems, "checked": checked, "problems": [p.to_dict() for p in problems]})
    else:
        for problem in problems:
            print(problem, file=sys.stderr)
        if not problems:
            print(f"ok: {len(checked)} file(s) valid" if args.files else f"ok: {len(checked)} spec(s) valid")
    return EXIT_USAGE if problems else EXIT_OK


def cmd_call(args: argparse.Namespace) -> int:
    """Run (or dry-run) one operation."""
    rt = _runtime(args)
    data = read_data_arg(args.input, "input")
    if data is None:
        data = {}
    connection: Any = None
    if args.connection and args.connection.startswith("ref:"):
        connection = args.connection[4:]
    else:
        connection = read_data_arg(args.connection, "connection")
    sandbox = None
    if args.sandbox:
        from ..sandbox import Sandbox

        sandbox = Sandbox().start()
        connector = args.name.split(".", 1)[0]
        connection = {**sandbox.connection(connector), **(connection or {})}
    try:
        if args.dry_run or args.curl:
            request = rt.dry_run(args.name, data, connection)
            if args.curl:
                print(request.to_curl())
            elif args.json:
                print_json(request.to_dict())
            else:
                print_json(request.to_dict())
            return EXIT_OK
        result = rt.run(args.name, data, connection)
        if args.json:
            print_json(result.to_dict())
        else:
            print_json(result.output)
            print(f"status {result.status}, {result.attempts} attempt(s), {result.elapsed * 1000:.1f} ms",
                  file=sys.stderr)
        return EXIT_OK
    finally:
        if sandbox is not None:
            sandbox.stop()
        rt.close()


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Serve the sandbox until interrupted."""
    from ..sandbox import cli as sandbox_cli

    return sandbox_cli.run(args)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo tour."""
    from .demo import run_demo

    return run_demo(json_output=args.json)


# -- parser ---------------------------------------------------------------------------------------
def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argparse parser for every command."""
    parser = argparse.ArgumentParser(prog="relaykit", description="Run workflow connector operations.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks (secrets still scrubbed)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def add(name: str, func: Any, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        p.set_defaults(func=func)
        return p

    add("connectors", cmd_connectors, "list installed connectors")
    p = add("operations", cmd_operations, "list operations")
    p.add_argument("connector", nargs="?", help="only this connector's operations")
    p = add("describe", cmd_describe, "show an operation's inputs, output and connection fields")
    p.add_argument("name", help="CONNECTOR.OPERATION (or a connector name)")
    p = add("validate", cmd_validate, "check spec files (or, with no files, every installed connector)")
    p.add_argument("files", nargs="*", help="connector/operation YAML, JSON schemas or automations")
    p = add("call", cmd_call, "run one operation")
    p.add_argument("name", help="CONNECTOR.OPERATION")
    p.add_argument("--input", "-i", help="input as JSON, @file (.json/.yaml) or - for stdin")
    p.add_argument("--connection", "-c",
                   help="connection as JSON, @file, or ref:NAME (default: RELAYKIT_<CONNECTOR>_<FIELD> variables)")
    p.add_argument("--dry-run", action="store_true", help="print the request instead of sending it")
    p.add_argument("--curl", action="store_true", help="print the request as a curl command (credentials masked)")
    p.add_argument("--sandbox", action="store_true", help="start an embedded sandbox and call it")
    p.add_argument("--strict", action="store_true", help="fail when a response breaks its output schema")
    from . import automations as automation_cli

    p = add("run", automation_cli.run_command, "run an automation (YAML workflow) once")
    automation_cli.add_run_arguments(p)
    p = add("serve", automation_cli.serve_command, "run an automation once per Customer.io reporting webhook")
    automation_cli.add_serve_arguments(p)
    add("plugins", cmd_plugins, "list loaded plugins and their distributions")
    add("demo", cmd_demo, "run a short tour against an embedded sandbox")
    p = add("sandbox", cmd_sandbox, "serve the local Customer.io emulator")
    if argv is None or "sandbox" in argv:  # importing the sandbox costs ~0.1 s: only when asked for
        from ..sandbox import cli as sandbox_cli

        sandbox_cli.add_arguments(p)
    return parser


def _report(exc: BaseException, debug: bool) -> None:
    from ..redact import REDACTOR

    if debug:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        sys.stderr.write(REDACTOR.scrub(text))
    lines = str(exc).splitlines() or [type(exc).__name__]
    prefix = "error: "
    for line in lines:
        sys.stderr.write(REDACTOR.scrub(prefix + line.strip()) + "\n")
        prefix = "error: "


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `relaykit` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    from ..errors import CallError, RelaykitError

    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        _report(exc, False)
        return EXIT_USAGE
    except CallError as exc:
        _report(exc, debug)
        if getattr(args, "json", False):
            print_json(exc.to_dict())
        return EXIT_CALL_FAILED
    except RelaykitError as exc:
        _report(exc, debug)
        if getattr(args, "json", False):
            print_json(exc.to_dict())
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
