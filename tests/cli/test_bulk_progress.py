"""Progress of a bulk run: the Python callback, the tqdm bar on a terminal, plain lines elsewhere, the summary."""

from __future__ import annotations

import io

from relaykit.delivery.bulk import BulkProgress, bulk
from relaykit.delivery.progress import ProgressDisplay, progress_line, summary

PIPES = "customerio-pipelines"


def events(n):
    return [{"userId": f"u{i}", "event": "E", "messageId": f"m-{i:05d}"} for i in range(n)]


def test_the_callback_sees_counts_grow_and_a_final_snapshot_that_matches_the_report(sandbox, rt):
    seen: list[BulkProgress] = []
    items = events(500)
    items[3] = {"userId": "u3"}  # rejected: no event name
    report = bulk(rt, f"{PIPES}.track", items, sandbox.connection(PIPES), batch_items=50, total=500,
                  progress=seen.append, progress_interval=0)
    assert len(seen) >= 10
    settled = [p.settled for p in seen]
    assert settled == sorted(settled) and all(p.total == 500 for p in seen)
    last = seen[-1]
    assert (last.delivered, last.rejected, last.failed, last.in_flight) == (499, 1, 0, 0)
    assert last.requests == report.requests == 10 and last.eta == 0.0 and last.rate > 0
    assert report.delivered == 499


def test_plain_lines_without_a_terminal_and_a_bar_on_one():
    snapshot = BulkProgress(read=1200, delivered=1000, rejected=3, failed=2, in_flight=150, requests=4, elapsed=2.0,
                            total=5000)
    assert progress_line(snapshot) == ("bulk: 1,005/5,000 settled (1,000 delivered, 3 rejected, 2 failed), "
                                       "502 items/s, 4 requests, eta 8s")
    plain = io.StringIO()
    display = ProgressDisplay(plain, total=5000, interval=0)
    display(snapshot)
    display.close()
    assert plain.getvalue() == progress_line(snapshot) + "\n"
    bar = io.StringIO()
    display = ProgressDisplay(bar, total=5000, bar=True)
    display(snapshot)
    display.close()
    text = bar.getvalue()
    assert "1.00k/5.00k" in text and "rejected=3" in text and "failed=2" in text


def test_summary_table_lists_every_bucket_and_the_first_outcomes(sandbox, rt):
    items = events(20)
    items[5] = {"userId": "u5"}
    report = bulk(rt, f"{PIPES}.track", items, sandbox.connection(PIPES))
    text = summary(report, dead_letter="dead.jsonl")
    lines = text.splitlines()
    assert lines[1].split() == ["delivered", "19"] and lines[2].split() == ["rejected", "1"]
    assert lines[3].split() == ["failed", "0"] and lines[4].split() == ["total", "20"]
    assert "1 requests, 1 attempts" in text and "dead letters" not in text  # none failed
    assert "  #5 InputValidationError: customerio-pipelines.track: invalid input: /event: is required" in text
