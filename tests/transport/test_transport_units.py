"""Smaller guarantees of the transport: the watchdog, overrides, safe URLs, payload masking, the
delivery report's accounting (R2), and a TLS certificate failure."""

from __future__ import annotations

import io
import logging
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest
from relaykit import Runtime, TransportError
from relaykit.delivery.pool import deliver
from relaykit.models import HttpRequest
from relaykit.redact import install_log_filter, mask_payload
from relaykit.transport.sender import display_url
from relaykit.transport.watchdog import WATCHDOG


class FakeConn:
    def __init__(self, sock):
        self.sock = sock


def test_watchdog_shuts_a_blocked_socket_down_at_its_deadline():
    a, b = socket.socketpair()
    try:
        handle = WATCHDOG.arm(0.2)
        WATCHDOG.bind(FakeConn(a))
        started = time.monotonic()
        assert a.recv(10) == b""  # woken by the shutdown, as an end-of-file
        assert 0.15 < time.monotonic() - started < 1.0 and handle.fired
        WATCHDOG.disarm(handle)
    finally:
        a.close()
        b.close()


def test_watchdog_never_touches_a_connection_after_disarm_or_rebinding():
    a, b = socket.socketpair()
    try:
        handle = WATCHDOG.arm(0.05)
        conn = FakeConn(a)
        WATCHDOG.bind(conn)
        WATCHDOG.disarm(handle)  # the attempt finished in time
        other = WATCHDOG.arm(5.0)  # the pooled connection is reused by another attempt
        WATCHDOG.bind(conn)
        time.sleep(0.15)
        b.sendall(b"x")
        assert a.recv(1) == b"x" and not handle.fired
        WATCHDOG.disarm(other)
    finally:
        a.close()
        b.close()


def test_watchdog_heap_is_swept_under_heavy_traffic():
    for _ in range(5000):
        WATCHDOG.disarm(WATCHDOG.arm(60.0))
    assert len(WATCHDOG._heap) < 3000


@pytest.mark.parametrize(("kw", "fragment"), [
    ({"timeouts": {"reed": 1}}, "unknown"), ({"timeouts": {"read": 0}}, "positive"),
    ({"timeouts": {"total": True}}, "positive"), ({"retry": {"max_attempts": 2.5}}, "whole"),
    ({"retry": {"tries": 3}}, "unknown"),
])
def test_runtime_overrides_are_checked_at_construction(kw, fragment):
    with pytest.raises(ValueError, match=fragment):
        Runtime(**kw)


@pytest.mark.parametrize(("url", "template", "shown"), [
    ("https://track.customer.io/api/v1/customers/ada%40x.io/events?x=1", "/v1/customers/{identifier}/events",
     "https://track.customer.io/api/v1/customers/***/events"),
    ("http://127.0.0.1:1/customerio-app/us/v1/customers/c%40x/attributes", "/customers/***/attributes",
     "http://127.0.0.1:1/customerio-app/us/v1/customers/***/attributes"),
    ("https://cdp.customer.io/v1/track", "/v1/track", "https://cdp.customer.io/v1/track"),
    ("https://x.io/a/b?q=secret", "", "https://x.io/a/b"),
    ("https://x.io/users/ada@x.io/1234", "", "https://x.io/users/***/***"),
    ("https://hooks.example/u/ada@x.io", "https://hooks.example/u/***", "https://hooks.example/u/***"),
])
def test_display_url_masks_the_parameters(url, template, shown):
    request = HttpRequest(method="GET", url=url, headers={}, path_template=template)
    assert display_url(request) == shown


def test_mask_payload_masks_echoed_values_case_insensitively():
    request = HttpRequest(method="POST", url="https://x.io/v1/customers/Ada%40Example.com/events", headers={},
                          json={"email": "Ada@Example.com", "n": 123456, "flag": True, "tiny": "ab"},
                          path_template="/v1/customers/{identifier}/events")
    text = "bad identifier ada@example.com (Ada%40Example.com), n=123456, tiny ab, flag True"
    assert mask_payload(text, request) == "bad identifier *** (***), n=***, tiny ab, flag True"


def test_urllib3_request_lines_lose_their_query_string():
    install_log_filter()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("urllib3.connectionpool")
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug('%s://%s:%s "%s %s %s" %s %s', "https", "h", 443, "GET", "/x?api_key=abc123456", "HTTP/1.1",
                     200, 2)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    assert stream.getvalue().strip() == 'https://h:443 "GET /x HTTP/1.1" 200 2'


def test_urllib3_request_lines_show_the_masked_path_not_the_person(sandbox):
    """S4 in DEBUG logs: the identifier in a path stays out of urllib3's request line."""
    install_log_filter()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("urllib3.connectionpool")
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    rt = Runtime()
    try:
        rt.run("customerio-track.track_event", {"identifier": "pii.person@example.org", "name": "e"},
               sandbox.connection("customerio-track"))
    finally:
        rt.close()
        logger.removeHandler(handler)
        logger.setLevel(old)
    lines = [line for line in stream.getvalue().splitlines() if '"POST ' in line]
    assert len(lines) == 1 and "/customers/***/events HTTP/1.1" in lines[0], lines
    assert "pii.person" not in stream.getvalue()


def test_delivery_report_accounts_for_every_item(sandbox):
    """R2: delivered + rejected + failed == total, with reasons, for a mixed batch."""
    items = [{"identifier": f"ok-{i}", "name": "e"} for i in range(20)]
    items[3] = {"identifier": "..", "name": "e"}  # rejected before sending
    items[7] = {"identifier": "x", "name": "e", "data": {"blob": "x" * 40_000}}  # over 32 KB: rejected
    items[11] = {"identifier": "x", "name": "e", "timestamp": 1_700_000_000_000}  # milliseconds: rejected
    sandbox.set_faults({"schedule": [{"kind": "status", "status": 400}]})  # one item fails at the API
    rt = Runtime(sleep=lambda s: None)
    try:
        report = deliver(rt, "customerio-track.track_event", items, sandbox.connection("customerio-track"),
                         workers=4)
    finally:
        rt.close()
    assert (report.total, report.delivered, len(report.rejected), len(report.failed), report.dropped) == \
        (20, 16, 3, 1, 0)
    assert [o.index for o in report.rejected] == [3, 7, 11]
    assert all(o.error == "InputValidationError" for o in report.rejected)
    assert report.failed[0].error == "ClientError" and not report.failed[0].retryable
    assert report.to_dict()["dropped"] == 0 and len(sandbox.journal()) == 17


@pytest.fixture
def tls_server(tmp_path):
    """A TLS server with a self-signed certificate (which relaykit must refuse to trust)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    accepted = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            accepted.append(1)
            try:
                context.wrap_socket(conn, server_side=True).close()
            except (OSError, ssl.SSLError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], accepted
    stop.set()
    thread.join(1)
    listener.close()


def test_certificate_that_does_not_verify_is_not_retried(sandbox, tls_server):
    port, accepted = tls_server
    rt = Runtime(sleep=lambda s: None)
    try:
        with pytest.raises(TransportError) as info:
            rt.run("customerio-track.delete_customer", {"identifier": "x"},
                   {**sandbox.connection("customerio-track"), "sandbox_url": f"https://127.0.0.1:{port}"})
    finally:
        rt.close()
    assert "certificate" in str(info.value) and info.value.attempts == 1 and not info.value.retryable
    assert len(accepted) == 1
