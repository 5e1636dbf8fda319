"""Delivering reporting webhooks to the endpoints registered through `/v1/reporting_webhooks`.

Each event goes to every enabled webhook whose `events` name it, from a background thread, with retries.

Customer.io waits 4 s for a 2xx and retries a failed call with backoff for up to 7 days, holding
later calls to the same webhook back until the failing one succeeds. The sandbox keeps that shape
on a bounded schedule (`DEFAULT_RETRY_DELAYS`, about half a minute in all), and gives up after it.
Every event addressed to a webhook is journaled in the workspace (`webhook_deliveries` in the
state): attempts, HTTP status, outcome.

Only loopback IP literals (127.0.0.0/8, ::1) are ever contacted: a webhook pointing anywhere else,
host names included (`localhost` too: a name is resolved by something the sandbox does not
control), is stored and journaled as `not_delivered` with the reason, and no connection is made.
Redirects are not followed.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .state import Workspace
from .webhooks import events_for, sign

#: Seconds between attempts (so 6 attempts in all); tests pass shorter ones.
DEFAULT_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)
TIMEOUT = 4.0  # Customer.io's wait for an answer
STATIC = "static"  # the queue of the `webhook_url` the sandbox was started with (every event goes there)


def loopback_target(endpoint: str) -> tuple[str, str, int, str] | str:
    """(scheme, host, port, path) of a loopback IP-literal endpoint, or the reason it is not contacted."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return "the endpoint is not a valid URL"
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https"):
        return "the endpoint is not an http(s) URL"
    try:
        loopback = "%" not in host and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return f"the sandbox contacts only loopback IP literals (127.0.0.0/8, ::1), not the host name {host!r}"
    if not loopback:
        return f"the sandbox contacts only loopback IP literals (127.0.0.0/8, ::1), not {host}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path


@dataclass
class _Job:
    entry: dict[str, Any]  # the journal entry (in the workspace's state), updated under the workspace lock
    hook: dict[str, Any] | None  # the registered webhook (None: the static URL)
    target: tuple[str, str, int, str]
    body: bytes
    due: float = 0.0
    tries: int = 0


