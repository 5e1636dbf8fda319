"""Receive Customer.io reporting webhooks: verify, deduplicate, acknowledge at once, hand events to a worker.

Customer.io signs each request with `X-CIO-Signature`, the lowercase hex HMAC-SHA256 of
`v0:{X-CIO-Timestamp}:{raw body}`, waits 4 seconds for a 2xx, and retries for days while holding
back later events. So the handler reads the raw body under a size cap before parsing anything,
checks the signature against every configured key (rotation) in constant time, applies a
configurable timestamp window, answers duplicates of an `event_id` with 200 without running them
again, queues the event and answers 200 immediately; a worker thread runs the automation. Every
rejection is a 400 or 401, never a 500 (a 5xx would be retried for days). Logs carry only the event
id, the metric and the verification outcome.

Without a store, the duplicate set and the queue are in memory: a restart forgets which events were
seen, and what was queued is lost (logged at `stop`). With `store=` (`relaykit.webhooks.store`), an
event is on disk before its 200, the worker runs it from there, and a restart runs what was left.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import re
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from ..durable import StoreError
from .defaults import DEFAULT_MAX_BODY_BYTES, DEFAULT_TOLERANCE, SIGNING_KEYS_ENV
from .guard import ConnectionGuard
from .store import DurableInbox

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "SIGNING_KEYS_ENV",
    "TIMESTAMP_HEADER",
    "EventStore",
    "Rejection",
    "Verifier",
    "WebhookReceiver",
    "parse_signing_keys",
    "sign",
]

log = logging.getLogger("relaykit.automation")  # covered by relaykit's redacting log filter

SIGNATURE_HEADER = "X-CIO-Signature"
TIMESTAMP_HEADER = "X-CIO-Timestamp"
DEFAULT_DEDUPE_TTL = 7 * 24 * 3600.0 + DEFAULT_TOLERANCE  # Customer.io retries for up to 7 days
DEFAULT_DEDUPE_SIZE = 100_000
MAX_EVENT_ID_LENGTH = 256
DEFAULT_MAX_CONNECTIONS = 64  # threads and sockets held at once; one more gets 503 + Retry-After
DEFAULT_REQUEST_DEADLINE = 15.0  # seconds for one whole request (Customer.io gives up after 4)

_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
_SIGNATURE_RE = re.compile(r"[0-9a-fA-F]{64}")
_LENGTH_RE = re.compile(r"[0-9]{1,15}")  # ASCII digits only ("²".isdigit() is True), and few enough for int()


def sign(key: str, timestamp: str, body: bytes) -> str:
    """The `X-CIO-Signature` value for a body: hex HMAC-SHA256 over `v0:{timestamp}:{body}`."""
    return hmac.new(key.encode("utf-8"), b"v0:" + timestamp.encode("ascii") + b":" + body, hashlib.sha256).hexdigest()


def parse_signing_keys(text: str | None) -> list[str]:
    """Keys from a comma-separated list (the environment variable's format); blanks are dropped."""
    return [k.strip() for k in (text or "").split(",") if k.strip()]


@dataclass(frozen=True)
class Rejection:
    """Why a request was refused and with which status (400 malformed, 401 not authentic)."""

    status: int
    reason: str


class Verifier:
    """Checks a request's signature against every signing key, then its timestamp window.

    `tolerance` is the accepted distance in seconds between the timestamp and now, in both
    directions (0 disables the window and leaves replay protection to the duplicate store).
    """

    def __init__(self, signing_keys: Iterable[str], *, tolerance: float = DEFAULT_TOLERANCE,
                 clock: Callable[[], float] = time.time) -> None:
        keys = [k for k in signing_keys]
        if not keys or any(not isinstance(k, str) or not k.strip() for k in keys):
            raise ValueError("at least one non-empty webhook signing key is required")
        self._keys = [k.strip().encode("utf-8") for k in keys]
        self.tolerance = float(tolerance)
        self.clock = clock

    def __repr__(self) -> str:
        return f"Verifier({len(self._keys)} key(s), tolerance={self.tolerance:g}s)"

    def check(self, timestamp: str | None, signature: str | None, body: bytes) -> Rejection | None:
        """None when authentic and fresh; otherwise the rejection to answer."""
        if not timestamp:
            return Rejection(400, "missing timestamp")
        if not signature:
            return Rejection(400, "missing signature")
        timestamp, signature = timestamp.strip(), signature.strip()
        if not _TIMESTAMP_RE.fullmatch(timestamp):
            return Rejection(400, "malformed timestamp")
        if not _SIGNATURE_RE.fullmatch(signature):
            return Rejection(400, "malformed signature")
        message = b"v0:" + timestamp.encode("ascii") + b":" + body
        given = signature.lower().encode("ascii")
        matched = False
        for key in self._keys:  # no early exit: every key is tried, whichever matches
            expected = hmac.new(key, message, hashlib.sha256).hexdigest().encode("ascii")
            matched |= hmac.compare_digest(expected, given)
        if not matched:
            return Rejection(401, "bad signature")
        if self.tolerance > 0:
            skew = self.clock() - int(timestamp)
            if skew > self.tolerance:
                return Rejection(401, "stale timestamp")
            if skew < -self.tolerance:
                return Rejection(401, "timestamp in the future")
        return None


class EventStore:
    """Event ids seen recently (bounded, with a TTL): answers "was this delivered before?" atomically."""

    def __init__(self, ttl: float = DEFAULT_DEDUPE_TTL, max_size: int = DEFAULT_DEDUPE_SIZE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self.clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, event_id: str) -> bool:
        """Remember `event_id`; True when it is new (not seen within the TTL)."""
        now = self.clock()
        with self._lock:
            while self._seen:
                oldest, expires = next(iter(self._seen.items()))
                if expires > now:
                    break
                del self._seen[oldest]
            if event_id in self._seen:
                return False
            self._seen[event_id] = now + self.ttl
            while len(self._seen) > self.max_size:
                self._seen.popitem(last=False)
            return True

    def discard(self, event_id: str) -> None:
        """Forget an id (the event could not be queued, so a redelivery must run it)."""
        with self._lock:
            self._seen.pop(event_id, None)

    def __len__(self) -> int:
        return len(self._seen)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    receiver: WebhookReceiver
    guard: ConnectionGuard

    def process_request(self, request: Any, client_address: Any) -> None:
        if self.guard.admit(request):  # past the cap: 503 + Retry-After, no thread started
            super().process_request(request, client_address)
        else:
            self.receiver.count("busy (too many connections)")

    def shutdown_request(self, request: Any) -> None:
        self.guard.release(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # TCP_NODELAY: no 40 ms Nagle/delayed-ACK stall per answer
    timeout = 10  # a client that stops sending cannot hold a thread forever
    server: _Server
    server_version = "relaykit-webhooks"
    sys_version = ""

    def handle_one_request(self) -> None:
        self.server.guard.arm(self.connection)  # each request gets its whole deadline, however it drips
        super().handle_one_request()

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self.request_version == "HTTP/0.9":  # "GET /" alone: http.server would answer without headers
            self.send_error(400)
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, HTTP/2.0, oversized headers): 4xx JSON, never HTML or 5xx."""
        status = code if 400 <= code < 500 else 400
        self.request_version = "HTTP/1.1"  # so the status line and headers are written whatever was sent
        self.close_connection = True
        reason = "malformed request"
        self.server.receiver.count(reason)
        log.info("webhook -: rejected (%s, %d)", reason, status)
        self._answer(status, reason)

    def do_POST(self) -> None:
        receiver = self.server.receiver
        try:
            status, reason = receiver.handle(self)
        except Exception:  # every failure path answers 4xx: a 5xx would be retried for days
            status, reason = 400, "unreadable request"
            self.close_connection = True
        receiver.count(reason)
        self._answer(status, reason)

    def _not_allowed(self) -> None:
        self.server.receiver.count("method not allowed")
        self.close_connection = True
        self._answer(405, "method not allowed", {"Allow": "POST"})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # any other method: 405, not http.server's 501
            return self._not_allowed
        raise AttributeError(name)

    def _answer(self, status: int, reason: str, extra: Mapping[str, str] | None = None) -> None:
        body = json.dumps({"ok": status == 200, "result": reason}).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request line may carry a query string; outcomes are logged by the receiver


class WebhookReceiver:
    """A loopback HTTP endpoint for Customer.io reporting webhooks that calls `on_event(event)` per new event.

    `on_event` runs on one worker thread, in arrival order, after the request was answered; it may
    return False to count the event as failed, or raise `StoreError` to leave it unfinished (in the
    store, for the next start). Use as a context manager or `start()`/`stop()`.
    `store` (a path or a `DurableInbox`) keeps accepted events and the dedupe set on disk.
    """

    def __init__(
        self,
        on_event: Callable[[dict[str, Any]], Any],
        signing_keys: Iterable[str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/",
        tolerance: float = DEFAULT_TOLERANCE,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        dedupe_ttl: float = DEFAULT_DEDUPE_TTL,
        dedupe_size: int = DEFAULT_DEDUPE_SIZE,
        queue_size: int = 10_000,
        clock: Callable[[], float] = time.time,
        poll_interval: float = 0.5,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        request_deadline: float = DEFAULT_REQUEST_DEADLINE,
        store: str | os.PathLike[str] | DurableInbox | None = None,
    ) -> None:
        self.verifier = Verifier(signing_keys, tolerance=tolerance, clock=clock)
        self.on_event = on_event
        self.host = host
        self.path = path if path.startswith("/") else "/" + path
        self.max_body_bytes = max_body_bytes
        self.events = EventStore(dedupe_ttl, dedupe_size)
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=queue_size)
        self._requested_port = port
        self._poll_interval = poll_interval  # how soon stop() is noticed
        self._server: _Server | None = None
        self._worker: threading.Thread | None = None
        self._serving: threading.Thread | None = None
        self._stats_lock = threading.Lock()
        self._stats: dict[str, int] = {"processed": 0, "failed": 0}
        self.max_connections = max_connections
        self.request_deadline = request_deadline
        ConnectionGuard(max_connections, request_deadline)  # refuse bad bounds now, not at start()
        self._owns_inbox = store is not None and not isinstance(store, DurableInbox)
        self.inbox = DurableInbox(store, ttl=dedupe_ttl) if self._owns_inbox else store  # type: ignore[arg-type]
        self._drain_end: float | None = None  # set by stop(): the worker leaves what is still queued then
        self._close_inbox = False

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> WebhookReceiver:
        """Bind and serve in daemon threads; returns self."""
        if self._server is not None:
            return self
        server_class = _Server
        if ":" in self.host:
            server_class = type("_Server6", (_Server,), {"address_family": socket.AF_INET6})
        server = server_class((self.host, self._requested_port), _Handler)
        server.receiver = self
        server.guard = ConnectionGuard(self.max_connections, self.request_deadline)
        server.guard.start()
        self._server = server
        self.start_worker()
        self._serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": self._poll_interval},
                                         name="relaykit-webhooks", daemon=True)
        self._serving.start()
        return self

    def start_worker(self) -> None:
        """Start only the worker that runs events (an app from `asgi_app()`/`wsgi_app()` calls it)."""
        with self._stats_lock:
            if self._worker is not None:
                return
            self._drain_end = None
            self._close_inbox = False
            self._worker = threading.Thread(target=self._work, name="relaykit-webhook-worker", daemon=True)
            self._worker.start()
        if self.inbox is not None:
            left = self.inbox.unfinished()
            for event in left:  # before anything new, in their order (more than the queue holds: waits)
                self._queue.put(event)
            if left:
                log.info("webhook store: %d event(s) accepted before a stop or crash queued again", len(left))

    def asgi_app(self) -> Any:
        """The receiver as an ASGI 3 app, to mount in a host's own server (see `webhooks.mount`)."""
        from .mount import asgi_app

        return asgi_app(self)

    def wsgi_app(self) -> Any:
        """The receiver as a WSGI app, to mount in a host's own server (see `webhooks.mount`)."""
        from .mount import wsgi_app

        return wsgi_app(self)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting requests, let the worker run queued events for up to `timeout` seconds, then return.

        What is left then stays in the store for the next start (without a store it is lost, and
        logged); an event still running may finish in the background, and with a store it is run
        again by the next start unless it finished first.
        """
        end = time.monotonic() + max(0.0, timeout)
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.guard.stop()
            if self._serving is not None:
                self._serving.join(timeout)
                self._serving = None
        worker, self._worker = self._worker, None
        if worker is None:
            return
        self._drain_end = end
        self._queue.put(None)
        worker.join(max(0.0, end - time.monotonic()))
        left, running = self._left_behind(), worker.is_alive()
        if left or running:
            where = "kept in the store for the next start" if self.inbox is not None else "lost (no store)"
            log.warning("webhooks: stopped at the drain deadline with %d accepted event(s) not run%s: %s", left,
                        " and one still running" if running else "", where)
        if self._owns_inbox and self.inbox is not None:
            self._close_inbox = True  # a worker still running closes it after that event (and records it)
            if not worker.is_alive():
                self.inbox.close()

    def serve_forever(self, drain_deadline: float = 10.0) -> None:
        """Serve until interrupted (KeyboardInterrupt, or SIGTERM/SIGHUP through `exit_signals`), then stop."""
        self.start()
        try:
            while True:
                time.sleep(3600)
        finally:
            self.stop(drain_deadline)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the receiver is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"

    # -- requests -------------------------------------------------------------------------------
    def handle(self, request: _Handler) -> tuple[int, str]:
        """Decide the answer to one POST (runs on the request thread; must be quick)."""
        try:
            path = urlsplit(request.path).path
        except ValueError:  # e.g. "//[" (an unclosed IPv6 host) or a netloc that NFKC-normalises oddly
            path = None
        if path != self.path:
            request.close_connection = True
            return 404, "not found"
        headers = request.headers
        if headers.get("Transfer-Encoding") is not None:
            request.close_connection = True
            return 400, "chunked bodies are not accepted"
        lengths = headers.get_all("Content-Length") or []
        if len(lengths) != 1 or not _LENGTH_RE.fullmatch(lengths[0].strip()):
            request.close_connection = True
            return 400, "missing or invalid content length"
        length = int(lengths[0])
        if length > self.max_body_bytes:
            request.close_connection = True  # the body is never read
            return 400, "body too large"
        body = request.rfile.read(length) if length else b""
        if len(body) != length:
            request.close_connection = True
            return 400, "body cut short"
        signatures = headers.get_all(SIGNATURE_HEADER) or []
        timestamps = headers.get_all(TIMESTAMP_HEADER) or []
        if len(signatures) > 1 or len(timestamps) > 1:
            return 400, "duplicated signature headers"
        rejection = self.verifier.check(timestamps[0] if timestamps else None,
                                        signatures[0] if signatures else None, body)
        if rejection is not None:
            log.info("webhook -: rejected (%s)", rejection.reason)
            return rejection.status, rejection.reason
        event = _parse_event(body)
        if event is None:
            log.info("webhook -: rejected (malformed event)")
            return 400, "malformed event"
        return self.hand_off(event)

    def hand_off(self, event: dict[str, Any]) -> tuple[int, str]:
        """Deduplicate a verified event and queue it for the worker (on disk first, with a store): the answer."""
        event_id, metric = event["event_id"], _metric(event)
        if self._queue.full():
            log.warning("webhook %s %s: queue full, asked the sender to retry", event_id, metric)
            return 503, "busy"
        try:
            new = self.inbox.accept(event_id, event) if self.inbox is not None else self.events.add(event_id)
        except StoreError:
            log.warning("webhook %s %s: the store could not take it, asked the sender to retry", event_id, metric)
            return 503, "busy"
        if not new:
            log.info("webhook %s %s: duplicate, not run again", event_id, metric)
            return 200, "duplicate"
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._forget(event_id)
            log.warning("webhook %s %s: queue full, asked the sender to retry", event_id, metric)
            return 503, "busy"
        log.info("webhook %s %s: verified, %s", event_id, metric, "stored" if self.inbox is not None else "queued")
        return 200, "accepted"

    def _forget(self, event_id: str) -> None:
        if self.inbox is None:
            self.events.discard(event_id)
            return
        try:
            self.inbox.discard(event_id)
        except StoreError:
            log.warning("webhook %s: could not be removed from the store; it runs at the next start", event_id)

    def count(self, outcome: str) -> None:
        with self._stats_lock:
            self._stats[outcome] = self._stats.get(outcome, 0) + 1

    def stats(self) -> dict[str, int]:
        """Counters by outcome (accepted, duplicate, bad signature, ...) plus processed and failed."""
        with self._stats_lock:
            return dict(self._stats)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every queued event was handled; True when that happened in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.005)
        return self._queue.unfinished_tasks == 0

    def _left_behind(self) -> int:
        """Empty the queue after the drain deadline; the number of events in it (the end marker goes back)."""
        left = 0
        while True:
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                break
            self._queue.task_done()
            left += event is not None
        self._queue.put(None)  # a worker still running an event ends after it
        return left

    # -- the worker -----------------------------------------------------------------------------
    def _work(self) -> None:
        try:
            self._work_loop()
        finally:
            if self._close_inbox and self.inbox is not None:
                self.inbox.close()

    def _work_loop(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                if self._drain_end is not None and time.monotonic() > self._drain_end:
                    self._queue.put(event)  # past the drain deadline: left for `stop` to count (and the store)
                    return
                self._run(event)
            finally:
                self._queue.task_done()

    def _run(self, event: dict[str, Any]) -> None:
        event_id, metric = event["event_id"], _metric(event)
        try:
            outcome = self.on_event(event)
        except StoreError:  # the handler's own store (a run journal) went away, at a stop: not finished
            log.warning("webhook %s %s: cut off by a stop; %s", event_id, metric,
                        "it runs again at the next start" if self.inbox is not None else "lost (no store)")
            return
        except Exception as exc:
            outcome = False
            log.warning("webhook %s %s: handler raised %s", event_id, metric, type(exc).__name__)
        key = "failed" if outcome is False else "processed"
        if self.inbox is not None:
            try:
                self.inbox.finish(event_id, key)
            except StoreError:
                log.warning("webhook %s %s: ran, but the store could not record it; it runs again at the next start",
                            event_id, metric)
        self.count(key)
        log.info("webhook %s %s: %s", event_id, metric, key)


def _metric(event: Mapping[str, Any]) -> str:
    metric = event.get("metric")
    if isinstance(metric, str) and len(metric) <= 64 and metric.replace("_", "").isalnum():
        return metric
    return "-"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_event(body: bytes) -> dict[str, Any] | None:
    """The event as a dict with a usable `event_id`, or None for anything else."""
    try:
        text = body.decode("utf-8")
        event = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(event, dict):
        return None
    event_id = event.get("event_id")
    if not isinstance(event_id, str) or not event_id or len(event_id) > MAX_EVENT_ID_LENGTH:
        return None
    if not event_id.isprintable():
        return None
    return event
