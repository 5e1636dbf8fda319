"""Track API v1 and v2 handlers: write people, events, devices, objects and metrics into the workspace."""

from __future__ import annotations

import json
from typing import Any

from .limits import (
    MAX_BATCH_BYTES,
    MAX_REQUEST_BYTES,
    MAX_SEGMENT_IDS,
    attributes_error,
    event_error,
    identifier_error,
)
from .messages import ApiError, Request, Response, empty_response, is_finite_number, json_response
from .person import Person, identifier_type
from .routing import Router, route
from .state import Workspace

PLATFORMS = ("ios", "android")
METRICS = frozenset(
    {"bounced", "clicked", "converted", "deferred", "delivered", "dropped", "opened", "spammed"}
)
PUSH_EVENTS = frozenset({"opened", "converted", "delivered"})
FORM_IGNORED = frozenset({"form_id", "form_name", "form_type", "form_url", "form_url_param"})


def error_body(status: int, message: str) -> dict[str, Any]:
    """Track v1's shapes: a list of errors on 400, a single error otherwise."""
    if status == 400:
        return {"meta": {"errors": [message]}}
    return {"meta": {"error": message}}


def _ok(outcome: str = "ok", *, writes: int | None = None, duplicates: int = 0) -> Response:
    if writes is None:
        writes = 1 if outcome == "ok" else 0
    return json_response(200, {}, outcome=outcome, writes=writes, duplicates=duplicates)


def _ws(req: Request) -> Workspace:
    ws: Workspace = req.ws
    return ws


def _path_identifier(req: Request) -> tuple[str, str]:
    raw = req.params["identifier"]
    problem = identifier_error(raw)
    if problem:
        raise ApiError(400, problem)
    return identifier_type(raw)


def _person_for_write(ws: Workspace, id_type: str, value: str) -> Person | None:
    """The person a write addresses, created when addressed by id or email; None means drop."""
    if ws.is_suppressed(id_type, value):
        return None
    person = ws.find(id_type, value)
    if person is None and id_type in ("id", "email"):
        person = ws.create_person(**{id_type: value})
    return person


def _check_identify_body(ws: Workspace, id_type: str, value: str, attrs: dict[str, Any]) -> None:
    if "id" in attrs and attrs["id"] is not None:
        if isinstance(attrs["id"], bool) or not isinstance(attrs["id"], (str, int)):
            raise ApiError(400, "id must be a string")
        problem = identifier_error(str(attrs["id"]), "id")
        if problem:
            raise ApiError(400, problem)
    if "email" in attrs and attrs["email"] is not None:
        if not isinstance(attrs["email"], str):
            raise ApiError(400, "email must be a string")
        if attrs["email"]:
            problem = identifier_error(attrs["email"], "email")
            if problem:
                raise ApiError(400, problem)
    plain = {k: v for k, v in attrs.items() if k not in ("cio_relationships", "cio_subscription_preferences")}
    person = ws.find(id_type, value)
    problem = attributes_error(plain, existing=set(person.attributes) if person else None)
    if problem:
        raise ApiError(400, problem)


def _relationship_target(ident: Any) -> tuple[str, str]:
    if not isinstance(ident, dict):
        raise ApiError(400, "relationship identifiers must be an object")
    if "cio_object_id" in ident:
        raise ApiError(400, "relationships by cio_object_id need an existing object", reason="cio_object_id")
    object_id = ident.get("object_id")
    type_id = ident.get("object_type_id", "1")
    if isinstance(object_id, int) and not isinstance(object_id, bool):
        object_id = str(object_id)
    problem = identifier_error(object_id, "object_id")
    if problem:
        raise ApiError(400, problem)
    return str(type_id), object_id


