"""relaykit's benchmark harness: `python -m bench` (see docs/performance.md).

Every figure is a ratio (or a difference) of two variants measured side by side in one process,
interleaved call by call over several rounds, so machine drift cancels. Absolute times are
printed for context only.
"""
