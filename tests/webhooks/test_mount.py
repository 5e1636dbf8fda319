"""The receiver mounted in a host's own server: WSGI over a real socket, ASGI driven as a server drives it."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from relaykit.webhooks.receiver import WebhookReceiver, sign

KEY = "whsec-current-0001"
NOW = 1_700_000_000


def signed(event_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"event_id": event_id, "metric": "sent"}).encode()
    return body, {"X-CIO-Timestamp": str(NOW), "X-CIO-Signature": sign(KEY, str(NOW), body),
                  "Content-Type": "application/json"}


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def events():
    return []


@pytest.fixture
def receiver(events):
    rec = WebhookReceiver(events.append, [KEY], path="/hooks/cio", clock=lambda: NOW, max_body_bytes=1024)
    yield rec
    rec.stop()


@pytest.fixture
def wsgi_url(receiver):
    server = make_server("127.0.0.1", 0, receiver.wsgi_app(), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def request(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    out = response.status, dict(response.getheaders()), json.loads(response.read())
    conn.close()
    return out


def test_wsgi_app_gives_the_receivers_answers(receiver, events, wsgi_url):
    body, headers = signed("01EVT0000000000000000001")
    assert request(wsgi_url, "POST", "/hooks/cio", body, headers)[::2] == (200, {"ok": True, "result": "accepted"})
    assert request(wsgi_url, "POST", "/hooks/cio", body, headers)[2]["result"] == "duplicate"
    assert request(wsgi_url, "POST", "/hooks/cio", body, {**headers, "X-CIO-Signature": "0" * 64})[0] == 401
    assert request(wsgi_url, "POST", "/elsewhere", body, headers)[0] == 404
    assert request(wsgi_url, "POST", "/hooks/cio", b"x" * 2000, headers)[2]["result"] == "body too large"
    status, answer_headers, _ = request(wsgi_url, "GET", "/hooks/cio")
    assert status == 405 and answer_headers["Allow"] == "POST"
    assert receiver.wait_idle() and [e["event_id"] for e in events] == ["01EVT0000000000000000001"]


def run_asgi(app, scope: dict, chunks: list[bytes]) -> tuple[int, dict, bytes, int]:
    """Drive one ASGI http request; returns status, headers, body and how many body chunks were read."""
    sent: list[dict] = []
    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    read = 0

    async def receive():
        nonlocal read
        read += 1
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start, body = sent[0], sent[1]
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body["body"], read


def scope(method: str = "POST", path: str = "/hooks/cio", headers: dict | None = None) -> dict:
    return {"type": "http", "method": method, "path": path, "query_string": b"",
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}


def test_asgi_app_gives_the_receivers_answers(receiver, events):
    app = receiver.asgi_app()
    body, headers = signed("01EVT0000000000000000002")
    headers["Content-Length"] = str(len(body))
    status, _, payload, _ = run_asgi(app, scope(headers=headers), [body[:10], body[10:]])
    assert (status, json.loads(payload)) == (200, {"ok": True, "result": "accepted"})
    assert run_asgi(app, scope(headers={**headers, "X-CIO-Signature": "0" * 64}), [body])[0] == 401
    status, answer_headers, _, _ = run_asgi(app, scope(method="GET"), [b""])
    assert status == 405 and answer_headers["allow"] == "POST"
    assert receiver.wait_idle() and [e["event_id"] for e in events] == ["01EVT0000000000000000002"]


def test_asgi_app_stops_reading_a_body_past_the_cap(receiver):
    app = receiver.asgi_app()
    status, _, payload, read = run_asgi(app, scope(headers={"Content-Length": "5000"}), [b"x" * 600] * 100)
    assert status == 400 and json.loads(payload)["result"] == "body too large"
    assert read == 2  # 1,200 bytes read of 60,000 offered: one chunk past the 1,024 cap


def test_asgi_lifespan_starts_the_worker(receiver):
    app = receiver.asgi_app()
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert receiver._worker is not None and receiver._worker.is_alive()
