"""Server behaviour (keep-alive, concurrency, odd framing), the CLI, and signed webhooks."""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from canary_scan import APP_BEARER, CREDENTIALS, PIPELINES_AUTH, SITE_ID, TRACK_AUTH, TRACK_KEY, leaks
from relaykit.sandbox import Sandbox

AUTH = TRACK_AUTH
CANARY_ARGS = [f"--{name.replace('_', '-')}={value}" for name, value in CREDENTIALS.items()]  # as in-process


def test_keep_alive_serves_many_requests_on_one_connection(sandbox):
    session = requests.Session()
    url = sandbox.base_urls["customerio-track"]["us"]
    for i in range(50):
        assert session.put(f"{url}/v1/customers/u{i}", json={"a": i}, auth=AUTH, timeout=5).status_code == 200
    assert sandbox.stats()["connections_accepted"] == 1


def test_sixteen_concurrent_clients_lose_no_writes(sandbox):
    url = sandbox.base_urls["customerio-track"]["us"]
    errors: list[BaseException] = []

    def client(n: int) -> None:
        session = requests.Session()
        try:
            for i in range(40):
                r = session.post(
                    f"{url}/v1/customers/c{n}/events", json={"name": "e", "id": f"{n}-{i}"}, auth=AUTH, timeout=10
                )
                assert r.status_code == 200
                r = session.put(f"{url}/v1/customers/c{n}", json={f"k{i}": i}, auth=AUTH, timeout=10)
                assert r.status_code == 200
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    state = sandbox.state()
    ids = [e["dedupe_id"] for e in state["events"]]
    assert len(ids) == 640 and len(set(ids)) == 640
    assert len(state["people"]) == 16
    assert all(len([k for k in p["attributes"] if k.startswith("k")]) == 40 for p in state["people"])
    stats = sandbox.stats()
    assert stats["writes"]["customerio-track"] == 1280 and stats["requests"] == 1280


