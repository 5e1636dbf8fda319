"""Where one bulk item's time goes in `relaykit bulk` (µs of CPU per item, context only).

The same reader and preparation the bulk run uses, in one process with nothing sent: reading and
decoding a JSONL line, then validating, rendering, encoding and packing it. Timed with
`time.process_time`, so another process on the machine does not inflate it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.bulk import _write_events

PIPELINES_TRACK = "customerio-pipelines.track"


def run_bulk_stages(*, n: int, repeats: int = 3) -> dict[str, float]:
    """Best-of-`repeats` CPU µs per item for reading and for preparing+packing `n` Pipelines track lines."""
    from relaykit import Runtime
    from relaykit.delivery.bulk import _Run
    from relaykit.delivery.packing import Packer
    from relaykit.delivery.sources import read_jsonl

    best = {"bulk: read a JSONL line": float("inf"), "bulk: validate, render, encode, pack": float("inf")}
    conn = {"api_key": "bench-pipelines-key", "region": "us", "sandbox_url": "http://127.0.0.1:9"}  # never used
    with tempfile.TemporaryDirectory() as tmp, Runtime() as runtime:
        events = Path(tmp) / "events.jsonl"
        _write_events(events, n, "stage")
        run = _Run(runtime, PIPELINES_TRACK, conn, dead_letter=None, progress=None, total=None, interval=60)
        for _ in range(repeats):
            with events.open("rb") as stream:
                started = time.process_time()
                records = list(read_jsonl(stream, "events.jsonl"))
                read = time.process_time() - started
            packer = Packer(run.envelope)
            started = time.process_time()
            for index, record in enumerate(records):
                packer.add(run.prepare(index, record))
            prepare = time.process_time() - started
            if run.rejected:
                raise RuntimeError(f"bulk stages: {len(run.rejected)} item(s) rejected")
            best["bulk: read a JSONL line"] = min(best["bulk: read a JSONL line"], read / n * 1e6)
            best["bulk: validate, render, encode, pack"] = min(best["bulk: validate, render, encode, pack"],
                                                               prepare / n * 1e6)
    return best
