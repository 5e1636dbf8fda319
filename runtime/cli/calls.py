"""The catalogue and call commands: `connectors`, `operations`, `describe`, `plugins` and `call`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .args import EXIT_OK, UsageError, make_runtime, print_json, read_data_arg


def cmd_connectors(args: argparse.Namespace) -> int:
    """List connectors."""
    rt = make_runtime(args)
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
    rt = make_runtime(args)
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
    rt = make_runtime(args)
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
    rt = make_runtime(args)
    infos = rt.plugins()
    if args.json:
        print_json([i.to_dict() for i in infos])
        return EXIT_OK
    for info in infos:
        print(f"{info.name:<24} {info.distribution} {info.version}  hooks: {', '.join(info.hooks)}")
    return EXIT_OK


def cmd_call(args: argparse.Namespace) -> int:
    """Run (or dry-run) one operation."""
    rt = make_runtime(args)
    data = read_data_arg(args.input, "input")
    if data is None:
        data = {}
    connection: Any = None
    if args.connection and args.connection.startswith("ref:"):
        connection = args.connection[4:]
    else:
        connection = read_data_arg(args.connection, "connection")
        if connection is not None and not isinstance(connection, dict):
            raise UsageError("--connection must be a JSON object of connection fields (or ref:NAME for a reference)")
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
            from ..transport.waits import human_duration

            print(f"status {result.status}, {result.attempts} attempt(s), {human_duration(result.elapsed)}",
                  file=sys.stderr)
        return EXIT_OK
    finally:
        if sandbox is not None:
            sandbox.stop()
        rt.close()