def test_chunked_request_body_and_expect_continue(sandbox):
    url = sandbox.base_urls["customerio-track"]["us"] + "/v1/customers/u/events"

    def chunks():
        yield b'{"name": '
        yield b'"chunked"}'

    assert (
        requests.post(
            url, data=chunks(), auth=AUTH, headers={"Content-Type": "application/json"}, timeout=5
        ).status_code
        == 200
    )
    assert sandbox.state()["events"][0]["name"] == "chunked"
    sock = socket.create_connection(("127.0.0.1", sandbox.port), timeout=5)
    body = b'{"name":"continued"}'
    token = base64.b64encode(f"{SITE_ID}:{TRACK_KEY}".encode()).decode()
    sock.sendall(
        b"POST /customerio-track/us/api/v1/customers/u/events HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Basic " + token.encode() + b"\r\nContent-Type: application/json\r\n"
        b"Expect: 100-continue\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
    sock.sendall(body)
    assert b"200 OK" in sock.recv(1000)
    sock.close()


def test_malformed_request_line_and_bad_length(sandbox):
    sock = socket.create_connection(("127.0.0.1", sandbox.port), timeout=5)
    sock.sendall(b"NONSENSE\r\n\r\n")
    assert sock.recv(100).startswith(b"HTTP/1.1 400")
    sock.close()
    sock = socket.create_connection(("127.0.0.1", sandbox.port), timeout=5)
    sock.sendall(b"POST /customerio-track/us/api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
    assert sock.recv(1000).startswith(b"HTTP/1.1 400")
    sock.close()


def test_gzip_bomb_request_is_refused(sandbox):
    bomb = gzip.compress(b"\0" * (40 * 1024 * 1024))
    r = requests.post(
        sandbox.base_urls["customerio-pipelines"]["us"] + "/v1/batch",
        data=bomb,
        headers={"Content-Encoding": "gzip"},
        auth=PIPELINES_AUTH,
        timeout=10,
    )
    assert r.status_code == 413


# ------------------------------------------------------------------------------------------------ CLI
def _start_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "relaykit.sandbox", "--port", "0", *CANARY_ARGS, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_cli_prints_urls_serves_and_exits_cleanly_on_sigterm():
    proc = _start_cli("--quiet", "--rate-limits", "off", "--region", "eu", "--faults", '{"schedule": ["503"]}')
    try:
        info = json.loads(proc.stdout.readline())
        assert set(info) >= {
            "customerio-track",
            "customerio-app",
            "customerio-beta",
            "customerio-pipelines",
            "credentials",
        }
        assert info["credentials"]["track_api_key"] == TRACK_KEY
        track_eu = info["customerio-track"]["eu"]
        assert track_eu.startswith("http://127.0.0.1:") and track_eu.endswith("/customerio-track/eu/api")
        assert requests.put(f"{track_eu}/v1/customers/u", json={}, auth=AUTH, timeout=5).status_code == 503
        assert requests.put(f"{track_eu}/v1/customers/u", json={}, auth=AUTH, timeout=5).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_sigint_and_request_log_without_credentials():
    proc = _start_cli("--rate-limits", "on")
    try:
        info = json.loads(proc.stdout.readline())
        requests.put(info["customerio-track"]["us"] + "/v1/customers/u?token=1", json={}, auth=AUTH, timeout=5)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        err = proc.stderr.read()
        assert "PUT /customerio-track/us/api/v1/customers/u -> 200 ok" in err
        assert leaks(err) == [] and "token=1" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_refuses_remote_host_without_flag():
    proc = subprocess.run(
        [sys.executable, "-m", "relaykit.sandbox", "--host", "0.0.0.0"], capture_output=True, text=True, timeout=20
    )
    assert proc.returncode == 2 and "--allow-remote" in proc.stderr and proc.stdout == ""


def test_cli_warns_when_remote_is_allowed():
    proc = _start_cli("--host", "0.0.0.0", "--allow-remote", "--quiet")
    try:
        json.loads(proc.stdout.readline())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert "WARNING" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_rejects_bad_fault_spec():
    proc = subprocess.run(
        [sys.executable, "-m", "relaykit.sandbox", "--faults", "F99"],
        capture_output=True,
        text=True,
        timeout=20,
        env={**os.environ},
    )
    assert proc.returncode == 2 and "faults" in proc.stderr


def test_cli_module_functions():
    import argparse

    from relaykit.sandbox import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--port", "0", "--faults", "F20", "--rate-limits", "off"])
    assert (args.port, args.faults, args.rate_limits, args.host) == (0, "F20", "off", "127.0.0.1")


# ------------------------------------------------------------------------------------------------ webhooks
def test_deliveries_post_signed_reporting_webhooks():
    received: list[tuple[dict, bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(({k.lower(): v for k, v in self.headers.items()}, raw))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    key = "whsec-test"
    try:
        with Sandbox(
            webhook_url=f"http://127.0.0.1:{server.server_address[1]}/hook", webhook_signing_key=key, processing_delay=0
        ) as sb:
            r = requests.post(
                sb.base_urls["customerio-app"]["us"] + "/send/email",
                json={"transactional_message_id": 1, "to": "w@x.io", "identifiers": {"id": "w"}},
                headers={"Authorization": APP_BEARER},
                timeout=5,
            )
            delivery = r.json()["delivery_id"]
            results = sb.webhook_results(wait=5)
        assert [res["status"] for res in results] == [200, 200]
        metrics = []
        for headers, raw in received:
            ts, sig = headers["x-cio-timestamp"], headers["x-cio-signature"]
            expected = hmac.new(key.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(sig, expected)
            event = json.loads(raw)
            assert event["object_type"] == "email" and event["data"]["delivery_id"] == delivery
            assert event["data"]["transactional_message_id"] == 1
            assert event["data"]["identifiers"]["id"] == "w"
            metrics.append(event["metric"])
        assert metrics == ["sent", "delivered"]
    finally:
        server.shutdown()
        server.server_close()
