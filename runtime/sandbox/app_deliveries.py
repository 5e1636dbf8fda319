"""What a campaign or broadcast sent: its deliveries (paged), its metrics per link, its journey metrics.

Shared with the actions module: the parent a path names, and the counts over a set of deliveries,
so a parent's numbers and its actions' numbers are read from the same deliveries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .app_common import lookup, page, public_message, workspace_of
from .messages import ApiError, Request, Response, json_response
from .state import Workspace

#: The `metric` filter of the messages endpoints (Customer.io's `metric` query parameter).
DELIVERY_METRICS = ("attempted", "sent", "delivered", "opened", "clicked", "converted", "bounced", "spammed",
                    "unsubscribed", "dropped", "failed", "undeliverable")
#: Message types the `type` filter takes (Customer.io's `metricType`).
MESSAGE_TYPES = ("email", "webhook", "twilio", "whatsapp", "slack", "push", "in_app", "live_notification")
#: The metrics endpoints' `res` and the journey metrics' `resolution`.
RESOLUTIONS = ("hours", "hourly", "days", "daily", "weeks", "weekly", "months", "monthly")


def parent_of(req: Request) -> tuple[str, dict[str, Any]]:
    """The campaign or broadcast the path names, as (`campaign_id` or `broadcast_id`, record), or a 404."""
    ws = workspace_of(req)
    if "campaign_id" in req.params:
        return "campaign_id", lookup(req, ws.campaigns, "campaign_id", "campaign")
    return "broadcast_id", lookup(req, ws.broadcasts, "broadcast_id", "broadcast")


def deliveries(ws: Workspace, key: str, parent_id: int, action_id: int | None = None) -> list[dict[str, Any]]:
    """The parent's deliveries (one action's when given), oldest first."""
    return [m for m in ws.messages.values()
            if m.get(key) == parent_id and (action_id is None or m.get("action_id") == action_id)]


def series(messages: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Counts per metric, as one period of the metrics endpoints' `series`."""
    counts: dict[str, int] = {}
    for message in messages:
        for metric in message["metrics"]:
            counts[metric] = counts.get(metric, 0) + 1
    return {"metric": {"series": {metric: [count] for metric, count in sorted(counts.items())}}}


def check_window(req: Request, resolution: str, *, required: bool) -> None:
    """A metrics time window: the resolution is one of Customer.io's, `start` <= `end` (400 otherwise)."""
    value = req.q(resolution)
    if value is None or value == "":
        if required:
            raise ApiError(400, f"{resolution} is required: one of {', '.join(RESOLUTIONS)}")
    elif value not in RESOLUTIONS:
        raise ApiError(400, f"{resolution} must be one of {', '.join(RESOLUTIONS)}")
    start, end = _timestamp(req, "start"), _timestamp(req, "end")
    if start is not None and end is not None and start > end:
        raise ApiError(400, "start must not be after end")


def link_metrics(ws: Workspace, messages: list[dict[str, Any]], *, unique: bool) -> dict[str, Any]:
    """Clicks per link of these deliveries, from the `clicked` metrics that named an `href`.

    A link's id is its place among every link the workspace has seen clicked, so it is the same in
    a campaign's, a broadcast's and an action's answer.
    """
    ids: dict[str, int] = {}
    for record in ws.metrics:
        href = record.get("href")
        if record["metric"] == "clicked" and isinstance(href, str) and href not in ids:
            ids[href] = len(ids) + 1
    ours = {m["id"]: m.get("cio_id") or m["id"] for m in messages}
    clicks: dict[str, list[Any]] = {}
    for record in ws.metrics:
        href = record.get("href")
        if record["metric"] == "clicked" and isinstance(href, str) and record["delivery_id"] in ours:
            clicks.setdefault(href, []).append(ours[record["delivery_id"]])
    return {"links": [{"link": {"id": ids[href], "href": href},
                       "metric": {"series": {"clicked": [len(set(who)) if unique else len(who)]}}}
                      for href, who in sorted(clicks.items(), key=lambda item: ids[item[0]])]}


def parent_link_metrics(req: Request) -> Response:
    """GET /v1/campaigns/{id}/metrics/links and /v1/broadcasts/{id}/metrics/links."""
    key, parent = parent_of(req)
    ws = workspace_of(req)
    return json_response(200, link_metrics(ws, deliveries(ws, key, parent["id"]), unique=flag(req, "unique")))


def journey_metrics(req: Request) -> Response:
    """GET /v1/campaigns/{id}/journey_metrics: people who started the journey (received a delivery) per period.

    Campaigns do not run in the sandbox, so the journeys are read from the campaign's deliveries.
    """
    key, parent = parent_of(req)
    check_window(req, "resolution", required=True)
    people = {m.get("cio_id") or m["id"] for m in deliveries(workspace_of(req), key, parent["id"])}
    return json_response(200, {"journey_metrics": {"series": {"started": [len(people)]}}})


def flag(req: Request, name: str) -> bool:
    """A boolean query parameter (`true` / `false`, absent is false); anything else is a 400."""
    value = req.q(name) or "false"
    if value not in ("true", "false"):
        raise ApiError(400, f"{name} must be true or false")
    return value == "true"


def _timestamp(req: Request, name: str) -> int | None:
    value = req.q(name)
    if value in (None, ""):
        return None
    if not value.isdigit():
        raise ApiError(400, f"{name} must be a unix timestamp in seconds")
    return int(value)


def parent_messages(req: Request) -> Response:
    """GET /v1/campaigns/{id}/messages and /v1/broadcasts/{id}/messages: the parent's deliveries, newest first.

    Filters: `type`, `metric` (deliveries that reached it), `drafts` (drafts instead of sent
    messages), `start_ts`/`end_ts` (created within).
    """
    key, parent = parent_of(req)
    kind, metric, drafts = req.q("type"), req.q("metric"), flag(req, "drafts")
    if kind and kind not in MESSAGE_TYPES:
        raise ApiError(400, f"type must be one of {', '.join(MESSAGE_TYPES)}")
    if metric and metric not in DELIVERY_METRICS:
        raise ApiError(400, f"metric must be one of {', '.join(DELIVERY_METRICS)}")
    after, before = _timestamp(req, "start_ts"), _timestamp(req, "end_ts")
    items = [
        public_message(m) for m in reversed(deliveries(workspace_of(req), key, parent["id"]))
        if (not kind or m["type"] == kind) and (not metric or metric in m["metrics"])
        and ("drafted" in m["metrics"]) == drafts
        and (after is None or m["created"] >= after) and (before is None or m["created"] <= before)
    ]
    chunk, nxt = page(req, items, default=50, maximum=1000)
    return json_response(200, {"messages": chunk, "next": nxt})