def _apply_relationships(ws: Workspace, person: Person, items: Any, delete: bool = False) -> None:
    if not isinstance(items, list):
        raise ApiError(400, "relationships must be a list")
    for item in items:
        if not isinstance(item, dict):
            raise ApiError(400, "each relationship must be an object")
        ident = item.get("identifiers", {})
        if isinstance(ident, dict) and "cio_object_id" in ident:
            obj = ws.find_object(ident)
            if obj is None:
                continue
            type_id, object_id = obj["object_type_id"], obj["object_id"]
        else:
            type_id, object_id = _relationship_target(ident)
        if delete:
            ws.unrelate(type_id, object_id, person)
        else:
            attrs = item.get("relationship_attributes") or {}
            if not isinstance(attrs, dict):
                raise ApiError(400, "relationship_attributes must be an object")
            ws.relate(type_id, object_id, person, attrs)


# ---------------------------------------------------------------------------------------- v1 handlers
def region_lookup(req: Request) -> Response:
    """GET /api/v1/accounts/region: answers on either region, names the home region."""
    ws = _ws(req)
    return json_response(
        200,
        {"url": req.home_root, "region": ws.region, "environment_id": ws.environment_id},
    )


def identify(req: Request) -> Response:
    """PUT /api/v1/customers/{identifier}: create or update a person."""
    ws = _ws(req)
    id_type, value = _path_identifier(req)
    attrs = req.json_object(required=False)
    _check_identify_body(ws, id_type, value, attrs)
    rels = attrs.get("cio_relationships")
    if rels is not None and not isinstance(rels, dict):
        raise ApiError(400, "cio_relationships must be an object with action and relationships")
    person, outcome = ws.identify(id_type, value, attrs, update_only=attrs.get("_update") is True)
    if person is not None and rels:
        action = rels.get("action", "add_relationships")
        if action not in ("add_relationships", "delete_relationships"):
            raise ApiError(400, "cio_relationships.action must be add_relationships or delete_relationships")
        _apply_relationships(ws, person, rels.get("relationships", []), delete=action == "delete_relationships")
    return _ok(outcome)


def delete_person(req: Request) -> Response:
    """DELETE /api/v1/customers/{identifier}."""
    ws = _ws(req)
    id_type, value = _path_identifier(req)
    person = ws.find(id_type, value)
    if person is not None:
        ws.delete_person(person)
    return _ok()


def device_attributes(device: dict[str, Any], token_key: str) -> dict[str, Any] | None:
    """The device's attributes: its `attributes` object plus any other top-level key (e.g. `app_version`).

    Clients such as the official Python one send extra device keys at the top level; they are
    device attributes, not dropped. None when `attributes` is not an object.
    """
    attrs = device.get("attributes") or {}
    if not isinstance(attrs, dict):
        return None
    extra = {k: v for k, v in device.items() if k not in (token_key, "platform", "last_used", "attributes")}
    return {**extra, **attrs}


def add_device(req: Request) -> Response:
    """PUT /api/v1/customers/{identifier}/devices."""
    ws = _ws(req)
    id_type, value = _path_identifier(req)
    body = req.json_object()
    device = body.get("device")
    if not isinstance(device, dict):
        raise ApiError(400, "device is required")
    token = device.get("id")
    if not isinstance(token, str) or not token:
        raise ApiError(400, "device.id is required")
    if device.get("platform") not in PLATFORMS:
        raise ApiError(400, "device.platform must be ios or android")
    attrs = device_attributes(device, "id")
    if attrs is None:
        raise ApiError(400, "device.attributes must be an object")
    person = _person_for_write(ws, id_type, value)
    if person is None:
        return _ok("dropped")
    ws.upsert_device(person, token, device["platform"], device.get("last_used"), attrs)
    return _ok()


def delete_device(req: Request) -> Response:
    """DELETE /api/v1/customers/{identifier}/devices/{device_id}."""
    ws = _ws(req)
    id_type, value = _path_identifier(req)
    token = req.params["device_id"]
    if not token:
        raise ApiError(400, "device id is required")
    person = ws.find(id_type, value)
    if person is not None:
        person.devices.pop(token, None)
    return _ok()


