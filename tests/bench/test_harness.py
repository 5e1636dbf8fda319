"""The benchmark harness's bookkeeping (no timing assertions: figures come from `python -m bench`)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.run import parse_args, table
from bench.stats import interleave, summarise


def test_interleave_rotates_the_order_and_times_every_call() -> None:
    calls: list[str] = []
    comp = interleave([("a", lambda: calls.append("a")), ("b", lambda: calls.append("b")),
                       ("c", lambda: calls.append("c"))], rounds=2, calls=3, warmup=1)
    assert calls[:3] == ["a", "b", "c"]  # warm-up
    assert calls[3:12] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert len(comp.rounds) == 2 and all(len(r[n]) == 3 for r in comp.rounds for n in "abc")
    assert len(comp.ratios("a", "b")) == 2 and len(comp.differences("a", "c")) == 2


def test_summarise_and_table() -> None:
    spread = summarise([1.0, 3.0, 2.0, 5.0])
    assert (spread["median"], spread["min"], spread["max"]) == (2.5, 1.0, 5.0)
    fig = {"id": "P1", "figure": "x / y", "kind": "ratio", "spread": summarise([1.01, 1.02, 1.03]),
           "target_text": "<= 1.05x", "met": True, "context_us": {"x": 10.0, "y": 9.5}}
    text = table([fig])
    assert "| P1 | x / y | 1.020x | 1.010-1.030 | <= 1.05x | yes |" in text


def test_quick_is_a_flag_and_sections_are_checked() -> None:
    args = parse_args(["--quick", "--only", "P2,P4"])
    assert args.quick and args.only == {"P2", "P4"}
