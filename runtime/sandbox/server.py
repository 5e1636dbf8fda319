"""The HTTP/1.1 server: keep-alive, TCP_NODELAY, one send per response, optional TLS, socket faults, clean shutdown.

Python's default `http.server` answers a keep-alive client in ~40 ms per request because headers and
body leave in separate small writes (Nagle meets delayed ACK). Here every accepted socket gets
TCP_NODELAY and each response is serialised into one buffer and written with one `sendall`.
"""

from __future__ import annotations

import gzip
import http
import io
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .dispatch import RawRequest, Reply
from .limits import HARD_BODY_CAP
from .messages import JSON_TYPE, Response, dumps

_CHUNK = 64 * 1024
_TLS_HANDSHAKE = b"\x16\x03"  # a TLS record of type handshake, versions 3.x (SSL 3.0 to TLS 1.3)


class SandboxHTTPServer(ThreadingHTTPServer):
    """Threaded server that tracks its client sockets so `stop()` can cut them loose."""

    daemon_threads = True
    block_on_close = False  # `stop()` cuts client sockets loose; it never waits on a handler thread
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        dispatch: Callable[[RawRequest], Reply],
        on_connection: Callable[[], None],
        stop_event: threading.Event,
        *,
        reject: Callable[[str, int, str], Reply],
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.dispatch = dispatch
        self.reject = reject
        self.on_connection = on_connection
        self.stop_event = stop_event
        self.ssl_context = ssl_context
        self._sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is not None:
            # The handshake runs in the handler thread (`_Handler.setup`), never in the accept loop.
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self._sockets_lock:
            self._sockets.add(sock)
        self.on_connection()
        return sock, addr

    def shutdown_request(self, request: Any) -> None:
        with self._sockets_lock:
            self._sockets.discard(request)
        super().shutdown_request(request)

    def close_clients(self) -> None:
        """Wake every handler blocked on a client socket (idle keep-alive, stalls)."""
        with self._sockets_lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Client disconnects are normal here (fault tests provoke them); stay quiet.
        pass