def suppress(req: Request) -> Response:
    """POST /api/v1/customers/{identifier}/suppress: delete the profile, block its identifiers."""
    ws = _ws(req)
    id_type, value = _path_identifier(req)
    ws.suppress(id_type, value)
    return _ok()


def unsuppress(req: Request) -> Response:
    """POST /api/v1/customers/{identifier}/unsuppress: release identifiers; nothing is restored."""
    ws = _ws(req)
    id_type, value = _path_identifier(req)
    if id_type == "cio_id":
        # the profile is gone; release whatever record remembered that cio_id
        ws.suppressions = [r for r in ws.suppressions if r.get("cio_id") != value]
    else:
        ws.unsuppress(id_type, value)
    return _ok()


def _event_fields(body: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str, Any, str | None]:
    name, data = body.get("name"), body.get("data")
    problem = event_error(name, data)
    if problem:
        raise ApiError(400, problem)
    etype = body.get("type", "event") or "event"
    if etype not in ("event", "page", "screen"):
        raise ApiError(400, "type must be event, page or screen")
    timestamp = body.get("timestamp")
    if timestamp is not None and not is_finite_number(timestamp):
        raise ApiError(400, "timestamp must be a unix time in seconds")
    dedupe = body.get("id")
    if dedupe is not None and (not isinstance(dedupe, str) or not dedupe):
        raise ApiError(400, "id must be a non-empty string (a ULID)")
    return name, data, etype, timestamp, dedupe


def person_event(req: Request) -> Response:
    """POST /api/v1/customers/{identifier}/events: deduplicated by the event `id`."""
    ws = _ws(req)
    id_type, value = _path_identifier(req)
    name, data, etype, timestamp, dedupe = _event_fields(req.json_object())
    if dedupe and dedupe in ws.event_ids:
        return _ok("duplicate", duplicates=1)
    person = _person_for_write(ws, id_type, value)
    if person is None:
        return _ok("dropped")
    ws.add_event(name=name, data=data, dedupe_id=dedupe, type=etype, timestamp=timestamp, person=person,
                 source="track-v1")
    return _ok()


def anonymous_event(req: Request) -> Response:
    """POST /api/v1/events: an anonymous event, deduplicated by `id`."""
    ws = _ws(req)
    body = req.json_object()
    name, data, etype, timestamp, dedupe = _event_fields(body)
    anonymous_id = body.get("anonymous_id")
    if anonymous_id is not None and not isinstance(anonymous_id, str):
        raise ApiError(400, "anonymous_id must be a string")
    if not anonymous_id and not (data or {}).get("recipient"):
        raise ApiError(400, "an event without anonymous_id needs data.recipient")
    if not ws.add_event(name=name, data=data, dedupe_id=dedupe, type=etype, timestamp=timestamp,
                        anonymous_id=anonymous_id or None, source="track-v1"):
        return _ok("duplicate", duplicates=1)
    return _ok()


def _merge_side(body: dict[str, Any], side: str) -> tuple[str, str]:
    value = body.get(side)
    if not isinstance(value, dict) or len(value) != 1:
        raise ApiError(400, f"{side} must hold exactly one of id, email or cio_id",
                       body={"meta": {"error": f"{side} must hold exactly one of id, email or cio_id"}})
    (key, ident), = value.items()
    if key not in ("id", "email", "cio_id") or not isinstance(ident, str) or not ident:
        message = f"{side} must hold exactly one of id, email or cio_id as a string"
        raise ApiError(400, message, body={"meta": {"error": message}})
    return key, ident


def merge_customers(req: Request) -> Response:
    """POST /api/v1/merge_customers: fold the secondary person into the primary."""
    ws = _ws(req)
    try:
        body = req.json_object()
    except ApiError as exc:
        raise ApiError(400, exc.message, body={"meta": {"error": exc.message}}) from None
    p_type, p_value = _merge_side(body, "primary")
    s_type, s_value = _merge_side(body, "secondary")
    primary, secondary = ws.find(p_type, p_value), ws.find(s_type, s_value)
    if primary is None or secondary is None or primary is secondary:
        return _ok("dropped")
    ws.merge(primary, secondary)
    return _ok()


