"""What the `relaykit` command shows on stderr from relaykit's log: warnings, and waits and retries.

The library only logs (`relaykit.*` loggers); the command attaches one stderr handler for the
length of a command, so a long rate-limit wait or a retry is visible as it happens instead of
looking like a hang. Other INFO and DEBUG records stay out of the terminal.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager


class _StderrHandler(logging.Handler):
    """Writes to whatever `sys.stderr` is at the time (tests swap it)."""

    def __init__(self, wait_level: int) -> None:
        super().__init__(logging.DEBUG)
        self.wait_level = wait_level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        return hasattr(record, "relaykit_wait") and record.levelno >= self.wait_level

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from ..redact import REDACTOR

            prefix = "warning: " if record.levelno >= logging.WARNING else "relaykit: "
            sys.stderr.write(REDACTOR.scrub(prefix + record.getMessage()) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


@contextmanager
def stderr_log(debug: bool = False) -> Iterator[None]:
    """Show relaykit's warnings and its waits on stderr (short waits too with `debug`) while inside."""
    from ..redact import install_log_filter

    install_log_filter()  # records are scrubbed where they are logged, before any handler sees them
    wait_level = logging.DEBUG if debug else logging.INFO
    logger = logging.getLogger("relaykit")
    handler = _StderrHandler(wait_level)
    previous = logger.level
    if logger.getEffectiveLevel() > wait_level:
        logger.setLevel(wait_level)  # only ever lowered: an embedder's more verbose setting stays
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
