"""Requests per sliding window: how the rate-limit tests judge a run (bookings, or the sandbox journal)."""

from __future__ import annotations

EPS = 1e-6


def max_in_window(times: list[float], width: float) -> int:
    """The most events in any half-open window [t, t + width) (float noise tolerated)."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - width + EPS:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def journal_times(entries: list[dict], connector: str) -> list[float]:
    """When the sandbox saw each request of one connector (its journal's wall-clock stamps)."""
    return sorted(e["time"] for e in entries if e["connector"] == connector)