def submit_form(req: Request) -> Response:
    """POST /api/v1/forms/{form_id}/submit: registers the form, identifies the person (204)."""
    ws = _ws(req)
    form_id = req.params["form_id"]
    if not form_id:
        raise ApiError(400, "form id is required")
    body = req.json_object()
    form = ws.forms.setdefault(form_id, {"form_id": form_id, "submissions": 0, "created": ws.now()})
    form["submissions"] += 1
    data = body.get("data")
    if not isinstance(data, dict):
        raise ApiError(400, "data must be an object")
    fields = {k: v for k, v in data.items() if k not in FORM_IGNORED}
    if any(not isinstance(v, str) for v in fields.values()):
        raise ApiError(400, "form values must be strings")
    keys = [k for k in ("email", "id") if fields.get(k)]
    if len(keys) != 1:
        raise ApiError(400, "form data must contain exactly one of email or id")
    id_type = keys[0]
    problem = identifier_error(fields[id_type], id_type) or attributes_error(fields)
    if problem:
        raise ApiError(400, problem)
    attrs = {k: v for k, v in fields.items() if k != id_type}
    _person, outcome = ws.identify(id_type, fields[id_type], attrs)
    return empty_response(204, outcome=outcome, writes=1 if outcome == "ok" else 0)


def _segment_members_call(req: Request, *, add: bool) -> Response:
    ws = _ws(req)
    try:
        segment_id = int(req.params["segment_id"])
    except ValueError:
        raise ApiError(400, "segment id must be an integer") from None
    id_type = req.q("id_type", "id") or "id"
    if id_type not in ("id", "email", "cio_id"):
        raise ApiError(400, "id_type must be id, email or cio_id")
    body = req.json_object()
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids:
        raise ApiError(400, "ids must be a non-empty list")
    if len(ids) > MAX_SEGMENT_IDS:
        raise ApiError(400, f"at most {MAX_SEGMENT_IDS} ids per request")
    segment = ws.segments.get(segment_id)
    if segment is None:
        raise ApiError(400, f"segment {segment_id} does not exist")
    if segment["type"] != "manual":
        raise ApiError(400, f"segment {segment_id} is data-driven; only manual segments can be changed")
    members = ws.memberships.setdefault(segment_id, set())
    for raw in ids:
        if not isinstance(raw, (str, int)) or isinstance(raw, bool):
            continue
        value = str(raw)
        if id_type == "email" and "@" not in value:
            continue  # values that do not match id_type are ignored
        person = ws.find(id_type, value)
        if person is None:
            continue
        if add:
            members.add(person.cio_id)
        else:
            members.discard(person.cio_id)
    return _ok()


def add_to_segment(req: Request) -> Response:
    """POST /api/v1/segments/{id}/add_customers (manual segments only)."""
    return _segment_members_call(req, add=True)


def remove_from_segment(req: Request) -> Response:
    """POST /api/v1/segments/{id}/remove_customers (manual segments only)."""
    return _segment_members_call(req, add=False)


def metrics(req: Request) -> Response:
    """POST /api/v1/metrics: a delivery metric (no auth)."""
    ws = _ws(req)
    body = req.json_object()
    delivery_id, metric = body.get("delivery_id"), body.get("metric")
    if not isinstance(delivery_id, str) or not delivery_id:
        raise ApiError(400, "delivery_id is required")
    if metric not in METRICS:
        raise ApiError(400, f"metric must be one of {', '.join(sorted(METRICS))}")
    extra = {k: body[k] for k in ("recipient", "reason", "href") if k in body}
    ws.record_metric("track", delivery_id, metric, body.get("timestamp"), extra)
    return _ok()


