"""App API exports of people and deliveries: pending until the processing delay passes, then downloadable."""

from __future__ import annotations

from typing import Any

from .app_broadcasts import process_trigger
from .app_common import lookup, public_message, workspace_of
from .audience import people_from_body
from .messages import ApiError, Request, Response, json_response
from .state import Workspace


def _export_json(export: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in export.items() if not k.startswith("_")}


def _new_export(ws: Workspace, kind: str, rows: list[dict[str, Any]], description: str) -> dict[str, Any]:
    eid = ws.next_number("export")
    now = ws.clock()
    export = {
        "id": eid,
        "user_id": 1,
        "user_email": "sandbox@example.com",
        "total": 0,
        "deduplicate_id": f"{eid}:{int(now)}",
        "type": kind,
        "failed": False,
        "status": "pending",
        "description": description,
        "downloads": 0,
        "created_at": int(now),
        "updated_at": int(now),
        "_due": now + ws.processing_delay,
        "_rows": rows,
    }
    ws.exports[eid] = export
    if ws.processing_delay <= 0:
        ws.process_due(process_trigger)
    return export


def export_customers(req: Request) -> Response:
    """POST /v1/exports/customers: export people matching a filter."""
    ws = workspace_of(req)
    body, people = people_from_body(req, "filters")
    extra = body.get("attributes") or []
    if not isinstance(extra, list) or not all(isinstance(a, str) for a in extra):
        raise ApiError(400, "attributes must be a list of attribute names")
    rows = [{**p.identifiers(), **{a: p.attributes.get(a) for a in extra}} for p in people]
    export = _new_export(ws, "customers", rows, "customers export")
    return json_response(200, {"export": _export_json(export)}, writes=1)


def export_deliveries(req: Request) -> Response:
    """POST /v1/exports/deliveries: export the deliveries of one parent."""
    ws = workspace_of(req)
    body = req.json_object()
    parents = [k for k in ("newsletter_id", "campaign_id", "broadcast_id", "transactional_message_id") if k in body]
    if len(parents) != 1:
        raise ApiError(400, "name exactly one of newsletter_id, campaign_id, broadcast_id, transactional_message_id")
    key = parents[0]
    rows = [public_message(m) for m in ws.messages.values() if m.get(key) == body[key]]
    metric = body.get("metric")
    if metric:
        rows = [m for m in rows if metric in m["metrics"]]
    export = _new_export(ws, "deliveries", rows, f"deliveries export ({key} {body[key]})")
    return json_response(200, {"export": _export_json(export)}, writes=1)


def _export(req: Request) -> dict[str, Any]:
    return lookup(req, workspace_of(req).exports, "export_id", "export")


def list_exports(req: Request) -> Response:
    """GET /v1/exports."""
    return json_response(200, {"exports": [_export_json(e) for e in workspace_of(req).exports.values()]})


def get_export(req: Request) -> Response:
    """GET /v1/exports/{id}: status is pending until the processing delay has passed."""
    return json_response(200, {"export": _export_json(_export(req))})


def download_export(req: Request) -> Response:
    """GET /v1/exports/{id}/download: a link to the rows, served by the sandbox."""
    export = _export(req)
    if export["status"] != "done":
        raise ApiError(400, "the export is not finished yet")
    export["downloads"] += 1
    return json_response(200, {"url": f"{req.root}/_sandbox/exports/{export['id']}"})
