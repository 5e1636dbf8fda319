"""Reporting-webhook payloads and signatures: the events one sandbox delivery produces, as Customer.io posts them.

Shapes follow Customer.io's reporting-webhooks OpenAPI document (one event per request: `event_id`,
`object_type`, `metric`, `timestamp`, `data`). Signature as Customer.io documents it:
`X-CIO-Timestamp` (unix seconds) and `X-CIO-Signature`, the lowercase hex HMAC-SHA256 of
`v0:{timestamp}:{raw body}` keyed with the workspace's webhook signing key. Posting them is
`reporting.py`'s job.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

_ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: The metrics a sandbox delivery can reach, in the order they happen.
METRICS = ("drafted", "sent", "delivered", "failed")


def sign(key: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 over `v0:{timestamp}:{body}`."""
    return hmac.new(key.encode("utf-8"), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()


def event_id() -> str:
    """A ULID (time then randomness): unique across resets, so a receiver's dedupe never drops a new event."""
    n = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(_ULID_ALPHABET[(n >> shift) & 31] for shift in range(125, -5, -5))


def _parent(message: dict[str, Any]) -> dict[str, Any]:
    """The `data` keys naming what sent the message (API-triggered broadcast, campaign or transactional)."""
    ids = message.get("customer_identifiers") or {}
    data: dict[str, Any] = {
        "delivery_id": message["id"],
        # Multi-identifier workspace: id (maybe null), email (maybe null) and cio_id are always there.
        "identifiers": {"id": ids.get("id"), "email": ids.get("email"), **({"cio_id": ids["cio_id"]}
                                                                          if ids.get("cio_id") else {})},
    }
    if isinstance(message.get("customer_id"), str):
        data["customer_id"] = message["customer_id"]
    if message.get("broadcast_id") is not None:
        data.update(trigger_id=message.get("trigger_id"), broadcast_id=message["broadcast_id"],
                    action_id=message.get("action_id") or 1)
    elif message.get("campaign_id") is not None:
        data.update(campaign_id=message["campaign_id"], action_id=message.get("action_id") or 1)
    else:  # a transactional send; one without a template has no id (UNCONFIRMED what Customer.io puts here)
        data["transactional_message_id"] = message.get("transactional_message_id")
    return data


def _channel(message: dict[str, Any], metric: str, devices: list[dict[str, Any]]) -> dict[str, Any]:
    """The channel's own `data` keys (recipient, subject, failure_message, push recipients)."""
    kind = message.get("type", "email")
    failure = message.get("failure_message") or "the message could not be sent"
    if kind == "push":
        recipients = [{"device_id": d["id"], **({"device_platform": d["platform"]}
                                                if d.get("platform") in ("ios", "android") else {})}
                      for d in devices]
        if metric == "failed":
            recipients = [{**r, "failure_message": failure} for r in recipients]
        data: dict[str, Any] = {"recipients": recipients}
    else:
        data = {"recipient": message.get("recipient") or ""}
        if kind == "email":
            data["subject"] = message.get("subject") or ""
    if metric == "failed":
        data["failure_message"] = failure
    return data


def events_for(message: dict[str, Any], devices: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The reporting-webhook events one delivery produces (sent + delivered, or failed, or drafted).

    `devices` are the person's devices, the recipients of a push sent to "all" of them.
    """
    metrics = message.get("metrics") or {}
    if message.get("type") == "push" and message.get("recipient") not in (None, "all"):
        devices = [d for d in devices or [] if d.get("id") == message["recipient"]] or [{"id": message["recipient"]}]
    return [{
        "event_id": event_id(),
        "object_type": message.get("type", "email"),
        "metric": metric,
        "timestamp": metrics[metric],
        "data": {**_parent(message), **_channel(message, metric, devices or [])},
    } for metric in METRICS if metric in metrics]
