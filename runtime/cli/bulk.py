"""The `relaykit bulk` command: stream a file (or stdin) of inputs through an operation's batch endpoint.

Exit codes: 0 when every item was delivered; 1 when any item was rejected or failed (the summary and
the dead-letter file say which); 2 for bad usage, an operation without `batch:`, a bad connection
or an unreadable input (nothing was sent). The first Ctrl-C stops reading and lets the requests in
flight finish; a second one stops at once. Either way every item read is accounted for.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from .args import UsageError, print_json, read_data_arg

EXIT_OK, EXIT_INCOMPLETE = 0, 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The `bulk` command's arguments."""
    p.add_argument("name", help="CONNECTOR.OPERATION (one that declares `batch:`, e.g. customerio-track.track_event)")
    p.add_argument("--input", "-i", required=True, help="a JSONL, JSON array or CSV file, or - for stdin")
    p.add_argument("--format", choices=("jsonl", "json", "csv"), help="input format (default: from the name "
                   "or the first byte)")
    p.add_argument("--connection", "-c",
                   help="connection as JSON, @file, or ref:NAME (default: RELAYKIT_<CONNECTOR>_<FIELD> variables)")
    p.add_argument("--dead-letter", metavar="FILE", help="append items that did not land to FILE (JSONL; "
                   "valid --input for a resend)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or progress lines")
    p.add_argument("--workers", type=int, default=4, help="requests in flight at once (default 4)")
    p.add_argument("--batch-items", type=int, metavar="N", help="at most N items per request (default: as many "
                   "as the batch endpoint's limits allow)")
    p.add_argument("--sandbox", action="store_true", help="start an embedded sandbox and send to it")


def command(args: argparse.Namespace) -> int:
    """Run `relaykit bulk`."""
    from ..delivery.bulk import batch_operations, bulk
    from ..delivery.dead_letters import DeadLetterFile
    from ..delivery.progress import ProgressDisplay, summary
    from ..delivery.sources import CsvCoercer, count_items, open_records
    from ..runtime import Runtime

    if args.workers < 1 or (args.batch_items is not None and args.batch_items < 1):
        raise UsageError("--workers and --batch-items must be at least 1")
    rt = Runtime()
    op = batch_operations(rt, args.name)[0]
    connection: Any
    if args.connection and args.connection.startswith("ref:"):
        connection = args.connection[4:]
    else:
        connection = read_data_arg(args.connection, "connection")
    coercer = CsvCoercer(op.input_schema, rt.schema_registry)
    records, fmt, stream = open_records(args.input, args.format, coercer)
    sandbox = None
    if args.sandbox:
        from ..sandbox import Sandbox

        sandbox = Sandbox().start()
        connection = {**sandbox.connection(op.connector.name), **(connection or {})}
    dead = DeadLetterFile(args.dead_letter) if args.dead_letter else None
    total = None if args.no_progress else count_items(args.input, fmt)
    display = None if args.no_progress else ProgressDisplay(total=total)
    stop = threading.Event()
    previous = _stop_on_first_interrupt(stop)
    try:
        report = bulk(rt, args.name, records, connection, workers=args.workers, dead_letter=dead,
                      progress=display, total=total, stop=stop, batch_items=args.batch_items)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if display is not None:
            display.close()
        if dead is not None:
            dead.close()
        stream.close()
        if sandbox is not None:
            sandbox.stop()
        rt.close()
    if args.json:
        data = report.to_dict() | {
            "rejected_items": [o.__dict__ for o in report.rejected[:100]],
            "failed_items": [o.__dict__ for o in report.failed[:100]],
            "dead_letter": args.dead_letter,
        }
        print_json(data)
    else:
        from ..redact import REDACTOR

        print(REDACTOR.scrub(summary(report, dead_letter=args.dead_letter)))
    complete = report.delivered == report.total and not report.stopped
    return EXIT_OK if complete else EXIT_INCOMPLETE


def _stop_on_first_interrupt(stop: threading.Event) -> Any:
    """SIGINT sets `stop` once; the next one raises KeyboardInterrupt as usual. The old handler, to restore."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.stderr.write("relaykit bulk: stopping after the requests in flight (Ctrl-C again to stop now)\n")

    return signal.signal(signal.SIGINT, handler)
