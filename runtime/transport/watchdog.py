"""Bound every HTTP attempt in wall time, even while the status line and headers are being read.

requests' read timeout applies to each socket read, so a server that drips one byte per second
never trips it (requests docs, quickstart's timeout note) and an attempt can last for hours. One
daemon thread keeps a heap of attempt deadlines; when one passes, it shuts the attempt's socket
down, which wakes the blocked `recv` with end-of-file and turns into an ordinary connection error
that the transport reports as a timeout.

Cost on the happy path is one heap push and two lock round-trips per attempt (no thread per
request, no timer objects). The socket is found through relaykit's connection classes, which bind
themselves to the attempt running on the current thread (`relaykit.transport.adapter`), so only sessions
built by relaykit's transport are guarded; an embedder's own session still gets the per-chunk
deadline check but not the header-phase guard.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from typing import Any

_local = threading.local()


class AttemptHandle:
    """One armed attempt: its expiry on `time.monotonic()`, the connection it uses, and whether it fired."""

    __slots__ = ("conn", "done", "expiry", "fired")

    def __init__(self, expiry: float) -> None:
        self.expiry = expiry
        self.conn: Any = None
        self.done = False
        self.fired = False


class Watchdog:
    """A single background thread that kills the sockets of attempts that outlive their deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, AttemptHandle]] = []
        self._counter = itertools.count()
        self._thread: threading.Thread | None = None
        self._finished = 0  # disarmed entries still in the heap (they are dropped lazily)

    def arm(self, budget: float) -> AttemptHandle:
        """Start guarding an attempt that may last `budget` seconds; bind it to this thread."""
        handle = AttemptHandle(time.monotonic() + max(budget, 0.0))
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="relaykit-watchdog", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, (handle.expiry, next(self._counter), handle))
            if self._heap[0][2] is handle:
                self._cond.notify()
        _local.handle = handle
        return handle

    def disarm(self, handle: AttemptHandle) -> None:
        """The attempt is over (whatever the outcome): never touch its connection again."""
        _local.handle = None
        with self._cond:
            handle.done = True
            conn = handle.conn
            handle.conn = None
            if conn is not None and getattr(conn, "_relaykit_handle", None) is handle:
                conn._relaykit_handle = None
            self._finished += 1
            if self._finished > 1024 and self._finished * 2 > len(self._heap):
                # finished attempts wait in the heap until their expiry; under heavy traffic, sweep
                self._heap = [entry for entry in self._heap if not entry[2].done]
                heapq.heapify(self._heap)
                self._finished = 0

    def bind(self, conn: Any) -> None:
        """Called by a connection as it sends: tie it to the attempt armed on this thread, if any."""
        handle = getattr(_local, "handle", None)
        with self._cond:
            conn._relaykit_handle = handle
            if handle is None or handle.done:
                return
            handle.conn = conn
            if handle.fired:  # the budget ran out before the request even left
                _shutdown(conn)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                expiry, _, handle = self._heap[0]
                if handle.done:
                    heapq.heappop(self._heap)
                    self._finished = max(0, self._finished - 1)
                    continue
                delay = expiry - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)
                handle.fired = True
                conn = handle.conn
                # A connection back in the pool and reused by another attempt is bound to that one.
                if conn is not None and getattr(conn, "_relaykit_handle", None) is handle:
                    _shutdown(conn)


def _shutdown(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


WATCHDOG = Watchdog()
"""The process-wide watchdog (one thread, started on first use)."""
