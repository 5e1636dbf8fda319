"""App API handlers (also served under the Beta base path): reads of the workspace, sends, broadcasts, exports."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from .limits import (
    MAX_ATTRIBUTE_LOOKUP_IDS,
    MAX_EMAIL_RECIPIENTS,
    MAX_QUEUED_TRIGGERS,
    MAX_TRANSACTIONAL_BYTES,
    MAX_TRIGGER_AUDIENCE,
    MAX_TRIGGER_DATA_BYTES,
    attribute_string,
    identifier_error,
)
from .messages import ApiError, Request, Response, dumps, empty_response, json_response
from .routing import Route, Router, route
from .state import Person, Workspace

AUDIENCE_FIELDS = ("recipients", "emails", "ids", "per_user_data", "data_file_url")
CHANNELS = {"email": "email", "push": "push", "sms": "sms"}


def error_body(status: int, message: str) -> dict[str, Any]:
    """The App API's general error shape (status as a string, as in the recorded 404s)."""
    return {"errors": [{"detail": message, "status": str(status)}]}


def _ws(req: Request) -> Workspace:
    ws: Workspace = req.ws
    return ws


def _not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found", outcome="not_found")


def _int_param(req: Request, name: str, what: str) -> int:
    try:
        return int(req.params[name])
    except ValueError:
        raise _not_found(what) from None


# ------------------------------------------------------------------------------------------- paging
def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode().rstrip("=")


