"""What the transport puts on the wire, read back byte for byte by a raw loopback server.

relaykit sends through the session's mounted adapter instead of `Session.request` (see
`Transport._send_prepared`), so these tests pin down what that path must still do and what it
must never do: one Content-Type whatever its case, an explicit Content-Length (never chunked),
an embedder's session contributing defaults but never credentials or cookies, and a redirect's
body never read.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests
from canary_scan import APP_KEY
from relaykit import RedirectError, Runtime


class RawServer:
    """Accepts keep-alive connections, records each request's raw head and body, answers `respond(...)`."""

    def __init__(self, respond=None) -> None:
        self.requests: list[tuple[bytes, bytes]] = []
        self.sent_bytes = 0
        self.respond = respond or (lambda head, body: (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                                       b"Content-Length: 2\r\nSet-Cookie: session=abc123\r\n\r\n{}"))
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                while len(buffer) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                body, buffer = buffer[:length], buffer[length:]
                self.requests.append((head, body))
                reply = self.respond(head, body)
                try:
                    if isinstance(reply, bytes):
                        conn.sendall(reply)
                    else:
                        for part in reply:
                            conn.sendall(part)
                            self.sent_bytes += len(part)
                except OSError:
                    return

    def header_values(self, index: int, name: str) -> list[str]:
        head = self.requests[index][0].decode("latin-1").split("\r\n")[1:]
        return [line.split(":", 1)[1].strip() for line in head if line.split(":", 1)[0].strip().lower() == name]

    def close(self) -> None:
        self._stop = True
        self.sock.close()


@pytest.fixture
def raw_server():
    server = RawServer()
    yield server
    server.close()


def connection(server: RawServer) -> dict[str, str]:
    return {"api_key": APP_KEY, "region": "us", "sandbox_url": server.url}


def raw(rt: Runtime, server: RawServer, **input_):
    return rt.run("customerio-app.raw_http_request", input_, connection(server))


def test_a_callers_content_type_in_any_case_is_the_only_one_sent(rt, raw_server):
    raw(rt, raw_server, method="POST", endpoint="/things", headers={"content-type": "application/vnd.x+json"},
        body={"json": {"a": 1}})
    raw(rt, raw_server, method="POST", endpoint="/things", body={"json": {"a": 1}})
    assert raw_server.header_values(0, "content-type") == ["application/vnd.x+json"]
    assert raw_server.header_values(1, "content-type") == ["application/json"]


@pytest.mark.parametrize(("body", "length", "sent"), [
    ({"raw": "", "content_type": "text/plain"}, "0", b""),
    ({"raw": "héllo", "content_type": "text/plain"}, "6", "héllo".encode()),
    ({"json": {"a": [1, 2]}}, "11", b'{"a":[1,2]}'),
    (None, "0", b""),
])
def test_every_body_goes_with_an_exact_content_length_never_chunked(rt, raw_server, body, length, sent):
    raw(rt, raw_server, method="POST", endpoint="/things", **({"body": body} if body is not None else {}))
    assert raw_server.header_values(0, "content-length") == [length]
    assert raw_server.header_values(0, "transfer-encoding") == []
    assert raw_server.requests[0][1] == sent


def test_a_get_carries_no_content_length(rt, raw_server):
    raw(rt, raw_server, method="GET", endpoint="/things")
    assert raw_server.header_values(0, "content-length") == []


def test_one_header_per_name_and_relaykit_user_agent(rt, raw_server):
    raw(rt, raw_server, method="GET", endpoint="/things", headers={"X-Trace": "t1"})
    head = raw_server.requests[0][0].decode("latin-1").split("\r\n")[1:]
    names = [line.split(":", 1)[0].lower() for line in head]
    assert len(names) == len(set(names)), names
    assert raw_server.header_values(0, "user-agent")[0].startswith("relaykit/")
    assert raw_server.header_values(0, "authorization") == [f"Bearer {APP_KEY}"]
    assert raw_server.header_values(0, "x-trace") == ["t1"]


def test_an_embedders_session_gives_defaults_but_never_credentials_or_cookies(raw_server):
    session = requests.Session()
    session.headers["X-Team"] = "growth"
    session.headers["Accept-Encoding"] = None  # requests' way to drop a default
    session.auth = ("intruder", "not-the-connection-key")
    session.cookies.set("tracking", "from-the-embedder")
    rt = Runtime(session=session)
    try:
        for _ in range(2):  # the second call would carry a cookie the first response set, if any jar were kept
            raw(rt, raw_server, method="GET", endpoint="/things")
    finally:
        rt.close()
    for index in (0, 1):
        assert raw_server.header_values(index, "x-team") == ["growth"]
        assert raw_server.header_values(index, "authorization") == [f"Bearer {APP_KEY}"]
        assert raw_server.header_values(index, "cookie") == []
        assert raw_server.header_values(index, "accept-encoding") in ([], ["identity"])


def test_relaykits_own_session_keeps_no_cookie_between_calls(rt, raw_server):
    raw(rt, raw_server, method="GET", endpoint="/things")
    raw(rt, raw_server, method="GET", endpoint="/things")
    assert raw_server.header_values(1, "cookie") == []
    assert raw_server.header_values(0, "accept-encoding") == ["gzip, deflate"]


def test_a_redirects_body_is_never_read():
    """A 302 announcing 200 MB: relaykit raises at the status line; requests' Session.send would read it all."""
    total, chunk = 200 * 2**20, b"\0" * 65536

    def respond(head, body):
        yield (f"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.2:9/elsewhere\r\nContent-Length: {total}\r\n"
               "\r\n").encode()
        for _ in range(total // len(chunk)):
            yield chunk

    server = RawServer(respond)
    rt = Runtime()
    try:
        started = time.monotonic()
        with pytest.raises(RedirectError) as info:
            raw(rt, server, method="GET", endpoint="/things")
        elapsed = time.monotonic() - started
    finally:
        rt.close()
        time.sleep(0.2)  # let the server notice the closed connection
        server.close()
    assert "127.0.0.2" in str(info.value)
    assert server.sent_bytes < 32 * 2**20, server.sent_bytes  # socket buffers at most, never the whole body
    assert elapsed < 10


@pytest.mark.parametrize("content_type", [
    "text/plain\x00", "text/plain\r\n Authorization: Bearer x", "text/plain\r\nX: y", "text/plaïn✓", " text/plain",
])
def test_a_raw_content_type_is_vetted_like_a_header_and_nothing_is_sent(rt, raw_server, content_type):
    from relaykit import InputValidationError

    with pytest.raises(InputValidationError) as info:
        raw(rt, raw_server, method="POST", endpoint="/things", body={"raw": "x", "content_type": content_type})
    assert "/body/content_type" in str(info.value)
    assert raw_server.requests == []


@pytest.mark.parametrize("name", ["X-Trace\n", "~\n", "X Trace", "X-Trace\r"])
def test_a_header_name_with_a_final_newline_or_space_is_refused(rt, raw_server, name):
    """The fuzzer found `"~\\n"` passing the token check (`$` matched before the newline)."""
    from relaykit import InputValidationError

    with pytest.raises(InputValidationError):
        raw(rt, raw_server, method="GET", endpoint="/things", headers={name: "v"})
    assert raw_server.requests == []
