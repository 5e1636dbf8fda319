"""App API campaigns, broadcasts and API-triggered broadcast triggers (queued, then processed lazily)."""

from __future__ import annotations

from typing import Any

from .app_common import int_param, lookup, not_found, page, workspace_of
from .app_deliveries import deliveries, series
from .audience import check_filter, filter_people
from .limits import MAX_QUEUED_TRIGGERS, MAX_TRIGGER_AUDIENCE, MAX_TRIGGER_DATA_BYTES
from .messages import ApiError, Request, Response, dumps, json_response
from .person import Person
from .state import Workspace

AUDIENCE_FIELDS = ("recipients", "emails", "ids", "per_user_data", "data_file_url")


def list_campaigns(req: Request) -> Response:
    """GET /v1/campaigns."""
    return json_response(200, {"campaigns": list(workspace_of(req).campaigns.values())})


def get_campaign(req: Request) -> Response:
    """GET /v1/campaigns/{id}."""
    return json_response(200, {"campaign": lookup(req, workspace_of(req).campaigns, "campaign_id", "campaign")})


def _metric_series(ws: Workspace, key: str, value: int) -> dict[str, Any]:
    return series(deliveries(ws, key, value))


def campaign_metrics(req: Request) -> Response:
    """GET /v1/campaigns/{id}/metrics: counts per metric of the campaign's deliveries."""
    ws = workspace_of(req)
    cid = int_param(req, "campaign_id", "campaign")
    if cid not in ws.campaigns:
        raise not_found("campaign")
    return json_response(200, _metric_series(ws, "campaign_id", cid))


# ------------------------------------------------------------------------------------------- broadcasts
def _broadcast(req: Request) -> dict[str, Any]:
    return lookup(req, workspace_of(req).broadcasts, "broadcast_id", "broadcast")


def list_broadcasts(req: Request) -> Response:
    """GET /v1/broadcasts."""
    return json_response(200, {"broadcasts": list(workspace_of(req).broadcasts.values())})


def get_broadcast(req: Request) -> Response:
    """GET /v1/broadcasts/{id}."""
    return json_response(200, {"broadcast": _broadcast(req)})


def broadcast_metrics(req: Request) -> Response:
    """GET /v1/broadcasts/{id}/metrics: counts per metric of the broadcast's deliveries."""
    return json_response(200, _metric_series(workspace_of(req), "broadcast_id", _broadcast(req)["id"]))


def _trigger_json(trigger: dict[str, Any]) -> dict[str, Any]:
    return {k: trigger[k] for k in ("id", "broadcast_id", "created_at", "processed_at")}


def list_triggers(req: Request) -> Response:
    """GET /v1/broadcasts/{id}/triggers."""
    ws = workspace_of(req)
    bid = _broadcast(req)["id"]
    return json_response(
        200, {"triggers": [_trigger_json(t) for t in ws.triggers.values() if t["broadcast_id"] == bid]}
    )


def trigger_broadcast(req: Request) -> Response:
    """POST /v1/campaigns/{id}/triggers: queue a trigger (at most 5 queued)."""
    ws = workspace_of(req)
    broadcast = _broadcast(req)
    body = req.json_object(required=False)
    present = [f for f in AUDIENCE_FIELDS if f in body]
    if len(present) > 1:
        raise ApiError(422, f"use only one audience field; got {', '.join(present)}")
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise ApiError(422, "data must be an object")
    if len(dumps(data)) > MAX_TRIGGER_DATA_BYTES:
        raise ApiError(422, f"data is larger than {MAX_TRIGGER_DATA_BYTES} bytes")
    for name in ("emails", "ids", "per_user_data"):
        if name in body:
            if not isinstance(body[name], list):
                raise ApiError(422, f"{name} must be a list")
            if len(body[name]) > MAX_TRIGGER_AUDIENCE:
                raise ApiError(422, f"{name} holds more than {MAX_TRIGGER_AUDIENCE} entries")
    if "recipients" in body:
        check_filter(body["recipients"])
    if ws.queued_triggers() >= MAX_QUEUED_TRIGGERS:
        raise ApiError(429, f"too many triggers queued (at most {MAX_QUEUED_TRIGGERS})", outcome="rate_limited")
    tid = ws.next_number("trigger")
    now = ws.clock()
    ws.triggers[tid] = {
        "id": tid,
        "broadcast_id": broadcast["id"],
        "created_at": int(now),
        "processed_at": None,
        "errors": [],
        "deliveries": 0,
        "_due": now + ws.processing_delay,
        "_request": body,
    }
    if ws.processing_delay <= 0:
        ws.process_due(process_trigger)
    return json_response(200, {"id": tid}, writes=1)


