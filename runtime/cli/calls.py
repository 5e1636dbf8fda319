"""The catalogue and call commands: `connectors`, `operations`, `describe`, `plugins` and `call`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .args import EXIT_OK, make_runtime, print_json, read_connection_arg, read_data_arg


def cmd_connectors(args: argparse.Namespace) -> int:
    """List connectors."""
    rt = make_runtime(args)
    infos, broken = rt.catalogue()
    if args.json:
        print_json(infos)
    else:
        for info in infos:
            print(f"{info['name']:<24} {info['version']:<8} {info['title']}")
            print(f"{'':<24} regions: {', '.join(info['regions'])}; operations: {len(info['operations'])}")
    report_broken(broken)
    return EXIT_OK


def report_broken(broken: list[Any]) -> None:
    """One warning per plugin or connector that cannot load; the listing above it still stands."""
    for item in broken:
        print(f"warning: not loaded: {item}", file=sys.stderr)


def cmd_operations(args: argparse.Namespace) -> int:
    """List operations."""
    rt = make_runtime(args)
    if args.connector:
        names = rt.operations(args.connector)
    else:  # every connector that loads; the broken ones are reported, not fatal
        infos, broken = rt.catalogue()
        names = [f"{info['name']}.{op}" for info in infos for op in info["operations"]]
        report_broken(broken)
    if args.json:
        counts: dict[str, int] = {}
        for name in names:
            counts[name.split(".", 1)[0]] = counts.get(name.split(".", 1)[0], 0) + 1
        print_json({"counts": {**counts, "total": len(names)},
                    "operations": [rt.describe(n) | {"input_schema": None, "output_schema": None,
                                                     "connection_schema": None} for n in names]})
        return EXIT_OK
    for name in names:
        op = rt.operation(name)
        print(f"{name:<52} {op.title}")
    return EXIT_OK


def cmd_describe(args: argparse.Namespace) -> int:
    """Show one operation."""
    rt = make_runtime(args)
    info = rt.describe(args.name)
    if args.json:
        print_json(info)
        return EXIT_OK
    if "input_schema" not in info:
        print_json(info)
        return EXIT_OK
    from ..runtime import env_prefix
    from .forms import describe_lines

    print("\n".join(describe_lines(info, env_prefix(info["connector"]))))
    return EXIT_OK


def cmd_plugins(args: argparse.Namespace) -> int:
    """List plugins."""
    rt = make_runtime(args)
    infos = rt.plugins()
    if args.json:
        print_json([i.to_dict() for i in infos])
        return EXIT_OK
    for info in infos:
        print(f"{info.name:<24} {info.distribution} {info.version}  hooks: {', '.join(info.hooks)}")
    return EXIT_OK


def cmd_call(args: argparse.Namespace) -> int:
    """Run (or dry-run) one operation; `--curl` is a dry run that prints a runnable curl command."""
    rt = make_runtime(args)
    data = read_data_arg(args.input, "input")
    if data is None:
        data = {}
    connection: Any = read_connection_arg(args.connection)
    reference = connection if isinstance(connection, str) else None
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
                from .curl import runnable_curl

                command, variables = runnable_curl(request, rt.operation(args.name).connector, reference)
                print(command)
                note = "dry run (--curl): nothing was sent"
                if variables:
                    note += "; the command reads " + ", ".join(f"${v}" for v in variables) + " (set them first)"
                print(f"relaykit: {note}", file=sys.stderr)
            elif args.json:
                print_json(request.to_dict())
            else:
                print_json(request.to_dict())
            return EXIT_OK
        if args.all or args.max_items is not None:
            return _call_all(rt, args, data, connection)
        result = rt.run(args.name, data, connection)
        if args.json:
            print_json(result.to_dict())
        else:
            print_json(result.output)
            from ..transport.waits import human_duration

            print(f"status {result.status}, {result.attempts} attempt(s), {human_duration(result.elapsed)}",
                  file=sys.stderr)
        return EXIT_OK
    finally:
        if sandbox is not None:
            sandbox.stop()
        rt.close()


def _call_all(rt: Any, args: argparse.Namespace, data: Any, connection: Any) -> int:
    """`call --all` / `--max-items N`: every page of a paged operation; items as one JSON array (or JSON lines)."""
    walk = rt.paginate(args.name, data, connection, max_pages=args.max_pages, max_items=args.max_items)
    items = list(walk)
    if args.json:
        print_json({"items": items, "pages": walk.pages_read, "stopped_by": walk.stopped_by})
    else:
        print_json(items)
    more = {"max_pages": " (more pages remain: raise --max-pages)", "repeated_cursor": " (the server repeated a "
            "cursor)", "max_items": ""}.get(walk.stopped_by or "", "")
    print(f"{len(items)} item(s) from {walk.pages_read} page(s){more}", file=sys.stderr)
    return EXIT_OK

