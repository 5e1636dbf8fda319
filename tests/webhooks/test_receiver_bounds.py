"""The receiver's request line and connection bounds, over real sockets on 127.0.0.1 (issue 12, items 11-12)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relaykit.webhooks.receiver import WebhookReceiver, sign

KEY = "whsec-current-0001"
NOW = 1_700_000_000


def exchange(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send `data`, then read until the server closes (or `timeout`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        out = b""
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return out


def status_and_body(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), answer[:80]
    return int(head.split()[1]), json.loads(body)


def signed_post(event_id: str) -> bytes:
    body = json.dumps({"event_id": event_id, "metric": "sent", "object_type": "email"}).encode()
    return (f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\nX-CIO-Timestamp: {NOW}\r\n"
            f"X-CIO-Signature: {sign(KEY, str(NOW), body)}\r\nConnection: close\r\n\r\n").encode() + body


@pytest.fixture(scope="module")
def receiver():
    with WebhookReceiver(lambda event: None, [KEY], clock=lambda: NOW, poll_interval=0.01,
                         max_connections=8, request_deadline=3.0) as rec:
        yield rec


@pytest.mark.parametrize("request_bytes", [
    b"POST / HTTP/2.0\r\n\r\n", b"POST / HTTP/9.9\r\n\r\n", b"POST / HTTP/1.1.1\r\n\r\n", b"POST / HTTP/x\r\n\r\n",
    b"GET /\r\n\r\n", b"POST /\r\n\r\n", b"garbage\r\n\r\n", b"\x00\xff\xfe\r\n\r\n", b"POST  /  HTTP/1.1 x\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + b"X: y\r\n" * 150 + b"\r\n", b"POST /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
], ids=["http2", "http9.9", "version-garbage", "version-word", "http0.9-get", "http0.9-post", "garbage", "binary",
        "four-words", "too-many-headers", "line-too-long"])
def test_a_malformed_request_gets_a_4xx_json_answer_and_is_logged(receiver, caplog, request_bytes):
    with caplog.at_level(logging.INFO, logger="relaykit.automation"):
        status, body = status_and_body(exchange(receiver.port, request_bytes))
    assert 400 <= status < 500 and body == {"ok": False, "result": "malformed request"}
    assert any("rejected (malformed request" in r.getMessage() for r in caplog.records)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=60).filter(lambda b: b"\n" not in b and b"\r" not in b))
def test_no_request_line_produces_a_server_error(receiver, line):
    answer = exchange(receiver.port, line + b"\r\nContent-Length: 0\r\n\r\n")
    if answer:  # a line that parses as a request gets the receiver's own answer
        status, _ = status_and_body(answer)
        assert status < 500


def test_a_dripping_client_is_cut_off_at_the_request_deadline():
    with WebhookReceiver(lambda event: None, [KEY], clock=lambda: NOW, poll_interval=0.01,
                         max_connections=4, request_deadline=1.0) as rec:
        sock = socket.create_connection(("127.0.0.1", rec.port), timeout=5)
        started = time.monotonic()
        closed_after = None
        for byte in b"POST / HTTP/1.1\r\nX-Slow: " + b"a" * 100:  # one byte every 0.1 s: 12 s if let run
            try:
                sock.sendall(bytes([byte]))
                sock.settimeout(0.1)
                if sock.recv(1024) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
            except OSError:
                closed_after = time.monotonic() - started
                break
        sock.close()
        assert closed_after is not None and closed_after < 3.0  # the 1 s deadline plus the reaper's tick
        assert exchange(rec.port, signed_post("01EVT0000000000000000001")).startswith(b"HTTP/1.1 200")


def test_connections_past_the_cap_get_503_with_retry_after_and_threads_stay_bounded():
    cap = 5
    with WebhookReceiver(lambda event: None, [KEY], clock=lambda: NOW, poll_interval=0.01,
                         max_connections=cap, request_deadline=2.0) as rec:
        before = threading.active_count()
        idle = [socket.create_connection(("127.0.0.1", rec.port), timeout=5) for _ in range(cap)]
        time.sleep(0.3)
        extra = [socket.create_connection(("127.0.0.1", rec.port), timeout=5) for _ in range(40)]
        answers = []
        for sock in extra:
            sock.sendall(b"POST / HTTP/1.1\r\n\r\n")
            answers.append(exchange_on(sock))
        assert threading.active_count() <= before + cap
        for answer in answers:
            status, body = status_and_body(answer)
            assert status == 503 and body["result"] == "busy" and b"\r\nRetry-After: 1\r\n" in answer
        deadline = time.monotonic() + 5
        while any(s.recv(1024) for s in idle) and time.monotonic() < deadline:
            pass  # the idle ones are cut off at their deadline, freeing the slots
        for sock in idle + extra:
            sock.close()
        time.sleep(0.3)
        assert exchange(rec.port, signed_post("01EVT0000000000000000002")).startswith(b"HTTP/1.1 200")
        assert rec.stats().get("busy (too many connections)") == 40


def exchange_on(sock: socket.socket) -> bytes:
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return out
