"""`relaykit examples`: list the shipped example automations, show one, or copy one out to start from."""

from __future__ import annotations

import argparse
import sys

from ..automation.examples import copy_example, example_file, example_summaries
from .args import EXIT_OK, UsageError, print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`relaykit examples [list | show NAME | copy NAME [DEST]]`."""
    parser.add_argument("action", nargs="?", choices=["list", "show", "copy"], default="list",
                        help="list (default), show NAME (print it) or copy NAME [DEST] (write it out to edit)")
    parser.add_argument("name", nargs="?", help="the example's name")
    parser.add_argument("dest", nargs="?", help="copy: a file or folder (default ./NAME.yaml); never overwritten")


def command(args: argparse.Namespace) -> int:
    """List, show or copy an example."""
    if args.action == "list":
        if args.name:
            raise UsageError("relaykit examples: did you mean `relaykit examples show NAME` or `copy NAME`?")
        summaries = example_summaries()
        if args.json:
            print_json(summaries)
            return EXIT_OK
        for info in summaries:
            print(f"{info['name']:<18} {info['title']}")
        print("\nrun one: relaykit run NAME --sandbox --input '{...}'   start from one: relaykit examples copy NAME",
              file=sys.stderr)
        return EXIT_OK
    if not args.name:
        raise UsageError(f"relaykit examples {args.action}: which example? (relaykit examples lists them)")
    if args.action == "show":
        sys.stdout.write(example_file(args.name).read_text(encoding="utf-8"))
        return EXIT_OK
    try:
        target = copy_example(args.name, args.dest)
    except FileExistsError:
        raise UsageError(f"{args.dest or args.name + '.yaml'}: already exists; not overwritten") from None
    except OSError as exc:
        raise UsageError(f"cannot write {args.dest}: {exc.strerror or exc}") from None
    if args.json:
        print_json({"example": args.name, "path": str(target)})
    else:
        print(f"wrote {target}; run it with: relaykit run {target} --sandbox")
    return EXIT_OK
