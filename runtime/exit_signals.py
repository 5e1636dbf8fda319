"""SIGTERM and SIGHUP as an orderly exit: Python's default for them skips `atexit`, so nothing would flush.

By default both signals end the process on the spot: a `DeliveryQueue`'s flush at exit never runs,
and its queued items vanish without a record (the webhook receiver's too). While some user holds
it, `hold()` installs a handler that raises `SystemExit(128 + signum)` in the main thread, as
Ctrl-C raises `KeyboardInterrupt`: `finally` blocks and `atexit` run, so a queue shuts down with its
deadline. A handler someone else installed is left alone; the default returns with the last
`release()`. Signal handlers can only be set from the main thread; elsewhere `hold()` is a no-op.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

__all__ = ["SIGNALS", "hold", "release"]

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))

_lock = threading.Lock()
_holders = 0
_installed: list[int] = []


def _exit(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def hold() -> bool:
    """Install the exiting handler where the default is in place; True when this call counts as a holder."""
    global _holders
    if threading.current_thread() is not threading.main_thread():
        return False
    with _lock:
        if _holders == 0:
            for signum in SIGNALS:
                if signal.getsignal(signum) is signal.SIG_DFL:
                    signal.signal(signum, _exit)
                    _installed.append(signum)
        _holders += 1
    return True


def release() -> None:
    """Undo one `hold()`; the last one puts the default handlers back (from the main thread)."""
    global _holders
    with _lock:
        _holders = max(0, _holders - 1)
        if _holders or threading.current_thread() is not threading.main_thread():
            return
        while _installed:
            signum = _installed.pop()
            if signal.getsignal(signum) is _exit:
                signal.signal(signum, signal.SIG_DFL)