class ReportingDelivery:
    """Posts signed events to the registered webhooks (and an optional static URL) from one daemon thread."""

    def __init__(self, workspace: Workspace, signing_key: str, *, static_url: str | None = None,
                 retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS, timeout: float = TIMEOUT) -> None:
        if not signing_key:
            raise ValueError("a webhook signing key is required")
        if static_url is not None and isinstance(loopback_target(static_url), str):
            raise ValueError(f"webhook_url: {loopback_target(static_url)}")
        if any(d < 0 for d in retry_delays):
            raise ValueError("webhook retry delays must be zero or more seconds")
        self.ws = workspace
        self._key = signing_key
        self._static = static_url
        self._delays = tuple(retry_delays)
        self._timeout = timeout
        self._cv = threading.Condition()
        self._queues: dict[Any, deque[_Job]] = {}
        self._busy = 0
        self._stopped = False
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:  # never the signing key
        return f"ReportingDelivery(static_url={self._static!r})"

    # -- intake (request threads, after the request committed) ------------------------------------
    def deliver(self, message: dict[str, Any]) -> None:
        """Journal and queue the events of one delivery for every webhook that asked for them."""
        jobs: list[tuple[Any, _Job]] = []
        with self.ws.lock:
            if not self.ws.reporting_webhooks and self._static is None:
                return  # the common case: nobody listens, so the send path pays for nothing more
            person = self.ws.people.get(message.get("cio_id") or "")
            devices = list(person.devices.values()) if person is not None else []
            for event in events_for(message, devices):
                name = f"{event['object_type']}_{event['metric']}"
                targets: list[tuple[Any, dict[str, Any] | None, str]] = [
                    (hook["id"], hook, hook["endpoint"]) for hook in self.ws.reporting_webhooks.values()
                    if not hook.get("disabled") and name in hook.get("events", ())]
                if self._static is not None:
                    targets.append((STATIC, None, self._static))
                body = json.dumps(event, separators=(",", ":")).encode() if targets else b""
                for key, hook, endpoint in targets:
                    entry = self.ws.add_webhook_delivery({
                        "webhook_id": hook["id"] if hook else None, "endpoint": endpoint,
                        "event_id": event["event_id"], "event": name, "metric": event["metric"],
                        "delivery_id": message["id"], "state": "pending", "status": None, "attempts": [],
                    })
                    target = loopback_target(endpoint)
                    if isinstance(target, str):
                        entry.update(state="not_delivered", reason=target)
                        continue
                    jobs.append((key, _Job(entry, hook, target, body)))
        if jobs:
            with self._cv:
                for key, job in jobs:
                    self._queues.setdefault(key, deque()).append(job)
                self._cv.notify()

    def clear(self) -> None:
        """Drop everything queued (the workspace was reset)."""
        with self._cv:
            self._queues.clear()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued event was delivered or given up; True when that happened in time."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while any(self._queues.values()) or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(min(left, 0.05))
        return True

    def start(self) -> None:
        """Start the delivery thread (again, after `stop()`)."""
        with self._cv:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopped = False
            self._thread = threading.Thread(target=self._run, name="sandbox-reporting-webhooks", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the delivery thread; what is still queued stays queued for the next `start()`."""
        with self._cv:
            self._stopped = True
            self._cv.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    # -- the delivery thread ----------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cv:
                if self._stopped:
                    return
                now = time.monotonic()
                heads = [q[0] for q in self._queues.values() if q]
                ready = [job for job in heads if job.due <= now]
                if not ready:  # later events to a retrying webhook wait behind its head (the backlog)
                    self._cv.wait(min((job.due - now for job in heads), default=None))
                    continue
                self._busy = len(ready)
            try:
                for job in ready:
                    self._attempt(job)
            finally:
                with self._cv:
                    self._busy = 0
                    self._cv.notify_all()

    def _gone(self, job: _Job) -> str | None:
        hook = job.hook
        if hook is None:
            return None
        if self.ws.reporting_webhooks.get(hook["id"]) is not hook:
            return "the webhook was deleted"
        return "the webhook was disabled" if hook.get("disabled") else None

    def _attempt(self, job: _Job) -> None:
        with self.ws.lock:
            reason = self._gone(job)
            if reason is not None:
                job.entry.update(state="cancelled", reason=reason)
        if reason is not None:
            self._finish(job)
            return
        status, error = self._post(job)
        job.tries += 1
        ok = status is not None and 200 <= status < 300
        with self.ws.lock:
            job.entry["attempts"].append({"at": self.ws.now(), "status": status, **({"error": error} if error else {})})
            job.entry["status"] = status
            if ok:
                job.entry["state"] = "delivered"
            elif job.tries > len(self._delays):
                job.entry.update(state="failed", reason=f"no 2xx answer after {job.tries} attempt(s)")
            else:
                job.entry["state"] = "retrying"
        if ok or job.tries > len(self._delays):
            self._finish(job)
        else:
            with self._cv:
                job.due = time.monotonic() + self._delays[job.tries - 1]

    def _finish(self, job: _Job) -> None:
        with self._cv:
            for queue in self._queues.values():
                if queue and queue[0] is job:
                    queue.popleft()
                    break

    def _post(self, job: _Job) -> tuple[int | None, str | None]:
        scheme, host, port, path = job.target
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-CIO-Timestamp": timestamp,
                   "X-CIO-Signature": sign(self._key, timestamp, job.body), "User-Agent": "relaykit-sandbox-webhooks"}
        conn: http.client.HTTPConnection
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=self._timeout, context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self._timeout)
        try:
            conn.request("POST", path, job.body, headers)
            answer = conn.getresponse()
            answer.read(64 * 1024)
            return answer.status, None
        except (OSError, http.client.HTTPException) as exc:
            return None, type(exc).__name__
        finally:
            conn.close()
