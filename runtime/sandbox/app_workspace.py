"""App API handlers for the workspace itself: reporting-webhook configuration, workspaces, IP addresses.

Reporting webhooks registered here are configuration (list, get, create, update, delete); `reporting.py`
delivers the events they ask for.
"""

from __future__ import annotations

from typing import Any

from .app_common import lookup, workspace_of
from .messages import ApiError, Request, Response, empty_response, json_response

# Customer.io's reporting-webhook event names, by channel (the ones its settings page offers).
WEBHOOK_EVENTS = frozenset(
    f"{channel}_{event}"
    for channel, events in {
        "customer": ("subscribed", "unsubscribed", "subscription_preferences_changed"),
        "email": ("drafted", "attempted", "sent", "delivered", "opened", "clicked", "converted", "bounced",
                  "spammed", "dropped", "failed", "undeliverable", "unsubscribed"),
        "push": ("drafted", "attempted", "sent", "delivered", "opened", "clicked", "converted", "bounced",
                 "dropped", "failed", "undeliverable"),
        "sms": ("drafted", "attempted", "sent", "delivered", "clicked", "converted", "bounced", "failed",
                "undeliverable"),
        "in_app": ("drafted", "attempted", "sent", "opened", "clicked", "converted", "failed"),
        "slack": ("drafted", "attempted", "sent", "clicked", "converted", "failed"),
        "webhook": ("drafted", "attempted", "sent", "clicked", "converted", "failed", "undeliverable"),
    }.items()
    for event in events
)
SANDBOX_IPS = ["127.0.0.1"]  # where the sandbox's own webhooks come from


def _webhook_fields(body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, kind in (("name", str), ("endpoint", str), ("disabled", bool), ("full_resolution", bool),
                       ("with_content", bool)):
        if name in body:
            if not isinstance(body[name], kind) or (kind is str and not body[name].strip()):
                raise ApiError(400, f"{name} must be a {'non-empty string' if kind is str else 'boolean'}")
            fields[name] = body[name]
    if "events" in body:
        events = body["events"]
        if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
            raise ApiError(400, "events must be a non-empty list of event names")
        unknown = sorted(set(events) - WEBHOOK_EVENTS)
        if unknown:
            raise ApiError(400, f"unknown events: {', '.join(unknown)}")
        fields["events"] = events
    if not partial:
        missing = [name for name in ("name", "endpoint", "events") if name not in fields]
        if missing:
            raise ApiError(400, f"{', '.join(missing)} required")
    if "endpoint" in fields and not fields["endpoint"].startswith(("https://", "http://")):
        raise ApiError(400, "endpoint must be an http(s) URL")
    return fields


def list_reporting_webhooks(req: Request) -> Response:
    """GET /v1/reporting_webhooks."""
    return json_response(200, {"reporting_webhooks": list(workspace_of(req).reporting_webhooks.values())})


def get_reporting_webhook(req: Request) -> Response:
    """GET /v1/reporting_webhooks/{webhook_id}."""
    return json_response(200, lookup(req, workspace_of(req).reporting_webhooks, "webhook_id", "reporting webhook"))


def create_reporting_webhook(req: Request) -> Response:
    """POST /v1/reporting_webhooks: name, endpoint and events required."""
    ws = workspace_of(req)
    fields = _webhook_fields(req.json_object(), partial=False)
    wid = ws.next_number("reporting_webhook")
    ws.reporting_webhooks[wid] = {"id": wid, "disabled": False, "full_resolution": True, "with_content": False,
                                  **fields}
    return json_response(200, ws.reporting_webhooks[wid], writes=1)


def update_reporting_webhook(req: Request) -> Response:
    """PUT /v1/reporting_webhooks/{webhook_id}: the fields given replace the stored ones."""
    ws = workspace_of(req)
    record = lookup(req, ws.reporting_webhooks, "webhook_id", "reporting webhook")
    record.update(_webhook_fields(req.json_object(), partial=True))
    return json_response(200, record, writes=1)


def delete_reporting_webhook(req: Request) -> Response:
    """DELETE /v1/reporting_webhooks/{webhook_id}."""
    ws = workspace_of(req)
    record = lookup(req, ws.reporting_webhooks, "webhook_id", "reporting webhook")
    ws.reporting_webhooks.pop(record["id"], None)
    return empty_response(204, writes=1)


def list_workspaces(req: Request) -> Response:
    """GET /v1/workspaces: the one sandbox workspace, with its counts."""
    ws = workspace_of(req)
    return json_response(200, {"workspaces": [{
        "id": ws.environment_id, "name": "Sandbox workspace", "region": ws.region,
        "people": len(ws.people), "objects": len(ws.objects), "messages_sent": len(ws.messages)}]})


def ip_addresses(req: Request) -> Response:
    """GET /v1/info/ip_addresses: where the workspace's webhooks and requests come from."""
    return json_response(200, {"ip_addresses": SANDBOX_IPS})
