"""Interleaved measurement and summaries: per-round medians, ratios of medians, and their spread."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Call = Callable[[], Any]


@dataclass
class Comparison:
    """Per-call times (ns) of each variant, one list per round."""

    names: tuple[str, ...]
    rounds: list[dict[str, list[int]]] = field(default_factory=list)

    def round_medians(self, name: str) -> list[float]:
        """Median µs of `name` in each round."""
        return [statistics.median(r[name]) / 1000 for r in self.rounds]

    def median_us(self, name: str) -> float:
        """Median µs of `name` over every call of every round (context only)."""
        return statistics.median([t for r in self.rounds for t in r[name]]) / 1000

    def ratios(self, a: str, b: str) -> list[float]:
        """median(a) / median(b), round by round."""
        return [x / y for x, y in zip(self.round_medians(a), self.round_medians(b), strict=True)]

    def differences(self, a: str, b: str) -> list[float]:
        """median(a) - median(b) in µs, round by round."""
        return [x - y for x, y in zip(self.round_medians(a), self.round_medians(b), strict=True)]


def interleave(variants: Sequence[tuple[str, Call]], *, rounds: int, calls: int, warmup: int = 20) -> Comparison:
    """Run the variants call by call (A B C, then B C A, ...), timing every call on its own.

    The order rotates from one step to the next so that no variant always follows the same
    neighbour; a collection runs between rounds, never inside the timed loop's bookkeeping.
    """
    names = tuple(name for name, _ in variants)
    funcs = [func for _, func in variants]
    for _ in range(warmup):
        for func in funcs:
            func()
    result = Comparison(names)
    clock = time.perf_counter_ns
    width = len(funcs)
    for _ in range(rounds):
        gc.collect()
        times: list[list[int]] = [[] for _ in funcs]
        for step in range(calls):
            for offset in range(width):
                index = (step + offset) % width
                func = funcs[index]
                start = clock()
                func()
                times[index].append(clock() - start)
        result.rounds.append(dict(zip(names, times, strict=True)))
    return result


def summarise(values: Sequence[float]) -> dict[str, Any]:
    """Median, min, max and quartiles of per-round values."""
    ordered = sorted(values)
    if len(ordered) >= 4:
        q1, _, q3 = statistics.quantiles(ordered, n=4)
    else:
        q1, q3 = ordered[0], ordered[-1]
    return {"median": statistics.median(ordered), "min": ordered[0], "max": ordered[-1], "q1": q1, "q3": q3,
            "rounds": list(values)}
