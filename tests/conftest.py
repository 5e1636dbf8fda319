"""Shared fixtures: a Runtime, the opt-in sandbox plugin, and a tiny loopback echo server.

`canary_scan` (tests/canary_scan.py) makes every run of the suite the S3 canary run: the sandbox
hands out canary credentials, relaykit and urllib3 log at DEBUG, and any test whose output, log
records, errors or dry runs show a canary in any encoding fails.

`clock` is a fake monotonic clock whose `sleep` only advances it (`Runtime(clock=clock,
sleep=clock.sleep)`). The echo server stands in for a third-party API in plugin tests: a real HTTP server on loopback
that records what it received, so nothing is mocked.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata

import pytest
from relaykit import Runtime

# canary_scan: S3 over the whole suite; redis_server: a real Redis (tests/redis_server.py)
pytest_plugins = ["relaykit.sandbox.pytest_plugin", "canary_scan", "figures", "redis_server"]

BUILTIN_CONNECTORS = {"customerio-track", "customerio-app", "customerio-beta", "customerio-pipelines"}


def pytest_sessionstart(session):
    names = {ep.name for ep in metadata.entry_points(group="relaykit.connectors")}
    missing = BUILTIN_CONNECTORS - names
    if missing:
        raise pytest.UsageError(
            f"relaykit's entry points are not installed ({sorted(missing)} missing): install the project "
            "first, e.g. `python -m pip install -e .[test]`"
        )


class FakeClock:
    """Monotonic time that only moves when someone sleeps: rate limits and backoff cost no real time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += max(seconds, 0.0)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture(scope="session")
def rt():
    runtime = Runtime()
    yield runtime
    runtime.close()


class EchoServer:
    """Records every request; answers with `self.status` and a JSON echo (or `self.body`)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        self.body: bytes | None = None
        self.headers: dict[str, str] = {}
        echo = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                record = {"method": self.command, "path": self.path, "headers": dict(self.headers),
                          "body": raw.decode("utf-8", "replace")}
                echo.requests.append(record)
                payload = echo.body if echo.body is not None else json.dumps(record).encode()
                self.send_response(echo.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in echo.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def echo_server():
    server = EchoServer()
    yield server
    server.close()
