"""Bounds on the receiver's connections: how many at once, and how long one request may take in all.

`http.server`'s socket timeout is per `recv`, so a client dripping one byte a second held a
thread forever, and every idle connection held one more thread. The guard admits at most
`max_connections` (a connection past the cap gets a clean 503 with `Retry-After` from the accepting
thread, without a thread of its own), and one reaper thread shuts down the socket of any request
still running at its deadline, whatever it is waiting for. Memory is bounded by the cap.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

__all__ = ["BUSY_RESPONSE", "ConnectionGuard"]

BUSY_RESPONSE = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
                 b"Content-Length: 32\r\nConnection: close\r\n\r\n"
                 b'{"ok": false, "result": "busy"}\n')


class ConnectionGuard:
    """Admits connections up to a cap and cuts off each request at its deadline (one reaper thread)."""

    def __init__(self, max_connections: int, request_deadline: float, *,
                 clock: Callable[[], float] = time.monotonic, tick: float = 0.1) -> None:
        if max_connections < 1 or request_deadline <= 0:
            raise ValueError("max_connections must be at least 1 and request_deadline positive")
        self.max_connections = max_connections
        self.request_deadline = request_deadline
        self._clock = clock
        self._tick = tick
        self._lock = threading.Lock()
        self._deadlines: dict[socket.socket, float] = {}
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None
        self.refused = 0
        self.cut_off = 0

    def start(self) -> None:
        self._reaper = threading.Thread(target=self._reap, name="relaykit-webhooks-reaper", daemon=True)
        self._reaper.start()

    def stop(self) -> None:
        self._stop.set()
        if self._reaper is not None:
            self._reaper.join(5)

    def admit(self, sock: socket.socket) -> bool:
        """Register a new connection; False (and the 503 already sent, the socket closed) past the cap."""
        with self._lock:
            if len(self._deadlines) < self.max_connections:
                self._deadlines[sock] = self._clock() + self.request_deadline
                return True
            self.refused += 1
        refuse(sock)
        return False

    def arm(self, sock: socket.socket) -> None:
        """A new request starts on this connection: it has `request_deadline` seconds from now."""
        with self._lock:
            if sock in self._deadlines:
                self._deadlines[sock] = self._clock() + self.request_deadline

    def release(self, sock: socket.socket) -> None:
        with self._lock:
            self._deadlines.pop(sock, None)

    def active(self) -> int:
        with self._lock:
            return len(self._deadlines)

    def _reap(self) -> None:
        while not self._stop.wait(self._tick):
            now = self._clock()
            with self._lock:
                late = [s for s, deadline in self._deadlines.items() if deadline <= now]
                for sock in late:
                    self._deadlines[sock] = float("inf")  # cut once; the handler thread releases it
            for sock in late:
                self.cut_off += 1
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # the blocked recv returns at once; the thread ends
                except OSError:
                    pass


def refuse(sock: socket.socket) -> None:
    """Answer 503 without blocking the accepting thread, then close."""
    try:
        sock.setblocking(False)
        try:
            sock.recv(65536)  # what the client already sent, so closing does not reset the answer away
        except OSError:
            pass
        sock.send(BUSY_RESPONSE)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        sock.close()
