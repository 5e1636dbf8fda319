"""Data Pipelines (CDP) API handlers: identify/track/page/screen/group/alias/batch and semantic events.

Permissive by default, like the real API: an invalid or oversized call is answered 200 and dropped
(journal outcome "dropped"). With `X-Strict-Mode: 1` the same call gets a 400.
Calls are deduplicated by `messageId`.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from .limits import MAX_BATCH_BYTES, MAX_REQUEST_BYTES, attributes_error, event_error, identifier_error
from .messages import ApiError, Request, Response, json_response
from .routing import Router, route
from .state import Workspace

KINDS = ("identify", "track", "page", "screen", "group", "alias")
DELIVERY_METRICS = frozenset({"delivered", "clicked", "converted", "opened"})
SEMANTIC = frozenset(
    {
        "User Deleted",
        "User Suppressed",
        "User Unsuppressed",
        "Device Created or Updated",
        "Device Deleted",
        "Relationship Deleted",
        "Object Deleted",
        "Report Delivery Event",
        "Report Content Event",
    }
)


def error_body(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    """The shape the official Python CDP client reads from an error answer."""
    default = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 429: "rate_limited"}
    return {"code": code or default.get(status, "invalid_request"), "message": message}


class Invalid(Exception):
    """A call that fails validation (dropped, or 400 in strict mode)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _strict(req: Request) -> bool:
    return (req.header("x-strict-mode") or "").strip() == "1"


def _reject(req: Request, code: str, message: str) -> Response:
    if _strict(req):
        return json_response(400, error_body(400, message, code), outcome="rejected")
    return json_response(200, {}, outcome="dropped")


def _text_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return str(value)
    return value if isinstance(value, str) else None


def _obj(call: dict[str, Any], key: str) -> dict[str, Any]:
    value = call.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid("invalid_field", f"{key} must be an object")
    return value


def validate(call: Any, kind: str) -> None:
    """Static checks of one call (no workspace access)."""
    if not isinstance(call, dict):
        raise Invalid("invalid_request", "each call must be a JSON object")
    user_id, anonymous_id = _text_id(call.get("userId")), _text_id(call.get("anonymousId"))
    for key, value in (("userId", user_id), ("anonymousId", anonymous_id)):
        if value is not None:
            problem = identifier_error(value, key)
            if problem:
                raise Invalid("invalid_field", problem)
    message_id = call.get("messageId")
    if message_id is not None and not isinstance(message_id, str):
        raise Invalid("invalid_field", "messageId must be a string")
    traits = _obj(call, "traits")
    properties = _obj(call, "properties")
    context = _obj(call, "context")
    if kind == "identify":
        if user_id is None and anonymous_id is None and not traits.get("email"):
            raise Invalid("missing_identifier", "identify needs userId, anonymousId or traits.email")
        problem = attributes_error({k: v for k, v in traits.items() if k != "cio_subscription_preferences"})
        if problem:
            raise Invalid("invalid_traits", problem)
        return
    if kind == "alias":
        if user_id is None or _text_id(call.get("previousId")) is None:
            raise Invalid("missing_field", "alias needs previousId and userId")
        return
    if kind == "track":
        event = call.get("event")
        problem = event_error(event, properties)
        if problem:
            raise Invalid("invalid_event", problem)
        if event in SEMANTIC:
            _validate_semantic(event, user_id, properties, context)
            return
    if user_id is None and anonymous_id is None:
        raise Invalid("missing_identifier", f"{kind} needs userId or anonymousId")
    if kind == "group" and _text_id(call.get("groupId")) is None:
        raise Invalid("missing_field", "group needs groupId")


def _validate_semantic(event: str, user_id: str | None, props: dict[str, Any], context: dict[str, Any]) -> None:
    device = context.get("device") if isinstance(context.get("device"), dict) else {}
    if event in ("Report Delivery Event", "Report Content Event", "Object Deleted"):
        if event == "Report Delivery Event":
            if not isinstance(props.get("deliveryId"), str) or not props.get("deliveryId"):
                raise Invalid("missing_field", "Report Delivery Event needs properties.deliveryId")
            if props.get("metric") not in DELIVERY_METRICS:
                raise Invalid("invalid_field", "properties.metric must be delivered, clicked, converted or opened")
        if event == "Object Deleted" and _text_id(props.get("objectId")) is None:
            raise Invalid("missing_field", "Object Deleted needs properties.objectId")
        return
    if user_id is None:
        raise Invalid("missing_identifier", f"{event} needs userId")
    if event in ("Device Created or Updated", "Device Deleted"):
        if not isinstance(device.get("token"), str) or not device.get("token"):
            raise Invalid("missing_field", f"{event} needs context.device.token")
    if event == "Relationship Deleted" and _text_id(props.get("objectId")) is None:
        raise Invalid("missing_field", "Relationship Deleted needs properties.objectId")


