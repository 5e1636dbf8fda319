"""A loopback HTTP listener that records what is posted to it (a reporting-webhook endpoint for tests).

It answers with the statuses it is given, in turn (then 200), and counts every connection it
accepts, so a test can prove that nothing even tried to reach it.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Catcher:
    """POSTs received on `host` (127.0.0.1 by default), as (headers lowercased, raw body) pairs."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, statuses: list[int] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.connections = 0
        self.statuses = list(statuses or [])
        self.extra_headers = dict(headers or {})
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                catcher.received.append(({k.lower(): v for k, v in self.headers.items()}, raw))
                status = catcher.statuses.pop(0) if catcher.statuses else 200
                self.send_response(status)
                for name, value in catcher.extra_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> Any:
                request = super().get_request()
                catcher.connections += 1
                return request

        self.server = Server((host, port), Handler)
        self.host, self.port = host, self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for _, raw in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        end = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < end:
            time.sleep(0.01)
        return self.events()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Catcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
