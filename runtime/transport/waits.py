"""How relaykit reports time it spends waiting: human durations, and which waits deserve INFO.

A rate-limit token, a retry backoff or a step's retry delay can hold a call for many seconds; a
silent pause reads as a hang. Waits of `MENTION_AFTER` seconds or more are logged at INFO as they
start, shorter ones at DEBUG. Records carry `relaykit_wait` (seconds), so a handler (the CLI's)
can pick them out.
"""

from __future__ import annotations

import logging
from typing import Any

MENTION_AFTER = 1.0


def human_duration(seconds: float) -> str:
    """`0.0123` -> `12.3 ms`, `20.2528` -> `20.3 s`, `125` -> `2 min 5 s`."""
    if seconds < 1.0:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 60.0:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def log_wait(logger: logging.Logger, seconds: float, message: str, *args: Any, retry: bool = False) -> None:
    """Log `message % args` for a wait of `seconds`: INFO when worth mentioning (or a retry), else DEBUG.

    `message` says why; the duration is appended (`..., waiting 10.2 s`).
    """
    level = logging.INFO if retry or seconds >= MENTION_AFTER else logging.DEBUG
    if logger.isEnabledFor(level):
        logger.log(level, message + ", waiting %s", *args, human_duration(seconds),
                   extra={"relaykit_wait": seconds})