def process_trigger(ws: Workspace, trigger: dict[str, Any]) -> None:
    """Resolve a trigger's audience and create one delivery per person reached."""
    body = trigger.get("_request") or {}
    broadcast = ws.broadcasts.get(trigger["broadcast_id"], {})
    errors: list[dict[str, Any]] = trigger["errors"]
    reached: list[Person] = []

    def missing(field: str, value: Any, ignore_flag: str) -> None:
        if not body.get(ignore_flag, False):
            errors.append({"reason": "not_found", "field": field, "message": f"no person matches {value!r}"})

    if "ids" in body:
        for value in body["ids"]:
            person = ws.find("id", str(value))
            reached.append(person) if person else missing("ids", value, "id_ignore_missing")
    elif "emails" in body:
        for value in body["emails"]:
            person = ws.find("email", str(value))
            reached.append(person) if person else missing("emails", value, "email_ignore_missing")
    elif "per_user_data" in body:
        for entry in body["per_user_data"]:
            entry = entry if isinstance(entry, dict) else {}
            if "id" in entry:
                person = ws.find("id", str(entry["id"]))
                reached.append(person) if person else missing("per_user_data", entry["id"], "id_ignore_missing")
            else:
                person = ws.find("email", str(entry.get("email", "")))
                if person:
                    reached.append(person)
                else:
                    missing("per_user_data", entry.get("email"), "email_ignore_missing")
    elif "data_file_url" in body:
        errors.append({"reason": "unsupported", "field": "data_file_url",
                       "message": "the sandbox cannot fetch data files"})
    elif "recipients" in body:
        reached = filter_people(ws, body["recipients"])
    else:
        reached = ws.segment_members(3)  # the broadcast's UI audience: people with an email
    if errors:
        return  # missing people fail the broadcast unless the matching *_ignore_missing flag is set
    # The broadcast's email action (its content as last updated) sends; an action turned off sends nothing.
    action = next((ws.actions[a["id"]] for a in broadcast.get("actions", []) if a["id"] in ws.actions), {})
    if action.get("sending_state") == "off":
        return
    for person in reached:
        if person.unsubscribed:
            # Broadcasts send to subscribed people only (the default subscription setting): no delivery.
            trigger["skipped_unsubscribed"] = trigger.get("skipped_unsubscribed", 0) + 1
            continue
        message = ws.create_message(type="email", person=person, recipient=person.email,
                                    subject=action.get("subject", broadcast.get("name")),
                                    broadcast_id=trigger["broadcast_id"], trigger_id=trigger["id"],
                                    template_id=(broadcast.get("msg_template_ids") or [None])[0])
        if action:
            message["action_id"] = action["id"]
            if action.get("sending_state") == "draft":
                message["metrics"] = {"drafted": message["created"]}
        trigger["deliveries"] += 1


def _trigger(req: Request) -> dict[str, Any]:
    broadcast = _broadcast(req)
    trigger = workspace_of(req).triggers.get(int_param(req, "trigger_id", "trigger"))
    if trigger is None or trigger["broadcast_id"] != broadcast["id"]:
        raise not_found("trigger")
    return trigger


def get_trigger(req: Request) -> Response:
    """GET /v1/campaigns/{id}/triggers/{trigger_id}: processed_at is set once processed."""
    return json_response(200, _trigger_json(_trigger(req)))


def trigger_errors(req: Request) -> Response:
    """GET /v1/campaigns/{id}/triggers/{trigger_id}/errors: audience problems, paged."""
    chunk, nxt = page(req, _trigger(req)["errors"], default=10, maximum=100)
    return json_response(200, {"errors": chunk, "next": nxt})
