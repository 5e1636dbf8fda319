"""App API objects: object types, object search, object attributes and relationships."""

from __future__ import annotations

from typing import Any

from .app_common import not_found, page, workspace_of
from .audience import check_filter, object_matches
from .messages import ApiError, Request, Response, json_response


def list_object_types(req: Request) -> Response:
    """GET /v1/object_types."""
    return json_response(200, {"types": list(workspace_of(req).object_types.values())})


def search_objects(req: Request) -> Response:
    """POST /v1/objects: objects of one type matching an object filter, paged."""
    ws = workspace_of(req)
    body = req.json_object()
    type_id = body.get("object_type_id")
    if isinstance(type_id, int) and not isinstance(type_id, bool):
        type_id = str(type_id)
    if not isinstance(type_id, str) or not type_id:
        raise ApiError(400, "object_type_id is required")
    flt = body.get("filter")
    if flt is not None:
        check_filter(flt, object_filter=True)
    objects = [o for (t, _), o in ws.objects.items() if t == type_id and (flt is None or object_matches(o, flt))]
    chunk, nxt = page(req, objects, default=50, maximum=1000)
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
    ws = workspace_of(req)
    id_type = req.q("id_type", "object_id") or "object_id"
    if id_type not in ("object_id", "cio_object_id"):
        raise ApiError(400, "id_type must be object_id or cio_object_id")
    type_id, value = req.params["object_type_id"], req.params["object_id"]
    obj = ws.find_object({"cio_object_id": value} if id_type == "cio_object_id" else
                         {"object_type_id": type_id, "object_id": value})
    if obj is None or obj["object_type_id"] != type_id:
        raise not_found("object")
    return obj


def object_attributes(req: Request) -> Response:
    """GET /v1/objects/{type}/{id}/attributes."""
    return json_response(200, {"object": _path_object(req)})


def object_relationships(req: Request) -> Response:
    """GET /v1/objects/{type}/{id}/relationships: the people related to an object."""
    ws = workspace_of(req)
    obj = _path_object(req)
    items = []
    for (t, o, cio_id), rel in ws.relationships.items():
        person = ws.people.get(cio_id)
        if t == obj["object_type_id"] and o == obj["object_id"] and person is not None:
            items.append({"identifiers": person.identifiers(), "relationship_attributes": rel["attributes"]})
    chunk, nxt = page(req, items, default=10, maximum=1000)
    return json_response(200, {"cio_relationships": chunk, "next": nxt})
