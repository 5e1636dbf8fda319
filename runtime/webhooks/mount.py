"""The receiver as an ASGI or a WSGI app, to mount in a host's own web server (same answers as `relaykit serve`).

`WebhookReceiver.asgi_app()` / `wsgi_app()` return an app that hands each request to the
receiver's `handle` (verify, deduplicate, queue, answer) and starts the receiver's worker on first
use; the host's server owns the sockets, so it also owns connection caps and request deadlines.
An ASGI body is read up to `max_body_bytes + 1` and no further; a WSGI body is read by `handle`
itself, exactly `Content-Length` bytes. Nothing here imports the receiver: it works on any object
with `handle`, `count`, `max_body_bytes` and `start_worker`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from http.client import HTTPMessage
from typing import Any
from urllib.parse import quote

__all__ = ["asgi_app", "wsgi_app"]

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
            503: "Service Unavailable"}


class _Request:
    """What `WebhookReceiver.handle` reads: the request target, headers, a body stream, close_connection."""

    def __init__(self, path: str, headers: HTTPMessage, body: Any) -> None:
        self.path = path
        self.headers = headers
        self.rfile = body
        self.close_connection = False


def _answer(receiver: Any, method: str, make: Callable[[], _Request]) -> tuple[int, str, list[tuple[str, str]], bytes]:
    extra: list[tuple[str, str]] = []
    if method != "POST":
        status, reason = 405, "method not allowed"
        extra.append(("Allow", "POST"))
    else:
        try:
            status, reason = receiver.handle(make())
        except Exception:  # as in the HTTP handler: every failure is a 4xx, never a 5xx retried for days
            status, reason = 400, "unreadable request"
    receiver.count(reason)
    body = json.dumps({"ok": status == 200, "result": reason}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *extra]
    if status == 503:
        headers.append(("Retry-After", "1"))
    return status, reason, headers, body


def wsgi_app(receiver: Any) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """A WSGI app for `receiver`; its path is matched against SCRIPT_NAME + PATH_INFO."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        receiver.start_worker()

        def make() -> _Request:
            headers = HTTPMessage()
            if environ.get("CONTENT_LENGTH", "") != "":
                headers["Content-Length"] = environ["CONTENT_LENGTH"]
            if environ.get("CONTENT_TYPE"):
                headers["Content-Type"] = environ["CONTENT_TYPE"]
            for key, value in environ.items():
                if key.startswith("HTTP_"):
                    headers[key[5:].replace("_", "-").title()] = value
            path = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""), safe="/%:@!$&'()*+,;=~-._")
            if environ.get("QUERY_STRING"):
                path += "?" + environ["QUERY_STRING"]
            return _Request(path, headers, environ.get("wsgi.input") or io.BytesIO())

        status, _, headers, body = _answer(receiver, environ.get("REQUEST_METHOD", ""), make)
        start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
        return [body]

    return app


def asgi_app(receiver: Any) -> Callable[..., Any]:
    """An ASGI 3 app for `receiver` (http and lifespan scopes); its path is matched against root_path + path."""

    async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    receiver.start_worker()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        receiver.start_worker()
        body = b""
        more = scope.get("method") == "POST"
        while more and len(body) <= receiver.max_body_bytes:  # never more than one byte past the cap
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = HTTPMessage()
        for name, value in scope.get("headers", ()):
            headers[name.decode("latin-1")] = value.decode("latin-1")
        raw = scope.get("raw_path") or quote(scope.get("root_path", "") + scope.get("path", "")).encode()
        path = raw.decode("latin-1")
        if scope.get("query_string"):
            path += "?" + scope["query_string"].decode("latin-1")
        status, _, out_headers, payload = _answer(receiver, scope.get("method", ""),
                                                  lambda: _Request(path, headers, io.BytesIO(body)))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.lower().encode(), v.encode()) for k, v in out_headers]})
        await send({"type": "http.response.body", "body": payload})

    return app
