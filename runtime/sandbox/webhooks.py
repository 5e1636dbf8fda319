"""Signed reporting webhooks for the messages the sandbox "delivers", posted from a background thread.

Signature as Customer.io documents it: `X-CIO-Timestamp` (unix seconds) and `X-CIO-Signature`, the
lowercase hex HMAC-SHA256 of `v0:{timestamp}:{raw body}` keyed with the webhook signing key.
One attempt per event (no retry backlog); results are kept for inspection.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import queue
import threading
import time
import urllib.error
import urllib.request
from typing import Any


def sign(key: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 over `v0:{timestamp}:{body}`."""
    return hmac.new(key.encode("utf-8"), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()


def events_for(message: dict[str, Any], counter: itertools.count[int]) -> list[dict[str, Any]]:
    """The reporting-webhook events one delivery produces (sent + delivered, or failed, or drafted)."""
    data: dict[str, Any] = {
        "delivery_id": message["id"],
        "identifiers": {k: v for k, v in (message.get("customer_identifiers") or {}).items() if k in
                        ("id", "email", "cio_id")},
        "customer_id": message.get("customer_id"),
        "recipient": message.get("recipient"),
    }
    if message.get("broadcast_id") is not None:
        data.update(trigger_id=message.get("trigger_id"), broadcast_id=message["broadcast_id"],
                    action_id=message.get("action_id"))
    elif message.get("transactional_message_id") is not None:
        data["transactional_message_id"] = message["transactional_message_id"]
    if message.get("subject"):
        data["subject"] = message["subject"]
    metrics = message.get("metrics") or {}
    names = [m for m in ("drafted", "sent", "delivered", "failed") if m in metrics]
    if message.get("type") == "push":
        data["recipients"] = [{"device_id": message.get("recipient"), "device_platform": None}]
    out = []
    for metric in names:
        event_data = dict(data)
        if metric == "failed":
            event_data["failure_message"] = message.get("failure_message")
        out.append({
            "event_id": f"01SANDBOXWH{next(counter):015d}",
            "object_type": message.get("type", "email"),
            "metric": metric,
            "timestamp": metrics[metric],
            "data": event_data,
        })
    return out


class WebhookSender:
    """Posts events to one URL in order, from a daemon thread."""

    def __init__(self, url: str, signing_key: str, *, timeout: float = 4.0) -> None:
        if not signing_key:
            raise ValueError("a webhook signing key is required")
        self.url = url
        self._key = signing_key
        self._timeout = timeout
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self.results: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    def deliver(self, message: dict[str, Any]) -> None:
        for event in events_for(message, self._counter):
            self._queue.put(event)

    def stop(self, timeout: float = 2.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until queued events were posted; True when the queue drained in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                self._post(event)
            finally:
                self._queue.task_done()

    def _post(self, event: dict[str, Any]) -> None:
        body = json.dumps(event, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-CIO-Timestamp": timestamp,
                "X-CIO-Signature": sign(self._key, timestamp, body),
                "User-Agent": "relaykit-sandbox-webhooks",
            },
        )
        result: dict[str, Any] = {"event_id": event["event_id"], "metric": event["metric"], "status": None}
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as answer:
                result["status"] = answer.status
        except urllib.error.HTTPError as exc:
            result["status"] = exc.code
        except (urllib.error.URLError, OSError) as exc:
            result["error"] = type(exc).__name__
        with self._lock:
            self.results.append(result)