class _Headers:
    """Request headers in arrival order, with case-insensitive `get`."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs
        self._index: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            self._index[key] = f"{self._index[key]}, {value}" if key in self._index else value

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._index.get(name.lower(), default)

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "relaykit-sandbox"
    sys_version = ""
    timeout = 300  # idle keep-alive connections are dropped after this many seconds
    server: SandboxHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the dispatcher logs requests (without credentials) when asked to

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()  # a failed handshake ends this connection quietly

    def _refuse_tls(self) -> None:
        """A TLS ClientHello on a plain-HTTP port is not an HTTP request: answer 400 and close, unjournaled."""
        self.close_connection = True
        self.request_version = "HTTP/1.1"
        body = dumps({"errors": [{"detail": "this port speaks plain HTTP, not TLS", "status": "400"}]})
        response = Response(400, body, [("Content-Type", JSON_TYPE)])
        self.wfile.write(self._head(response, len(body), close=True) + body)

    def _refuse(self, status: http.HTTPStatus, reason: str) -> None:
        """Answer a request the server cannot parse in JSON, journaled like any other, and close."""
        self.close_connection = True
        line = self.raw_requestline.decode("latin-1", errors="replace").rstrip("\r\n")
        self._deliver(self.server.reject(line, int(status), reason))

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self._refuse(http.HTTPStatus.REQUEST_URI_TOO_LONG, "the request line is too long")
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if self.raw_requestline.startswith(_TLS_HANDSHAKE) and self.server.ssl_context is None:
                self._refuse_tls()
                return
            if not self._parse_head():
                return
            self._serve()
        except (TimeoutError, ConnectionError, OSError, ValueError):
            self.close_connection = True

    # ------------------------------------------------------------------------------------ reading
    def _parse_head(self) -> bool:
        """Request line and headers; a lean stand-in for `parse_request` (whose email parser is slow)."""
        self.command = ""
        self.request_version = "HTTP/1.1"  # so even a garbled request gets a status line back
        self.close_connection = True
        line = self.raw_requestline.decode("latin-1").rstrip("\r\n")
        self.requestline = line
        parts = line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[0].isalpha():
            self._refuse(http.HTTPStatus.BAD_REQUEST, "malformed request line")
            return False
        self.command, self.path, self.request_version = parts
        pairs: list[tuple[str, str]] = []
        while True:
            raw = self.rfile.readline(65537)
            if len(raw) > 65536 or len(pairs) > 200:
                self._refuse(http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "the request headers are too large")
                return False
            if raw in (b"\r\n", b"\n", b""):
                break
            name, sep, value = raw.decode("latin-1").partition(":")
            if not sep or not name or name != name.strip() or " " in name:
                self._refuse(http.HTTPStatus.BAD_REQUEST, "malformed header line")
                return False
            pairs.append((name, value.strip()))
        self.headers = _Headers(pairs)  # type: ignore[assignment]
        connection = (self.headers.get("Connection") or "").lower()
        if self.request_version == "HTTP/1.0":
            self.close_connection = "keep-alive" not in connection
        else:
            self.close_connection = "close" in connection
        if (self.headers.get("Expect") or "").lower() == "100-continue" and self.request_version != "HTTP/1.0":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return True

    def _serve(self) -> None:
        body, problem = self._read_body()
        raw = RawRequest(self.command, self.path, list(self.headers.items()), body, problem)
        reply = self.server.dispatch(raw)
        if problem in ("too_large", "bad_length", "bad_chunked"):
            self.close_connection = True  # the rest of the request is still on the wire
        self._deliver(reply)

    def _read_body(self) -> tuple[bytes, str | None]:
        encoding = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in encoding:
            data, problem = self._read_chunked()
        else:
            length_text = self.headers.get("Content-Length")
            if length_text is None:
                return b"", None
            try:
                length = int(length_text)
                if length < 0:
                    raise ValueError(length_text)
            except ValueError:
                return b"", "bad_length"
            if length > HARD_BODY_CAP:
                return b"", "too_large"
            data, problem = self.rfile.read(length), None
            if len(data) < length:
                raise ConnectionError("client closed mid-body")
        if problem is None and (self.headers.get("Content-Encoding") or "").lower() in ("gzip", "x-gzip"):
            try:
                inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                data = inflater.decompress(data, HARD_BODY_CAP + 1)
                if len(data) > HARD_BODY_CAP or inflater.unconsumed_tail:
                    return b"", "too_large"
            except zlib.error:
                return b"", "bad_encoding"
        return data, problem

    def _read_chunked(self) -> tuple[bytes, str | None]:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1026)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                return b"", "bad_chunked"
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts), None
            total += size
            if total > HARD_BODY_CAP:
                return b"", "too_large"
            parts.append(self.rfile.read(size))
            self.rfile.readline(3)

    # ------------------------------------------------------------------------------------ writing
    def _head(self, response: Response, length: int | None, close: bool) -> bytes:
        try:
            phrase = http.HTTPStatus(response.status).phrase
        except ValueError:
            phrase = "Unknown"
        lines = [
            f"HTTP/1.1 {response.status} {phrase}",
            f"Date: {_http_date()}",
            f"Server: {self.server_version}",
        ]
        lines.extend(f"{name}: {value}" for name, value in response.headers)
        if length is not None:
            lines.append(f"Content-Length: {length}")
        if close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")

    def _deliver(self, reply: Reply) -> None:
        fault = reply.fault or {}
        kind = fault.get("kind")
        response = reply.response
        stop = self.server.stop_event
        if kind in ("reset_before", "reset_after"):
            self._reset()
            return
        if kind == "stall":
            stop.wait(float(fault.get("seconds", 30.0)))
            self.close_connection = True
            return
        if kind == "raw":
            data = fault.get("data", "")
            self.wfile.write(data.encode("latin-1") if isinstance(data, str) else bytes(data))
            if fault.get("then") == "reset":
                self._reset()
            else:
                self.close_connection = True
            return
        if response is None:
            self.close_connection = True
            return
        if kind == "body" and fault.get("size") is not None:
            self._stream_body(response, fault)
            return
        body = response.body
        if self.command == "HEAD":
            body = b""
        if kind == "truncated":
            declared = len(body) if len(body) >= 2 else len(body) + 16
            self.wfile.write(self._head(response, declared, close=True) + body[: len(body) // 2])
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return
        data = self._head(response, len(body), close=self.close_connection) + body
        if kind == "drip":
            interval = float(fault.get("interval", 1.0))
            for index in range(len(data)):
                if stop.wait(interval):
                    self.close_connection = True
                    return
                self.wfile.write(data[index : index + 1])
            return
        self.wfile.write(data)

    def _stream_body(self, response: Response, fault: dict[str, Any]) -> None:
        """A body of `size` bytes (the given body repeated), optionally gzip-compressed (a bomb)."""
        size = int(fault["size"])
        unit = response.body or b"x"
        stop = self.server.stop_event
        if fault.get("gzip"):
            buffer = io.BytesIO()
            with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as zipped:
                sent = 0
                block = (unit * (_CHUNK // len(unit) + 1))[:_CHUNK]
                while sent < size:
                    piece = block[: min(_CHUNK, size - sent)]
                    zipped.write(piece)
                    sent += len(piece)
            payload = buffer.getvalue()
            response.headers.append(("Content-Encoding", "gzip"))
            self.wfile.write(self._head(response, len(payload), close=True) + payload)
            self.close_connection = True
            return
        self.wfile.write(self._head(response, size, close=True))
        block = (unit * (_CHUNK // len(unit) + 1))[:_CHUNK]
        sent = 0
        while sent < size and not stop.is_set():
            piece = block[: min(_CHUNK, size - sent)]
            self.wfile.write(piece)
            sent += len(piece)
        self.close_connection = True

    def _reset(self) -> None:
        """Close with RST (SO_LINGER 0) instead of FIN."""
        self.close_connection = True
        sock = self.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        for stream in (self.rfile, self.wfile):
            try:
                stream.close()
            except (OSError, ValueError):
                pass
        try:
            sock.close()
        except OSError:
            pass