def event_seconds(value: Any) -> int | None:
    """A call's ISO 8601 `timestamp` (when it happened, e.g. a backfill) as unix seconds; None if absent or bad.

    A time without an offset is UTC, as the Pipelines libraries send it.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def commit(ws: Workspace, call: dict[str, Any], kind: str) -> str:
    """Apply a validated call; return "ok", "duplicate" or "dropped"."""
    message_id = call.get("messageId")
    if message_id:
        if message_id in ws.message_ids:
            return "duplicate"
        ws.message_ids.add(message_id)
    user_id, anonymous_id = _text_id(call.get("userId")), _text_id(call.get("anonymousId"))
    ws.pipelines_calls.append(
        {"messageId": message_id, "type": kind, "userId": user_id, "anonymousId": anonymous_id,
         "received_at": ws.now(), "call": call}
    )
    traits, props = _obj(call, "traits"), _obj(call, "properties")
    happened = event_seconds(call.get("timestamp"))
    if kind == "identify":
        attrs = dict(traits)
        if "createdAt" in attrs and "created_at" not in attrs:
            attrs["created_at"] = attrs.pop("createdAt")
        if anonymous_id:
            attrs["anonymous_id"] = anonymous_id
        if user_id is not None:
            _who, outcome = ws.identify("id", user_id, attrs, source="pipelines", at=happened)
        elif isinstance(traits.get("email"), str) and traits["email"]:
            _who, outcome = ws.identify("email", traits["email"], attrs, source="pipelines", at=happened)
        else:
            outcome = "ok"  # anonymous traits: kept with the call only
        return outcome
    if kind == "alias":
        ws.aliases.append({"previousId": _text_id(call.get("previousId")), "userId": user_id, "at": ws.now()})
        return "ok"
    if kind == "track" and call.get("event") in SEMANTIC:
        return _semantic(ws, call["event"], user_id, props, _obj(call, "context"))
    if kind == "group":
        type_id = str(traits.get("object_type_id", "1"))
        attrs = {k: v for k, v in traits.items() if k not in ("object_type_id", "relationshipAttributes")}
        object_id = _text_id(call.get("groupId")) or ""
        ws.upsert_object(type_id, object_id, attrs)
        if user_id is not None:
            person = _person(ws, user_id)
            rel_attrs = traits.get("relationshipAttributes")
            if person is not None:
                ws.relate(type_id, object_id, person, rel_attrs if isinstance(rel_attrs, dict) else {})
        return "ok"
    # track, page, screen
    name = call.get("event") if kind == "track" else (call.get("name") or props.get("url") or kind)
    person = _person(ws, user_id) if user_id is not None else None
    if user_id is not None and person is None:
        return "dropped"
    ws.add_event(name=str(name), data=props, type="event" if kind == "track" else kind,
                 timestamp=happened, person=person,
                 anonymous_id=anonymous_id if person is None else None, source="pipelines")
    return "ok"


def _person(ws: Workspace, user_id: str) -> Any:
    if ws.is_suppressed("id", user_id):
        return None
    return ws.find("id", user_id) or ws.create_person(id=user_id)


def _semantic(ws: Workspace, event: str, user_id: str | None, props: dict[str, Any], ctx: dict[str, Any]) -> str:
    device = ctx.get("device") if isinstance(ctx.get("device"), dict) else {}
    person = ws.find("id", user_id) if user_id else None
    if event == "User Deleted":
        if person is not None:
            ws.delete_person(person)
    elif event == "User Suppressed":
        ws.suppress("id", user_id or "")
    elif event == "User Unsuppressed":
        ws.unsuppress("id", user_id or "")
    elif event == "Device Created or Updated":
        person = _person(ws, user_id or "")
        if person is None:
            return "dropped"
        extra = {k: v for k, v in device.items() if k not in ("token", "type", "id")}
        ws.upsert_device(person, device["token"], device.get("type"), None, extra)
    elif event == "Device Deleted":
        if person is not None:
            person.devices.pop(device["token"], None)
    elif event == "Relationship Deleted":
        if person is not None:
            ws.unrelate(str(props.get("objectTypeId", 1)), str(_text_id(props.get("objectId"))), person)
    elif event == "Object Deleted":
        ws.delete_object(str(props.get("objectTypeId", 1)), str(_text_id(props.get("objectId"))))
    elif event == "Report Delivery Event":
        extra = {k: props[k] for k in ("recipient", "reason", "actionValue", "href") if k in props}
        ws.record_metric("pipelines", props["deliveryId"], props["metric"], props.get("timestamp"), extra)
    # Report Content Event: kept with the call only.
    return "ok"


def _single(req: Request, kind: str) -> Response:
    if len(req.body) > MAX_REQUEST_BYTES:
        return _reject(req, "too_large", "the request is larger than 32 KB")
    try:
        call = req.json_object()
        validate(call, kind)
    except ApiError as exc:
        return _reject(req, "invalid_json", exc.message)
    except Invalid as exc:
        return _reject(req, exc.code, exc.message)
    try:
        outcome = commit(req.ws, call, kind)
    except Invalid as exc:
        return _reject(req, exc.code, exc.message)
    return json_response(200, {}, outcome=outcome, writes=int(outcome == "ok"),
                         duplicates=int(outcome == "duplicate"))


def batch(req: Request) -> Response:
    """POST /v1/batch: items validated one by one; shared context and integrations applied."""
    if len(req.body) > MAX_BATCH_BYTES:
        return _reject(req, "too_large", "the batch is larger than 500 KB")
    try:
        body = req.json_object()
    except ApiError as exc:
        return _reject(req, "invalid_json", exc.message)
    items = body.get("batch")
    if not isinstance(items, list):
        return _reject(req, "invalid_request", "batch must be a list")
    shared_context = body.get("context") if isinstance(body.get("context"), dict) else {}
    shared_integrations = body.get("integrations") if isinstance(body.get("integrations"), dict) else None
    checked: list[tuple[dict[str, Any], str] | Invalid] = []
    for item in items:
        try:
            if not isinstance(item, dict):
                raise Invalid("invalid_request", "each batch item must be an object")
            if len(json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode()) > MAX_REQUEST_BYTES:
                raise Invalid("too_large", "a batch item is larger than 32 KB")
            kind = item.get("type")
            if kind not in KINDS:
                raise Invalid("invalid_type", f"batch item type must be one of {', '.join(KINDS)}")
            call = dict(item)
            if shared_context:
                item_context = item.get("context") if isinstance(item.get("context"), dict) else {}
                call["context"] = {**shared_context, **item_context}
            if shared_integrations is not None and "integrations" not in call:
                call["integrations"] = shared_integrations
            validate(call, kind)
            checked.append((call, kind))
        except Invalid as exc:
            checked.append(exc)
    problems = [c for c in checked if isinstance(c, Invalid)]
    if problems and _strict(req):
        first = problems[0]
        return json_response(400, error_body(400, first.message, first.code), outcome="rejected")
    writes = duplicates = dropped = 0
    for entry in checked:
        if isinstance(entry, Invalid):
            dropped += 1
            continue
        try:
            outcome = commit(req.ws, *entry)
        except Invalid:
            outcome = "dropped"
        writes += outcome == "ok"
        duplicates += outcome == "duplicate"
        dropped += outcome == "dropped"
    if writes and dropped:
        overall = "partial"
    elif writes or not items:
        overall = "ok"
    elif duplicates and not dropped:
        overall = "duplicate"
    else:
        overall = "dropped"
    return json_response(200, {}, outcome=overall, writes=writes, duplicates=duplicates)


def _handler(kind: str) -> Any:
    def handle(req: Request) -> Response:
        return _single(req, kind)

    handle.__name__ = f"pipelines_{kind}"
    return handle


def routes() -> Router:
    """The Pipelines route table, relative to `/customerio-pipelines/{region}`."""
    table = [route("POST", f"v1/{kind}", _handler(kind)) for kind in KINDS]
    table.append(route("POST", "v1/batch", batch))
    return Router(table)
