"""relaykit's own HTTP adapter: what its connections do on a socket before a request is written.

Three guarantees live here because only a connection object sees them happen:
- each connection binds itself to the attempt armed on its thread, so the watchdog can cut an
  attempt that outlives its budget (`relaykit.transport.watchdog`);
- `http.client` debug printing is off on every connection instance, whatever `debuglevel` a class
  in the hierarchy has been given (`urllib3.connection.HTTPConnection.debuglevel = 1` would
  otherwise `print()` each request, `Authorization` header included);
- a connection to a host that claims loopback (a sandbox, a webhook on this machine) must be
  connected to a loopback peer, checked on the socket before TLS or any byte of the request, so
  the promise never depends on what a resolver answered (`relaykit.transport.loopback`).

Only sessions built by relaykit's transport use these classes; an embedder's own session keeps
its adapters.
"""

from __future__ import annotations

import socket
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .loopback import NotLoopbackPeer, claims_loopback, peer_is_loopback
from .watchdog import WATCHDOG


class _Guarded:
    """Mixed in before urllib3's connection classes (it calls their methods through `super()`)."""

    _dns_host: str
    debuglevel: int

    def request(self, *args: Any, **kwargs: Any) -> None:
        self.debuglevel = 0  # an instance attribute outranks any class's, and http.client reads it per call
        WATCHDOG.bind(self)
        super().request(*args, **kwargs)  # type: ignore[misc]

    def connect(self) -> None:
        self.debuglevel = 0
        super().connect()  # type: ignore[misc]
        WATCHDOG.bind(self)  # a budget that ran out while connecting takes effect now

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        if claims_loopback(self._dns_host) and not peer_is_loopback(sock):
            sock.close()
            raise NotLoopbackPeer("a connection to a loopback host reached a peer that is not a loopback "
                                  "address (check the resolver); nothing was sent")
        return sock


class _HTTPConnection(_Guarded, HTTPConnection):
    pass


class _HTTPSConnection(_Guarded, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class RelaykitAdapter(HTTPAdapter):
    """An `HTTPAdapter` (still `max_retries=0`) whose connections carry the guarantees above."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
