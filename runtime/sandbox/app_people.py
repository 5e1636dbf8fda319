"""App API reads of people (attributes, segments, messages, activities, relationships) and segments."""

from __future__ import annotations

from typing import Any

from .app_common import id_type_param, lookup, page, path_person, public_message, workspace_of
from .audience import people_from_body
from .limits import MAX_ATTRIBUTE_LOOKUP_IDS
from .messages import ApiError, Request, Response, empty_response, json_response
from .person import Person
from .state import Workspace


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


def find_by_email(req: Request) -> Response:
    """GET /v1/customers?email=: identifiers of the people with that email."""
    ws = workspace_of(req)
    email = req.q("email")
    if not email:
        raise ApiError(400, "the email query parameter is required")
    people = [p for p in ws.people.values() if p.email and p.email.lower() == email.lower()]
    return json_response(200, {"results": [p.identifiers() for p in people]})


def search_people(req: Request) -> Response:
    """POST /v1/customers: people matching an audience filter, paged."""
    _, people = people_from_body(req, "filter")
    chunk, nxt = page(req, people, default=50, maximum=1000)
    return json_response(
        200, {"identifiers": [p.identifiers() for p in chunk], "ids": [p.id or "" for p in chunk], "next": nxt}
    )


def person_attributes(req: Request) -> Response:
    """GET /v1/customers/{id}/attributes: one person, attributes as strings."""
    return json_response(200, {"customer": customer_json(path_person(req))})


def people_attributes(req: Request) -> Response:
    """POST /v1/customers/attributes: up to 100 people; unknown ids are left out."""
    ws = workspace_of(req)
    id_type = id_type_param(req)
    ids = req.json_object().get("ids")
    if not isinstance(ids, list) or not ids:
        raise ApiError(400, "ids must be a non-empty list")
    if len(ids) > MAX_ATTRIBUTE_LOOKUP_IDS:
        raise ApiError(400, f"at most {MAX_ATTRIBUTE_LOOKUP_IDS} ids per request")
    found = [ws.find(id_type, str(i)) for i in ids if isinstance(i, (str, int)) and not isinstance(i, bool)]
    return json_response(200, {"customers": [{"customer": customer_json(p)} for p in found if p is not None]})


def person_segments(req: Request) -> Response:
    """GET /v1/customers/{id}/segments: the segments a person belongs to."""
    person = path_person(req)
    return json_response(200, {"segments": workspace_of(req).segments_of(person)})


def person_messages(req: Request) -> Response:
    """GET /v1/customers/{id}/messages: a person's deliveries, newest first."""
    ws = workspace_of(req)
    person = path_person(req)
    items = [public_message(m) for m in reversed(ws.messages.values()) if m.get("cio_id") == person.cio_id]
    chunk, nxt = page(req, items, default=10, maximum=1000)
    return json_response(200, {"messages": chunk, "next": nxt})


def _activities(req: Request, person: Person | None) -> Response:
    ws = workspace_of(req)
    kind, name = req.q("type"), req.q("name")
    items = [
        {k: v for k, v in a.items() if k != "cio_id"}
        for a in reversed(ws.activities)
        if (person is None or a["cio_id"] == person.cio_id)
        and (not kind or a["type"] == kind)
        and (not name or a["name"] == name)
    ]
    chunk, nxt = page(req, items, default=10, maximum=100)
    return json_response(200, {"activities": chunk, "next": nxt})


def person_activities(req: Request) -> Response:
    """GET /v1/customers/{id}/activities: a person's activity log, newest first."""
    return _activities(req, path_person(req))


def all_activities(req: Request) -> Response:
    """GET /v1/activities: the workspace's activity log, optionally for one customer."""
    customer = req.q("customer_id")
    person = None
    if customer:
        id_type = id_type_param(req)
        if customer.startswith("cio_"):
            id_type, customer = "cio_id", customer[4:]
        person = workspace_of(req).find(id_type, customer)
        if person is None:
            return json_response(200, {"activities": [], "next": ""})
    return _activities(req, person)


def person_relationships(req: Request) -> Response:
    """GET /v1/customers/{id}/relationships: the objects a person is related to."""
    ws = workspace_of(req)
    person = path_person(req)
    items = [
        {"identifiers": {"object_type_id": t, "object_id": o}, "relationship_attributes": r["attributes"]}
        for (t, o, c), r in ws.relationships.items()
        if c == person.cio_id
    ]
    chunk, nxt = page(req, items, default=10, maximum=1000)
    return json_response(200, {"cio_relationships": chunk, "next": nxt})


def _segment(req: Request) -> dict[str, Any]:
    return lookup(req, workspace_of(req).segments, "segment_id", "segment")


def list_segments(req: Request) -> Response:
    """GET /v1/segments."""
    ws = workspace_of(req)
    return json_response(200, {"segments": [ws.public_segment(s) for _, s in sorted(ws.segments.items())]})


def get_segment(req: Request) -> Response:
    """GET /v1/segments/{id}."""
    return json_response(200, {"segment": Workspace.public_segment(_segment(req))})


def create_segment(req: Request) -> Response:
    """POST /v1/segments: create an empty manual segment."""
    ws = workspace_of(req)
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
    ws = workspace_of(req)
    segment = _segment(req)
    ws.segments.pop(segment["id"], None)
    ws.memberships.pop(segment["id"], None)
    return empty_response(204, writes=1)


def segment_count(req: Request) -> Response:
    """GET /v1/segments/{id}/customer_count."""
    segment = _segment(req)
    count = len(workspace_of(req).segment_members(segment["id"]))
    return json_response(200, {"segment_id": segment["id"], "count": count})


def segment_membership(req: Request) -> Response:
    """GET /v1/segments/{id}/membership: members' identifiers, paged."""
    segment = _segment(req)
    people = workspace_of(req).segment_members(segment["id"])
    chunk, nxt = page(req, people, default=1000, maximum=30000)
    return json_response(
        200, {"identifiers": [p.identifiers() for p in chunk], "ids": [p.id or "" for p in chunk], "next": nxt}
    )