def _decode_cursor(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if not raw.startswith("o"):
            raise ValueError(token)
        offset = int(raw[1:])
        if offset < 0:
            raise ValueError(token)
        return offset
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(400, "start is not a cursor this API returned") from None


def _page(req: Request, items: list[Any], *, default: int, maximum: int) -> tuple[list[Any], str]:
    """Cursor paging: `start` (opaque, from a previous `next`) and `limit`; `next` is "" on the last page."""
    start = req.q("start")
    offset = _decode_cursor(start) if start else 0
    raw_limit = req.q("limit")
    if raw_limit is None or raw_limit == "":
        limit = default
    else:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise ApiError(400, "limit must be an integer") from None
        if limit < 1 or limit > maximum:
            raise ApiError(400, f"limit must be between 1 and {maximum}")
    chunk = items[offset : offset + limit]
    more = offset + limit < len(items)
    return chunk, _encode_cursor(offset + limit) if more else ""


# ------------------------------------------------------------------------------------------- people
def customer_json(person: Person) -> dict[str, Any]:
    """The App API's customer attributes object: every attribute value is a string."""
    return {
        "id": person.id,
        "identifiers": person.identifiers(),
        "attributes": dict(person.attributes),
        "timestamps": dict(person.timestamps),
        "unsubscribed": person.unsubscribed,
        "devices": [
            {"id": d["id"], "last_used": d.get("last_used"), "platform": d.get("platform")}
            for d in person.devices.values()
        ],
    }


def _id_type(req: Request, allowed: tuple[str, ...] = ("id", "email", "cio_id")) -> str:
    id_type = req.q("id_type", "id") or "id"
    if id_type == "phone":
        raise ApiError(400, "phone identifiers are not enabled in this workspace")
    if id_type not in allowed:
        raise ApiError(400, f"id_type must be one of {', '.join(allowed)}")
    return id_type


def _path_person(req: Request) -> Person:
    ws = _ws(req)
    id_type = _id_type(req)
    value = req.params["customer_id"]
    if id_type == "cio_id" and value.startswith("cio_"):
        value = value[4:]
    person = ws.find(id_type, value)
    if person is None:
        raise _not_found("customer")
    return person


def _check_filter(flt: Any, *, object_filter: bool = False) -> None:
    leaf = "object_attribute" if object_filter else "attribute"
    keys = ("and", "or", "not", leaf) if object_filter else ("and", "or", "not", "segment", leaf)
    if not isinstance(flt, dict) or len(flt) != 1 or next(iter(flt)) not in keys:
        raise ApiError(400, f"a filter must be an object with exactly one of {', '.join(keys)}")
    (key, value), = flt.items()
    if key in ("and", "or"):
        if not isinstance(value, list) or not value:
            raise ApiError(400, f"{key} must be a non-empty list of filters")
        for item in value:
            _check_filter(item, object_filter=object_filter)
    elif key == "not":
        _check_filter(value, object_filter=object_filter)
    elif key == "segment":
        if not isinstance(value, dict) or isinstance(value.get("id"), bool) or not isinstance(value.get("id"), int):
            raise ApiError(400, "segment filters need an integer id")
    else:
        if not isinstance(value, dict) or not isinstance(value.get("field"), str):
            raise ApiError(400, f"{key} filters need a field")
        if value.get("operator") not in ("eq", "exists"):
            raise ApiError(400, f"{key}.operator must be eq or exists")
        if value["operator"] == "eq" and "value" not in value:
            raise ApiError(400, f"{key} with operator eq needs a value")


def _matches(ws: Workspace, attrs: dict[str, str], flt: dict[str, Any], person: Person | None) -> bool:
    (key, value), = flt.items()
    if key == "and":
        return all(_matches(ws, attrs, f, person) for f in value)
    if key == "or":
        return any(_matches(ws, attrs, f, person) for f in value)
    if key == "not":
        return not _matches(ws, attrs, value, person)
    if key == "segment":
        return person is not None and person in ws.segment_members(value["id"])
    field = value["field"]
    if value["operator"] == "exists":
        return field in attrs
    return attrs.get(field) == attribute_string(value["value"])


def _filter_people(ws: Workspace, flt: Any) -> list[Person]:
    if flt is None:
        return list(ws.people.values())
    _check_filter(flt)
    return [p for p in ws.people.values() if _matches(ws, p.attributes, flt, p)]


def find_by_email(req: Request) -> Response:
    """GET /v1/customers?email=: identifiers of the people with that email."""
    ws = _ws(req)
    email = req.q("email")
    if not email:
        raise ApiError(400, "the email query parameter is required")
    people = [p for p in ws.people.values() if p.email and p.email.lower() == email.lower()]
    return json_response(200, {"results": [p.identifiers() for p in people]})


def search_people(req: Request) -> Response:
    """POST /v1/customers: people matching an audience filter, paged."""
    ws = _ws(req)
    body = req.json_object()
    if "filter" not in body:
        raise ApiError(400, "filter is required")
    people = _filter_people(ws, body["filter"])
    chunk, nxt = _page(req, people, default=50, maximum=1000)
    return json_response(
        200, {"identifiers": [p.identifiers() for p in chunk], "ids": [p.id or "" for p in chunk], "next": nxt}
    )


def person_attributes(req: Request) -> Response:
    """GET /v1/customers/{id}/attributes: one person, attributes as strings."""
    return json_response(200, {"customer": customer_json(_path_person(req))})


def people_attributes(req: Request) -> Response:
    """POST /v1/customers/attributes: up to 100 people; unknown ids are left out."""
    ws = _ws(req)
    id_type = _id_type(req)
    ids = req.json_object().get("ids")
    if not isinstance(ids, list) or not ids:
        raise ApiError(400, "ids must be a non-empty list")
    if len(ids) > MAX_ATTRIBUTE_LOOKUP_IDS:
        raise ApiError(400, f"at most {MAX_ATTRIBUTE_LOOKUP_IDS} ids per request")
    found = [ws.find(id_type, str(i)) for i in ids if isinstance(i, (str, int)) and not isinstance(i, bool)]
    return json_response(200, {"customers": [{"customer": customer_json(p)} for p in found if p is not None]})


def person_segments(req: Request) -> Response:
    """GET /v1/customers/{id}/segments: the segments a person belongs to."""
    person = _path_person(req)
    return json_response(200, {"segments": _ws(req).segments_of(person)})


def _public(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k not in ("cio_id", "content")}


def person_messages(req: Request) -> Response:
    """GET /v1/customers/{id}/messages: a person's deliveries, newest first."""
    ws = _ws(req)
    person = _path_person(req)
    items = [_public(m) for m in reversed(ws.messages.values()) if m.get("cio_id") == person.cio_id]
    chunk, nxt = _page(req, items, default=10, maximum=1000)
    return json_response(200, {"messages": chunk, "next": nxt})


def _activities(req: Request, person: Person | None) -> Response:
    ws = _ws(req)
    kind, name = req.q("type"), req.q("name")
    items = [
        {k: v for k, v in a.items() if k != "cio_id"}
        for a in reversed(ws.activities)
        if (person is None or a["cio_id"] == person.cio_id)
        and (not kind or a["type"] == kind)
        and (not name or a["name"] == name)
    ]
    chunk, nxt = _page(req, items, default=10, maximum=100)
    return json_response(200, {"activities": chunk, "next": nxt})


def person_activities(req: Request) -> Response:
    """GET /v1/customers/{id}/activities: a person's activity log, newest first."""
    return _activities(req, _path_person(req))


def all_activities(req: Request) -> Response:
    """GET /v1/activities: the workspace's activity log, optionally for one customer."""
    customer = req.q("customer_id")
    person = None
    if customer:
        id_type = _id_type(req)
        if customer.startswith("cio_"):
            id_type, customer = "cio_id", customer[4:]
        person = _ws(req).find(id_type, customer)
        if person is None:
            return json_response(200, {"activities": [], "next": ""})
    return _activities(req, person)


def person_relationships(req: Request) -> Response:
    """GET /v1/customers/{id}/relationships: the objects a person is related to."""
    ws = _ws(req)
    person = _path_person(req)
    items = [
        {"identifiers": {"object_type_id": t, "object_id": o}, "relationship_attributes": r["attributes"]}
        for (t, o, c), r in ws.relationships.items()
        if c == person.cio_id
    ]
    chunk, nxt = _page(req, items, default=10, maximum=1000)
    return json_response(200, {"cio_relationships": chunk, "next": nxt})


# ------------------------------------------------------------------------------------------- segments
def _segment(req: Request) -> dict[str, Any]:
    segment = _ws(req).segments.get(_int_param(req, "segment_id", "segment"))
    if segment is None:
        raise _not_found("segment")
    return segment


def list_segments(req: Request) -> Response:
    """GET /v1/segments."""
    ws = _ws(req)
    return json_response(200, {"segments": [ws.public_segment(s) for _, s in sorted(ws.segments.items())]})


def get_segment(req: Request) -> Response:
    """GET /v1/segments/{id}."""
    return json_response(200, {"segment": Workspace.public_segment(_segment(req))})


def create_segment(req: Request) -> Response:
    """POST /v1/segments: create an empty manual segment."""
    ws = _ws(req)
    spec = req.json_object().get("segment")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"].strip():
        raise ApiError(400, "segment.name is required")
    description = spec.get("description", "")
    if not isinstance(description, str):
        raise ApiError(400, "segment.description must be a string")
    sid = ws.next_number("segment")
    now = ws.now()
    ws.segments[sid] = {
        "id": sid,
        "deduplicate_id": f"{sid}:{now}",
        "name": spec["name"],
        "description": description,
        "state": "finished",
        "progress": None,
        "type": "manual",
        "tags": None,
        "created_at": now,
        "updated_at": now,
    }
    ws.memberships[sid] = set()
    return json_response(200, {"segment": ws.segments[sid]}, writes=1)


def delete_segment(req: Request) -> Response:
    """DELETE /v1/segments/{id}."""
    ws = _ws(req)
    segment = _segment(req)
    ws.segments.pop(segment["id"], None)
    ws.memberships.pop(segment["id"], None)
    return empty_response(204, writes=1)


def segment_count(req: Request) -> Response:
    """GET /v1/segments/{id}/customer_count."""
    segment = _segment(req)
    return json_response(200, {"segment_id": segment["id"], "count": len(_ws(req).segment_members(segment["id"]))})


def segment_membership(req: Request) -> Response:
    """GET /v1/segments/{id}/membership: members' identifiers, paged."""
    segment = _segment(req)
    people = _ws(req).segment_members(segment["id"])
    chunk, nxt = _page(req, people, default=1000, maximum=30000)
    return json_response(
        200, {"identifiers": [p.identifiers() for p in chunk], "ids": [p.id or "" for p in chunk], "next": nxt}
    )


# ------------------------------------------------------------------------------------------- campaigns
def list_campaigns(req: Request) -> Response:
    """GET /v1/campaigns."""
    return json_response(200, {"campaigns": list(_ws(req).campaigns.values())})


def get_campaign(req: Request) -> Response:
    """GET /v1/campaigns/{id}."""
    campaign = _ws(req).campaigns.get(_int_param(req, "campaign_id", "campaign"))
    if campaign is None:
        raise _not_found("campaign")
    return json_response(200, {"campaign": campaign})


def _metric_series(ws: Workspace, key: str, value: int) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for message in ws.messages.values():
        if message.get(key) == value:
            for metric in message["metrics"]:
                counts[metric] = counts.get(metric, 0) + 1
    return {"metric": {"series": {metric: [count] for metric, count in sorted(counts.items())}}}


def campaign_metrics(req: Request) -> Response:
    """GET /v1/campaigns/{id}/metrics: counts per metric of the campaign's deliveries."""
    ws = _ws(req)
    cid = _int_param(req, "campaign_id", "campaign")
    if cid not in ws.campaigns:
        raise _not_found("campaign")
    return json_response(200, _metric_series(ws, "campaign_id", cid))


# ------------------------------------------------------------------------------------------- broadcasts
def _broadcast(req: Request) -> dict[str, Any]:
    broadcast = _ws(req).broadcasts.get(_int_param(req, "broadcast_id", "broadcast"))
    if broadcast is None:
        raise _not_found("broadcast")
    return broadcast


def list_broadcasts(req: Request) -> Response:
    """GET /v1/broadcasts."""
    return json_response(200, {"broadcasts": list(_ws(req).broadcasts.values())})


def get_broadcast(req: Request) -> Response:
    """GET /v1/broadcasts/{id}."""
    return json_response(200, {"broadcast": _broadcast(req)})


def broadcast_metrics(req: Request) -> Response:
    """GET /v1/broadcasts/{id}/metrics: counts per metric of the broadcast's deliveries."""
    return json_response(200, _metric_series(_ws(req), "broadcast_id", _broadcast(req)["id"]))


def _trigger_json(trigger: dict[str, Any]) -> dict[str, Any]:
    return {k: trigger[k] for k in ("id", "broadcast_id", "created_at", "processed_at")}


def list_triggers(req: Request) -> Response:
    """GET /v1/broadcasts/{id}/triggers."""
    ws = _ws(req)
    bid = _broadcast(req)["id"]
    return json_response(
        200, {"triggers": [_trigger_json(t) for t in ws.triggers.values() if t["broadcast_id"] == bid]}
    )


def trigger_broadcast(req: Request) -> Response:
    """POST /v1/campaigns/{id}/triggers: queue a trigger (at most 5 queued)."""
    ws = _ws(req)
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
        _check_filter(body["recipients"])
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
        reached = _filter_people(ws, body["recipients"])
    else:
        reached = ws.segment_members(3)  # the broadcast's UI audience: people with an email
    if errors:
        return  # missing people fail the broadcast unless the matching *_ignore_missing flag is set
    for person in reached:
        ws.create_message(type="email", person=person, recipient=person.email, subject=broadcast.get("name"),
                          broadcast_id=trigger["broadcast_id"], trigger_id=trigger["id"],
                          template_id=(broadcast.get("msg_template_ids") or [None])[0])
        trigger["deliveries"] += 1


def _trigger(req: Request) -> dict[str, Any]:
    broadcast = _broadcast(req)
    trigger = _ws(req).triggers.get(_int_param(req, "trigger_id", "trigger"))
    if trigger is None or trigger["broadcast_id"] != broadcast["id"]:
        raise _not_found("trigger")
    return trigger


def get_trigger(req: Request) -> Response:
    """GET /v1/campaigns/{id}/triggers/{trigger_id}: processed_at is set once processed."""
    return json_response(200, _trigger_json(_trigger(req)))


def trigger_errors(req: Request) -> Response:
    """GET /v1/campaigns/{id}/triggers/{trigger_id}/errors: audience problems, paged."""
    chunk, nxt = _page(req, _trigger(req)["errors"], default=10, maximum=100)
    return json_response(200, {"errors": chunk, "next": nxt})


# ------------------------------------------------------------------------------------------- transactional
def _send_error(message: str, status: int = 400) -> ApiError:
    return ApiError(status, message, body={"meta": {"error": message}})


def _template(ws: Workspace, ref: Any, channel: str, auto_create: bool) -> dict[str, Any] | None:
    if ref is None:
        return None
    if isinstance(ref, int) and not isinstance(ref, bool):
        template = ws.templates.get(ref)
        if template is None:
            raise _send_error(f"transactional message {ref} not found", 404)
    elif isinstance(ref, str) and ref.strip():
        matches = [t for t in ws.templates.values() if t["name"].lower() == ref.strip().lower()]
        if matches:
            template = matches[0]
        elif auto_create:
            tid = ws.next_number("template")
            now = ws.now()
            template = ws.templates[tid] = {
                "id": tid, "name": ref.strip(), "description": "", "type": channel, "subject": None,
                "send_to_unsubscribed": True, "link_tracking": True, "open_tracking": True,
                "hide_message_body": False, "queue_drafts": False, "created_at": now, "updated_at": now,
            }
        else:
            raise _send_error(f"transactional message {ref!r} not found", 404)
    else:
        raise _send_error("transactional_message_id must be an integer id or a trigger name")
    if template["type"] != channel:
        raise _send_error(f"transactional message {template['id']} is a {template['type']} message, not {channel}")
    return template


def _send_person(ws: Workspace, identifiers: Any, required: bool) -> Person | None:
    if identifiers is None:
        if required:
            raise _send_error("identifiers is required")
        return None
    if not isinstance(identifiers, dict) or len(identifiers) != 1:
        raise _send_error("identifiers must hold exactly one of id, email or cio_id")
    (key, value), = identifiers.items()
    if key not in ("id", "email", "cio_id"):
        raise _send_error("identifiers must hold exactly one of id, email or cio_id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    problem = identifier_error(value, f"identifiers.{key}")
    if problem:
        raise _send_error(problem)
    person = ws.find(key, value)
    if person is None:
        if key == "cio_id":
            raise _send_error(f"no person has cio_id {value}")
        if ws.is_suppressed(key, value):
            raise _send_error("this person is suppressed")
        person = ws.create_person(**{key: value})
    return person


def _send(req: Request, channel: str) -> Response:
    ws = _ws(req)
    if len(req.body) > MAX_TRANSACTIONAL_BYTES + 2 * 1024 * 1024:
        raise _send_error("the message is larger than 1 MB (plus 2 MB of attachments)")
    try:
        body = req.json_object()
    except ApiError as exc:
        raise _send_error(exc.message) from None
    template = _template(ws, body.get("transactional_message_id"), channel, body.get("auto_create") is True)
    if template is None and channel != "email":
        raise _send_error("transactional_message_id is required")
    person = _send_person(ws, body.get("identifiers"), required=channel != "email")
    recipient: str | None
    if channel == "email":
        to = body.get("to")
        if not isinstance(to, str) or not to.strip():
            raise _send_error("to is required")
        addresses = [a for f in ("to", "cc", "bcc") for a in str(body.get(f) or "").split(",") if a.strip()]
        if len(addresses) > MAX_EMAIL_RECIPIENTS:
            raise _send_error(f"at most {MAX_EMAIL_RECIPIENTS} recipients across to, cc and bcc")
        if template is None and not (body.get("body") and body.get("subject") and body.get("from")):
            raise _send_error("without transactional_message_id, from, subject and body are required")
        recipient = to
    elif channel == "sms":
        to = body.get("to")
        if not isinstance(to, str) or not to.strip():
            raise _send_error("to is required")
        recipient = to
    else:
        to = body.get("to", "all")
        recipient = to if isinstance(to, str) else "all"
        device = body.get("custom_device") or body.get("device")
        if isinstance(device, dict) and person is not None and isinstance(device.get("token"), str):
            ws.upsert_device(person, device["token"], device.get("platform"), device.get("last_used"),
                             device.get("attributes") if isinstance(device.get("attributes"), dict) else {})
    send_to_unsubscribed = body.get("send_to_unsubscribed", True) is not False
    failure = "person is unsubscribed" if (person and person.unsubscribed and not send_to_unsubscribed) else None
    message = ws.create_message(
        type=channel,
        person=person,
        recipient=recipient,
        subject=body.get("subject") or (template or {}).get("subject"),
        template_id=(template or {}).get("id"),
        transactional_id=(template or {}).get("id"),
        failure=failure,
        content={k: body[k] for k in ("message_data", "send_at", "queue_draft") if k in body},
    )
    if body.get("queue_draft") is True:
        message["metrics"] = {"drafted": ws.now()}
    return json_response(200, {"delivery_id": message["id"], "queued_at": ws.now()}, writes=1)


def send_email(req: Request) -> Response:
    """POST /v1/send/email."""
    return _send(req, "email")


def send_push(req: Request) -> Response:
    """POST /v1/send/push."""
    return _send(req, "push")


def send_sms(req: Request) -> Response:
    """POST /v1/send/sms."""
    return _send(req, "sms")


def send_in_app(req: Request) -> Response:
    """POST /v1/send/in_app: in-app is not enabled in the sandbox workspace (403)."""
    raise _send_error("in-app messaging is not enabled in this workspace", 403)


def list_transactional(req: Request) -> Response:
    """GET /v1/transactional: the transactional templates."""
    return json_response(200, {"messages": list(_ws(req).templates.values())})


def get_transactional(req: Request) -> Response:
    """GET /v1/transactional/{id}."""
    template = _ws(req).templates.get(_int_param(req, "transactional_id", "transactional message"))
    if template is None:
        raise _not_found("transactional message")
    return json_response(200, {"message": template})


# ------------------------------------------------------------------------------------------- messages
def list_messages(req: Request) -> Response:
    """GET /v1/messages: all deliveries, newest first."""
    ws = _ws(req)
    kind = req.q("type")
    items = [_public(m) for m in reversed(ws.messages.values()) if not kind or m["type"] == kind]
    chunk, nxt = _page(req, items, default=50, maximum=1000)
    return json_response(200, {"messages": chunk, "next": nxt})


def get_message(req: Request) -> Response:
    """GET /v1/messages/{id}."""
    message = _ws(req).messages.get(req.params["message_id"])
    if message is None:
        raise _not_found("message")
    return json_response(200, {"message": _public(message)})


# ------------------------------------------------------------------------------------------- exports
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
    ws = _ws(req)
    body = req.json_object()
    if "filters" not in body:
        raise ApiError(400, "filters is required")
    people = _filter_people(ws, body["filters"])
    extra = body.get("attributes") or []
    if not isinstance(extra, list) or not all(isinstance(a, str) for a in extra):
        raise ApiError(400, "attributes must be a list of attribute names")
    rows = [{**p.identifiers(), **{a: p.attributes.get(a) for a in extra}} for p in people]
    export = _new_export(ws, "customers", rows, "customers export")
    return json_response(200, {"export": _export_json(export)}, writes=1)


def export_deliveries(req: Request) -> Response:
    """POST /v1/exports/deliveries: export the deliveries of one parent."""
    ws = _ws(req)
    body = req.json_object()
    parents = [k for k in ("newsletter_id", "campaign_id", "broadcast_id", "transactional_message_id") if k in body]
    if len(parents) != 1:
        raise ApiError(400, "name exactly one of newsletter_id, campaign_id, broadcast_id, transactional_message_id")
    key = parents[0]
    rows = [_public(m) for m in ws.messages.values() if m.get(key) == body[key]]
    metric = body.get("metric")
    if metric:
        rows = [m for m in rows if metric in m["metrics"]]
    export = _new_export(ws, "deliveries", rows, f"deliveries export ({key} {body[key]})")
    return json_response(200, {"export": _export_json(export)}, writes=1)


def _export(req: Request) -> dict[str, Any]:
    export = _ws(req).exports.get(_int_param(req, "export_id", "export"))
    if export is None:
        raise _not_found("export")
    return export


def list_exports(req: Request) -> Response:
    """GET /v1/exports."""
    return json_response(200, {"exports": [_export_json(e) for e in _ws(req).exports.values()]})


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


# ------------------------------------------------------------------------------------------- objects
def list_object_types(req: Request) -> Response:
    """GET /v1/object_types."""
    return json_response(200, {"types": list(_ws(req).object_types.values())})


def _object_matches(obj: dict[str, Any], flt: dict[str, Any]) -> bool:
    (key, value), = flt.items()
    if key == "and":
        return all(_object_matches(obj, f) for f in value)
    if key == "or":
        return any(_object_matches(obj, f) for f in value)
    if key == "not":
        return not _object_matches(obj, value)
    attrs = {**obj["attributes"], "object_id": obj["object_id"]}
    if value["operator"] == "exists":
        return value["field"] in attrs
    return attrs.get(value["field"]) == attribute_string(value["value"])


def search_objects(req: Request) -> Response:
    """POST /v1/objects: objects of one type matching an object filter, paged."""
    ws = _ws(req)
    body = req.json_object()
    type_id = body.get("object_type_id")
    if isinstance(type_id, int) and not isinstance(type_id, bool):
        type_id = str(type_id)
    if not isinstance(type_id, str) or not type_id:
        raise ApiError(400, "object_type_id is required")
    flt = body.get("filter")
    if flt is not None:
        _check_filter(flt, object_filter=True)
    objects = [o for (t, _), o in ws.objects.items() if t == type_id and (flt is None or _object_matches(o, flt))]
    chunk, nxt = _page(req, objects, default=50, maximum=1000)
    return json_response(
        200,
        {
            "identifiers": [
                {"object_type_id": o["object_type_id"], "object_id": o["object_id"],
                 "cio_object_id": o["cio_object_id"]}
                for o in chunk
            ],
            "ids": [o["object_id"] for o in chunk],
            "next": nxt,
        },
    )


def _path_object(req: Request) -> dict[str, Any]:
    ws = _ws(req)
    id_type = req.q("id_type", "object_id") or "object_id"
    if id_type not in ("object_id", "cio_object_id"):
        raise ApiError(400, "id_type must be object_id or cio_object_id")
    type_id, value = req.params["object_type_id"], req.params["object_id"]
    obj = ws.find_object({"cio_object_id": value} if id_type == "cio_object_id" else
                         {"object_type_id": type_id, "object_id": value})
    if obj is None or obj["object_type_id"] != type_id:
        raise _not_found("object")
    return obj


def object_attributes(req: Request) -> Response:
    """GET /v1/objects/{type}/{id}/attributes."""
    return json_response(200, {"object": _path_object(req)})


def object_relationships(req: Request) -> Response:
    """GET /v1/objects/{type}/{id}/relationships: the people related to an object."""
    ws = _ws(req)
    obj = _path_object(req)
    items = []
    for (t, o, cio_id), rel in ws.relationships.items():
        person = ws.people.get(cio_id)
        if t == obj["object_type_id"] and o == obj["object_id"] and person is not None:
            items.append({"identifiers": person.identifiers(), "relationship_attributes": rel["attributes"]})
    chunk, nxt = _page(req, items, default=10, maximum=1000)
    return json_response(200, {"cio_relationships": chunk, "next": nxt})


# ------------------------------------------------------------------------------------------- table
def _table() -> list[tuple[str, str, Any, dict[str, Any]]]:
    send = {"rate_class": "transactional"}
    return [
        ("GET", "customers", find_by_email, {}),
        ("POST", "customers", search_people, {}),
        ("POST", "customers/attributes", people_attributes, {}),
        ("GET", "customers/{customer_id}/attributes", person_attributes, {}),
        ("GET", "customers/{customer_id}/segments", person_segments, {}),
        ("GET", "customers/{customer_id}/messages", person_messages, {}),
        ("GET", "customers/{customer_id}/activities", person_activities, {}),
        ("GET", "customers/{customer_id}/relationships", person_relationships, {}),
        ("GET", "activities", all_activities, {}),
        ("GET", "segments", list_segments, {}),
        ("POST", "segments", create_segment, {}),
        ("GET", "segments/{segment_id}", get_segment, {}),
        ("DELETE", "segments/{segment_id}", delete_segment, {}),
        ("GET", "segments/{segment_id}/customer_count", segment_count, {}),
        ("GET", "segments/{segment_id}/membership", segment_membership, {}),
        ("GET", "campaigns", list_campaigns, {}),
        ("GET", "campaigns/{campaign_id}", get_campaign, {}),
        ("GET", "campaigns/{campaign_id}/metrics", campaign_metrics, {}),
        ("POST", "campaigns/{broadcast_id}/triggers", trigger_broadcast, {"rate_class": "broadcast_trigger"}),
        ("GET", "campaigns/{broadcast_id}/triggers/{trigger_id}", get_trigger, {}),
        ("GET", "campaigns/{broadcast_id}/triggers/{trigger_id}/errors", trigger_errors, {}),
        ("GET", "broadcasts", list_broadcasts, {}),
        ("GET", "broadcasts/{broadcast_id}", get_broadcast, {}),
        ("GET", "broadcasts/{broadcast_id}/triggers", list_triggers, {}),
        ("GET", "broadcasts/{broadcast_id}/metrics", broadcast_metrics, {}),
        ("POST", "send/email", send_email, send),
        ("POST", "send/push", send_push, send),
        ("POST", "send/sms", send_sms, send),
        ("POST", "send/in_app", send_in_app, send),
        ("GET", "transactional", list_transactional, {}),
        ("GET", "transactional/{transactional_id}", get_transactional, {}),
        ("GET", "messages", list_messages, {}),
        ("GET", "messages/{message_id}", get_message, {}),
        ("GET", "exports", list_exports, {}),
        ("POST", "exports/customers", export_customers, {}),
        ("POST", "exports/deliveries", export_deliveries, {}),
        ("GET", "exports/{export_id}", get_export, {}),
        ("GET", "exports/{export_id}/download", download_export, {}),
        ("GET", "object_types", list_object_types, {}),
        ("POST", "objects", search_objects, {}),
        ("GET", "objects/{object_type_id}/{object_id}/attributes", object_attributes, {}),
        ("GET", "objects/{object_type_id}/{object_id}/relationships", object_relationships, {}),
    ]


def routes(prefix: str = "v1") -> Router:
    """The App route table under `prefix` (`v1` for App, `v1/api` for Beta)."""
    table: list[Route] = [
        route(method, f"{prefix}/{path}", handler, rate_class=policy.get("rate_class", "app"))
        for method, path, handler, policy in _table()
    ]
    return Router(table)
