"""`relaykit check CONNECTOR`: test a connection's credentials and region and say what is wrong in words."""

from __future__ import annotations

import argparse
import sys

from .args import EXIT_CALL_FAILED, EXIT_OK, make_runtime, print_json, read_connection_arg


def cmd_check(args: argparse.Namespace) -> int:
    """Exit 0 when the connection works as configured, 1 when the check call says it does not."""
    rt = make_runtime(args)
    try:
        report = rt.check(args.connector, read_connection_arg(args.connection))
    finally:
        rt.close()
    if args.json:
        print_json(report.to_dict())
    else:
        print(f"{'ok' if report.ok else 'failed'}: {args.connector}: {report.message}",
              file=sys.stdout if report.ok else sys.stderr)
    return EXIT_OK if report.ok else EXIT_CALL_FAILED
