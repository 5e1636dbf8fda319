"""The `relaykit` command line: the parser of every command, dispatch, exit codes and error reporting.

Exit codes: 0 success; 1 the call failed (the API or the network said no); 2 bad usage, spec,
connection or input (nothing was sent). Errors print one line per problem and never a traceback
unless `--debug`; secrets are scrubbed from everything printed, tracebacks included. Heavy modules
are imported inside the commands that need them, so `relaykit --help` stays instant.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from . import calls, check
from .args import EXIT_CALL_FAILED, EXIT_OK, EXIT_USAGE, UsageError, make_runtime, print_json


# -- commands -------------------------------------------------------------------------------------
def cmd_validate(args: argparse.Namespace) -> int:
    """Validate spec files."""
    from .validate import validate_paths

    rt = make_runtime(args, check_everything=True)
    problems, checked = validate_paths(rt, args.files)
    if args.json:
        print_json({"ok": not problems, "checked": checked, "problems": [p.to_dict() for p in problems]})
    else:
        for problem in problems:
            print(problem, file=sys.stderr)
        if not problems:
            print(f"ok: {len(checked)} file(s) valid" if args.files else f"ok: {len(checked)} spec(s) valid")
    return EXIT_USAGE if problems else EXIT_OK


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Serve the sandbox until interrupted."""
    from ..sandbox import cli as sandbox_cli

    return sandbox_cli.run(args)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo tour."""
    from .demo import run_demo

    return run_demo(json_output=args.json)


def cmd_new(args: argparse.Namespace) -> int:
    """Write a connector package."""
    from .scaffold import scaffold_connector

    root = scaffold_connector(args.name, args.dest, title=args.title)
    if args.json:
        print_json({"connector": args.name, "path": str(root)})
        return EXIT_OK
    print(f"wrote {root}/; next:\n  cd {root} && python -m pip install -e '.[test]' && python -m pytest -q\n"
          f"  relaykit validate {root}    # checks the spec before it is installed")
    return EXIT_OK


def _examples(args: argparse.Namespace) -> int:
    from . import examples

    return examples.command(args)


def _examples_arguments(parser: argparse.ArgumentParser) -> None:
    from . import examples

    examples.add_arguments(parser)


# -- parser ---------------------------------------------------------------------------------------
EXAMPLES = """\
examples:
  relaykit demo                                   a tour against an embedded sandbox (no account needed)
  relaykit connectors                             what is installed
  relaykit describe customerio-track.track_event  the operation's fields, as a form would show them
  relaykit call customerio-track.track_event --sandbox \\
      --input '{"identifier": "ada@example.com", "name": "signed_up"}'
  relaykit call customerio-track.track_event --connection ref:prod --curl --input @event.json
  relaykit examples                               the shipped automations; `relaykit run onboard_user --sandbox`
  relaykit new connector acme-notes               a connector package that passes its own tests

Connections come from --connection (JSON, @file, ref:NAME) or RELAYKIT_<CONNECTOR>_<FIELD> variables.
Exit codes: 0 ok, 1 the call failed, 2 bad usage, spec, connection or input (nothing was sent).
"""


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argparse parser for every command."""
    from ..version import __version__

    parser = argparse.ArgumentParser(prog="relaykit", description="Run workflow connector operations.",
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"relaykit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks (secrets still scrubbed)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func: Any, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        p.set_defaults(func=func)
        return p

    add("connectors", calls.cmd_connectors, "list installed connectors")
    p = add("operations", calls.cmd_operations, "list operations")
    p.add_argument("connector", nargs="?", help="only this connector's operations")
    p = add("describe", calls.cmd_describe, "show an operation's inputs, output and connection fields")
    p.add_argument("name", help="CONNECTOR.OPERATION (or a connector name)")
    p = add("validate", cmd_validate, "check spec files (or, with no files, every installed connector)")
    p.add_argument("files", nargs="*",
                   help="connector/operation YAML, JSON schemas, automations, or a connector folder (checked whole, "
                        "before it is installed)")
    p = add("call", calls.cmd_call, "run one operation")
    p.add_argument("name", help="CONNECTOR.OPERATION")
    p.add_argument("--input", "-i", help="input as JSON, @file (.json/.yaml) or - for stdin")
    p.add_argument("--connection", "-c",
                   help="connection as JSON, @file, or ref:NAME (default: RELAYKIT_<CONNECTOR>_<FIELD> variables)")
    p.add_argument("--dry-run", action="store_true", help="print the request instead of sending it")
    p.add_argument("--curl", action="store_true",
                   help="dry run: print a curl command instead of sending; it reads the credentials from the "
                        "connection's RELAYKIT_<REF>_<FIELD> variables, so no secret is printed")
    p.add_argument("--sandbox", action="store_true", help="start an embedded sandbox and call it")
    p.add_argument("--strict", action="store_true", help="fail when a response breaks its output schema")
    p.add_argument("--all", action="store_true", help="a paged operation: walk every page and print all items")
    p.add_argument("--max-items", type=int, metavar="N", help="a paged operation: stop after N items (implies --all)")
    p.add_argument("--max-pages", type=int, metavar="N", help="with --all: stop after N pages (default: declared)")
    p = add("check", check.cmd_check, "test a connection: credentials and region, with a harmless call")
    p.add_argument("connector", help="the connector, e.g. customerio-track")
    p.add_argument("--connection", "-c",
                   help="connection as JSON, @file, or ref:NAME (default: RELAYKIT_<CONNECTOR>_<FIELD> variables)")
    from . import automations, bulk

    p = add("bulk", bulk.command, "stream many inputs of an operation through its batch endpoint")
    bulk.add_arguments(p)
    p = add("run", automations.run_command, "run an automation (YAML workflow) once")
    automations.add_run_arguments(p)
    p = add("serve", automations.serve_command, "run an automation once per Customer.io reporting webhook")
    automations.add_serve_arguments(p)
    p = add("new", cmd_new, "start a connector package that already passes its own tests")
    p.add_argument("what", choices=["connector"], help="what to create")
    p.add_argument("name", help="the connector's name, lowercase words joined by hyphens (e.g. acme-notes)")
    p.add_argument("dest", nargs="?", help="the folder to write (default ./relaykit-NAME)")
    p.add_argument("--title", help="the connector's title (default: from the name)")
    p = add("examples", _examples, "list the shipped example automations; show or copy one out to start from")
    _examples_arguments(p)
    add("plugins", calls.cmd_plugins, "list loaded plugins and their distributions")
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
    if not argv:  # a bare `relaykit`: the overview and examples, not one line about a missing argument
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:  # only global options, e.g. `relaykit --debug`
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    debug = bool(getattr(args, "debug", False))
    from ..errors import CallError, RelaykitError

    try:
        if getattr(args, "command", None) in ("serve", "sandbox"):  # long-running: they set up their own logging
            return int(args.func(args) or 0)
        from .log import stderr_log

        with stderr_log(debug):
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
