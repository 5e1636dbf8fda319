"""How a bulk run shows itself: a progress bar on a terminal, plain periodic lines elsewhere, a final summary.

The bar is tqdm's (the `bulk` extra) with the rate and, when the item count is known, the ETA;
without a terminal, or without tqdm, one plain line every few seconds says the same. Both are fed by
`bulk()`'s progress callback, so the Python API gets exactly what the CLI shows.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from .bulk import BulkProgress, BulkReport

PLAIN_INTERVAL = 5.0  # seconds between plain progress lines
SHOWN_OUTCOMES = 5  # rejected and failed items listed by the summary


def _num(value: float) -> str:
    return f"{value:,.0f}"


def progress_line(p: BulkProgress) -> str:
    """One plain progress line (no personal data: counts and rates only)."""
    eta = p.eta
    done = f"{_num(p.settled)}/{_num(p.total)}" if p.total is not None else _num(p.settled)
    text = (f"bulk: {done} settled ({_num(p.delivered)} delivered, {_num(p.rejected)} rejected, "
            f"{_num(p.failed)} failed), {_num(p.rate)} items/s, {_num(p.requests)} requests")
    return text + (f", eta {eta:.0f}s" if eta is not None else "")


class ProgressDisplay:
    """A progress callback for `bulk()`: a tqdm bar on a terminal, plain lines otherwise; `close()` at the end."""

    def __init__(self, stream: IO[str] | None = None, *, total: int | None = None, bar: bool | None = None,
                 interval: float = PLAIN_INTERVAL) -> None:
        self.stream = stream or sys.stderr
        self.interval = interval
        self._last = time.monotonic()
        self._bar: Any = None
        if bar is None:
            bar = bool(getattr(self.stream, "isatty", lambda: False)())
        if bar:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=total, unit="item", unit_scale=True, file=self.stream, dynamic_ncols=True,
                                 desc="bulk", smoothing=0.1)

    def __call__(self, p: BulkProgress) -> None:
        if self._bar is not None:
            self._bar.update(p.settled - self._bar.n)
            self._bar.set_postfix(rejected=p.rejected, failed=p.failed, requests=p.requests, refresh=False)
            return
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.stream.write(progress_line(p) + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def summary(report: BulkReport, *, dead_letter: str | None = None) -> str:
    """The final table: every bucket with its count, the requests, the rate, and the first few outcomes."""
    rate = report.total / report.elapsed if report.elapsed > 0 else 0.0
    rows = [("delivered", report.delivered), ("rejected", len(report.rejected)), ("failed", len(report.failed)),
            ("total", report.total)]
    lines = [f"{'':<12}{'items':>12}"] + [f"{name:<12}{_num(count):>12}" for name, count in rows]
    split = f" ({report.splits} bisected)" if report.splits else ""
    lines.append(f"{_num(report.requests)} requests{split}, {report.attempts} attempts, {report.elapsed:.1f}s, "
                 f"{_num(rate)} items/s")
    if report.stopped:
        lines.append(f"stopped early: {report.stopped}")
    if dead_letter and report.failed:
        lines.append(f"dead letters: {dead_letter} ({len(report.failed)}); resend with --input {dead_letter}")
    for title, outcomes in (("rejected", report.rejected), ("failed", report.failed)):
        if outcomes:
            lines.append(f"first {title}:")
            lines += [f"  #{o.index} {o.error}: {o.message}" for o in outcomes[:SHOWN_OUTCOMES]]
    return "\n".join(lines)