def push_events(req: Request) -> Response:
    """POST /api/v1/push/events and /push/events: legacy push metrics (no auth)."""
    ws = _ws(req)
    body = req.json_object()
    delivery_id, event = body.get("delivery_id"), body.get("event")
    if not isinstance(delivery_id, str) or not delivery_id:
        raise ApiError(400, "delivery_id is required")
    if event not in PUSH_EVENTS:
        raise ApiError(400, "event must be opened, converted or delivered")
    ws.record_metric("push", delivery_id, event, body.get("timestamp"), {"device_id": body.get("device_id")})
    return _ok()


def unsubscribe(req: Request) -> Response:
    """POST /unsubscribe/{delivery_id}: unsubscribe the delivery's person (no auth)."""
    ws = _ws(req)
    content_type = (req.header("content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(400, "Content-Type must be application/json")
    delivery_id = req.params["delivery_id"]
    if not delivery_id:
        raise ApiError(400, "delivery id is required")
    body = req.json_object()
    wanted = body.get("unsubscribe", True) is True
    message = ws.messages.get(delivery_id)
    person = ws.people.get(message["cio_id"]) if message and message.get("cio_id") else None
    if wanted and person is not None:
        ws.apply_attributes(person, {"unsubscribed": True})
        if message is not None:
            message["metrics"]["unsubscribed"] = ws.now()
    ws.unsubscribes.append(
        {"delivery_id": delivery_id, "unsubscribe": wanted, "matched": person is not None, "at": ws.now()}
    )
    return _ok()


# ---------------------------------------------------------------------------------------- v2
class V2Error(Exception):
    """One invalid v2 operation (`reason`, `field`, `message`)."""

    def __init__(self, reason: str, field: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.field, self.message = reason, field, message

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "field": self.field, "message": self.message}


def _v2_person_ident(op: dict[str, Any]) -> tuple[str, str]:
    ident = op.get("identifiers")
    if not isinstance(ident, dict) or len(ident) != 1:
        raise V2Error("required", "identifiers", "identifiers must hold exactly one of id, email or cio_id")
    (key, value), = ident.items()
    if key == "phone":
        raise V2Error("invalid", "identifiers.phone", "phone identifiers are not enabled in this workspace")
    if key not in ("id", "email", "cio_id"):
        raise V2Error("invalid", f"identifiers.{key}", "identifiers must hold id, email or cio_id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    problem = identifier_error(value, key)
    if problem:
        raise V2Error("invalid", f"identifiers.{key}", problem)
    return key, value


def _v2_object_ident(op: dict[str, Any]) -> dict[str, str]:
    ident = op.get("identifiers")
    if not isinstance(ident, dict):
        raise V2Error("required", "identifiers", "identifiers must be an object")
    if "cio_object_id" in ident:
        return {"cio_object_id": str(ident["cio_object_id"])}
    type_id, object_id = ident.get("object_type_id"), ident.get("object_id")
    if isinstance(object_id, int) and not isinstance(object_id, bool):
        object_id = str(object_id)
    if not isinstance(type_id, str) or not type_id.isdigit():
        raise V2Error("invalid", "identifiers.object_type_id", "object_type_id must be a string integer like \"1\"")
    problem = identifier_error(object_id, "object_id")
    if problem:
        raise V2Error("invalid", "identifiers.object_id", problem)
    return {"object_type_id": type_id, "object_id": object_id}


def _v2_attrs(op: dict[str, Any], field: str = "attributes") -> dict[str, Any]:
    attrs = op.get(field) or {}
    if not isinstance(attrs, dict):
        raise V2Error("invalid", field, f"{field} must be an object")
    return attrs


def _wrap(fn: Any, *args: Any, field: str = "") -> Any:
    try:
        return fn(*args)
    except ApiError as exc:
        raise V2Error("invalid", field or (exc.reason or ""), exc.message) from None


def apply_v2(ws: Workspace, op: Any) -> str:
    """Apply one v2 operation; return its outcome ("ok", "duplicate", "dropped") or raise V2Error."""
    if not isinstance(op, dict):
        raise V2Error("invalid", "", "each operation must be an object")
    kind, action = op.get("type"), op.get("action")
    if kind == "person":
        return _v2_person(ws, op, action)
    if kind == "object":
        return _v2_object(ws, op, action)
    if kind == "delivery":
        if action != "event":
            raise V2Error("invalid", "action", "delivery supports the event action only")
        ident = op.get("identifiers")
        delivery_id = ident.get("id") if isinstance(ident, dict) else None
        if not isinstance(delivery_id, str) or not delivery_id:
            raise V2Error("required", "identifiers.id", "the delivery id is required")
        if op.get("name") not in PUSH_EVENTS:
            raise V2Error("invalid", "name", "name must be opened, converted or delivered")
        attrs = _v2_attrs(op)
        if not attrs.get("device_token"):
            raise V2Error("required", "attributes.device_token", "device_token is required")
        ws.record_metric("track-v2", delivery_id, op["name"], op.get("timestamp"), dict(attrs))
        return "ok"
    raise V2Error("invalid", "type", "type must be person, object or delivery")


def _v2_person(ws: Workspace, op: dict[str, Any], action: Any) -> str:
    if action == "merge":
        for side in ("primary", "secondary"):
            value = op.get(side)
            if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in ("id", "email", "cio_id"):
                raise V2Error("invalid", side, f"{side} must hold exactly one of id, email or cio_id")
        (pk, pv), = op["primary"].items()
        (sk, sv), = op["secondary"].items()
        primary, secondary = ws.find(pk, str(pv)), ws.find(sk, str(sv))
        if primary is None or secondary is None or primary is secondary:
            return "dropped"
        ws.merge(primary, secondary)
        return "ok"
    id_type, value = _v2_person_ident(op)
    if action == "identify":
        attrs = _v2_attrs(op)
        plain = {k: v for k, v in attrs.items() if k != "cio_subscription_preferences"}
        existing = ws.find(id_type, value)
        problem = attributes_error(plain, existing=set(existing.attributes) if existing else None)
        if problem:
            raise V2Error("invalid", "attributes", problem)
        rels = op.get("cio_relationships")
        if rels is not None and not isinstance(rels, list):
            raise V2Error("invalid", "cio_relationships", "cio_relationships must be a list")
        person, outcome = ws.identify(id_type, value, attrs, update_only=attrs.get("_update") is True)
        if person is not None and rels:
            _wrap(_apply_relationships, ws, person, rels, field="cio_relationships")
        return outcome
    if action == "delete":
        person = ws.find(id_type, value)
        if person is not None:
            ws.delete_person(person)
        return "ok"
    if action in ("event", "screen", "page"):
        name, data = op.get("name"), _v2_attrs(op)
        problem = event_error(name, data)
        if problem:
            raise V2Error("invalid", "name" if "name" in problem else "attributes", problem)
        dedupe = op.get("id")
        if dedupe is not None and (not isinstance(dedupe, str) or not dedupe):
            raise V2Error("invalid", "id", "id must be a non-empty string (a ULID)")
        timestamp = op.get("timestamp")
        if timestamp is not None and not is_finite_number(timestamp):
            raise V2Error("invalid", "timestamp", "timestamp must be a unix time in seconds")
        if dedupe and dedupe in ws.event_ids:
            return "duplicate"
        person = _person_for_write(ws, id_type, value)
        if person is None:
            return "dropped"
        ws.add_event(name=name, data=data, dedupe_id=dedupe, type=action, timestamp=timestamp, person=person,
                     source="track-v2")
        return "ok"
    if action in ("add_relationships", "delete_relationships"):
        rels = op.get("cio_relationships")
        if not isinstance(rels, list):
            raise V2Error("required", "cio_relationships", "cio_relationships must be a list")
        person = _person_for_write(ws, id_type, value) if action == "add_relationships" else ws.find(id_type, value)
        if person is None:
            return "dropped"
        _wrap(_apply_relationships, ws, person, rels, action == "delete_relationships", field="cio_relationships")
        return "ok"
    if action in ("add_device", "delete_device"):
        device = op.get("device")
        if not isinstance(device, dict) or not isinstance(device.get("token"), str) or not device["token"]:
            raise V2Error("required", "device.token", "device.token is required")
        if action == "delete_device":
            person = ws.find(id_type, value)
            if person is not None:
                person.devices.pop(device["token"], None)
            return "ok"
        if device.get("platform") not in PLATFORMS:
            raise V2Error("invalid", "device.platform", "device.platform must be ios or android")
        attrs = device_attributes(device, "token")
        if attrs is None:
            raise V2Error("invalid", "device.attributes", "device.attributes must be an object")
        person = _person_for_write(ws, id_type, value)
        if person is None:
            return "dropped"
        ws.upsert_device(person, device["token"], device["platform"], device.get("last_used"), attrs)
        return "ok"
    if action == "suppress":
        ws.suppress(id_type, value)
        return "ok"
    if action == "unsuppress":
        ws.unsuppress(id_type, value)
        return "ok"
    raise V2Error("invalid", "action", f"unknown person action {action!r}")


def _v2_object(ws: Workspace, op: dict[str, Any], action: Any) -> str:
    ident = _v2_object_ident(op)
    if "cio_object_id" in ident:
        obj = ws.find_object(ident)
        if obj is None:
            raise V2Error("not_found", "identifiers.cio_object_id", "no object has this cio_object_id")
        type_id, object_id = obj["object_type_id"], obj["object_id"]
    else:
        type_id, object_id = ident["object_type_id"], ident["object_id"]
    if action in ("identify", "identify_anonymous"):
        attrs = _v2_attrs(op)
        problem = attributes_error(attrs)
        if problem:
            raise V2Error("invalid", "attributes", problem)
        rels = op.get("cio_relationships") or []
        if not isinstance(rels, list):
            raise V2Error("invalid", "cio_relationships", "cio_relationships must be a list")
        ws.upsert_object(type_id, object_id, attrs)
        if action == "identify":
            _relate_people(ws, type_id, object_id, rels, delete=False)
        return "ok"
    if action == "delete":
        ws.delete_object(type_id, object_id)
        return "ok"
    if action in ("add_relationships", "delete_relationships"):
        rels = op.get("cio_relationships")
        if not isinstance(rels, list):
            raise V2Error("required", "cio_relationships", "cio_relationships must be a list")
        _relate_people(ws, type_id, object_id, rels, delete=action == "delete_relationships")
        return "ok"
    raise V2Error("invalid", "action", f"unknown object action {action!r}")


def _relate_people(ws: Workspace, type_id: str, object_id: str, rels: list[Any], *, delete: bool) -> None:
    for item in rels:
        ident = item.get("identifiers") if isinstance(item, dict) else None
        if not isinstance(ident, dict) or len(ident) != 1:
            raise V2Error("invalid", "cio_relationships", "each relationship needs one person identifier")
        (key, value), = ident.items()
        if key not in ("id", "email", "cio_id") or not isinstance(value, str):
            raise V2Error("invalid", "cio_relationships", "person identifiers are id, email or cio_id")
        if delete:
            person = ws.find(key, value)
            if person is not None:
                ws.unrelate(type_id, object_id, person)
        else:
            person = _person_for_write(ws, key, value)
            if person is not None:
                ws.relate(type_id, object_id, person, item.get("relationship_attributes") or {})


def _v2_error(status: int, errors: list[dict[str, Any]], outcome: str = "rejected") -> Response:
    return json_response(status, {"errors": errors}, outcome=outcome)


def _v2_body(req: Request) -> Any:
    try:
        return req.json()
    except ApiError as exc:
        body = {"errors": [{"reason": "malformed", "field": "", "message": exc.message}]}
        raise ApiError(400, exc.message, body=body) from None


def entity(req: Request) -> Response:
    """POST /api/v2/entity: one v2 operation."""
    ws = _ws(req)
    if len(req.body) > MAX_REQUEST_BYTES:
        return _v2_error(400, [{"reason": "too_large", "field": "", "message": "the request is larger than 32 KB"}])
    op = _v2_body(req)
    try:
        outcome = apply_v2(ws, op)
    except V2Error as exc:
        return _v2_error(400, [exc.as_dict()])
    return _ok(outcome, duplicates=1 if outcome == "duplicate" else 0)


def batch(req: Request) -> Response:
    """POST /api/v2/batch: many operations; invalid ones are reported with 207."""
    ws = _ws(req)
    if len(req.body) > MAX_BATCH_BYTES:
        return _v2_error(400, [{"reason": "too_large", "field": "", "message": "the batch is larger than 500 KB"}])
    body = _v2_body(req)
    items = body.get("batch") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return _v2_error(400, [{"reason": "required", "field": "batch", "message": "batch must be a list"}])
    errors: list[dict[str, Any]] = []
    writes = duplicates = 0
    for index, op in enumerate(items):
        size = len(json.dumps(op, separators=(",", ":"), ensure_ascii=False).encode())
        try:
            if size > MAX_REQUEST_BYTES:
                raise V2Error("too_large", "", "the operation is larger than 32 KB")
            outcome = apply_v2(ws, op)
        except V2Error as exc:
            errors.append({"batch_index": index, **exc.as_dict()})
            continue
        writes += outcome == "ok"
        duplicates += outcome == "duplicate"
    if errors:
        return json_response(207, {"errors": errors}, outcome="partial", writes=writes, duplicates=duplicates)
    overall = "duplicate" if items and duplicates == len(items) else "ok"
    return _ok(overall, writes=writes, duplicates=duplicates)


SMALL = MAX_REQUEST_BYTES


def routes() -> Router:
    """The Track route table, relative to `/customerio-track/{region}`."""
    return Router(
        [
            route("GET", "api/v1/accounts/region", region_lookup, any_region=True),
            route("PUT", "api/v1/customers/{identifier}", identify, max_body=SMALL),
            route("DELETE", "api/v1/customers/{identifier}", delete_person, max_body=SMALL),
            route("PUT", "api/v1/customers/{identifier}/devices", add_device, max_body=SMALL),
            route("DELETE", "api/v1/customers/{identifier}/devices/{device_id}", delete_device, max_body=SMALL),
            route("POST", "api/v1/customers/{identifier}/suppress", suppress, max_body=SMALL),
            route("POST", "api/v1/customers/{identifier}/unsuppress", unsuppress, max_body=SMALL),
            route("POST", "api/v1/customers/{identifier}/events", person_event, max_body=SMALL),
            route("POST", "api/v1/events", anonymous_event, max_body=SMALL),
            route("POST", "api/v1/forms/{form_id}/submit", submit_form, max_body=SMALL),
            route("POST", "api/v1/merge_customers", merge_customers, max_body=SMALL),
            route("POST", "api/v1/segments/{segment_id}/add_customers", add_to_segment, max_body=SMALL),
            route("POST", "api/v1/segments/{segment_id}/remove_customers", remove_from_segment, max_body=SMALL),
            route("POST", "api/v1/metrics", metrics, auth=False, max_body=SMALL),
            route("POST", "api/v1/push/events", push_events, auth=False, max_body=SMALL),
            route("POST", "push/events", push_events, auth=False, max_body=SMALL),
            route("POST", "unsubscribe/{delivery_id}", unsubscribe, auth=False, max_body=SMALL),
            route("POST", "api/v2/entity", entity, max_body=None),
            route("POST", "api/v2/batch", batch, max_body=None),
        ]
    )

