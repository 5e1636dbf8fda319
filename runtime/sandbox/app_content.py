"""App API reusable content: snippets (upsert by name, delete unless in use), sender identities and collections."""

from __future__ import annotations

from typing import Any

from .app_common import lookup, not_found, page, sorted_by_id, workspace_of
from .app_newsletters import LIQUID
from .messages import ApiError, Request, Response, dumps, empty_response, json_response
from .state import Workspace

MAX_SNIPPET_NAME = 150
MAX_SNIPPET_VALUE = 16000  # Customer.io's default; the real limit is set per environment


def snippet_users(ws: Workspace, name: str) -> list[int]:
    """The newsletters whose content variants reference `{{ snippets.NAME }}`."""
    return sorted({content["newsletter_id"] for content in ws.contents.values()
                   for field in ("body", "subject", "preheader_text")
                   for kind, used in LIQUID.findall(content.get(field) or "")
                   if kind == "snippets" and used == name})


def list_snippets(req: Request) -> Response:
    """GET /v1/snippets."""
    return json_response(200, {"snippets": list(workspace_of(req).snippets.values())})


def put_snippet(req: Request) -> Response:
    """PUT /v1/snippets: create the snippet `name`, or replace its value; both are trimmed."""
    ws = workspace_of(req)
    body = req.json_object()
    name, value = body.get("name"), body.get("value")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "name is required")
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "value is required")
    name, value = name.strip(), value.strip()
    if len(name) > MAX_SNIPPET_NAME:
        raise ApiError(400, f"name is longer than {MAX_SNIPPET_NAME} characters")
    if len(value) > MAX_SNIPPET_VALUE:
        raise ApiError(400, f"value is longer than {MAX_SNIPPET_VALUE} characters")
    ws.snippets[name] = {"name": name, "value": value, "updated_at": ws.now()}
    return json_response(200, {"snippet": ws.snippets[name]}, writes=1)


def delete_snippet(req: Request) -> Response:
    """DELETE /v1/snippets/{snippet_name}: 404 when unknown, 400 while a newsletter's content uses it."""
    ws = workspace_of(req)
    name = req.params["snippet_name"]
    if name not in ws.snippets:
        raise not_found("snippet")
    users = snippet_users(ws, name)
    if users:
        raise ApiError(400, f"the snippet is in use by newsletter {', '.join(map(str, users))}")
    del ws.snippets[name]
    return empty_response(204, writes=1)


def list_sender_identities(req: Request) -> Response:
    """GET /v1/sender_identities: paged, `sort=asc` (the default) or `desc`."""
    senders = sorted_by_id(req, workspace_of(req).sender_identities.values())
    chunk, nxt = page(req, senders, default=50, maximum=1000)
    return json_response(200, {"sender_identities": chunk, "next": nxt})


def get_sender_identity(req: Request) -> Response:
    """GET /v1/sender_identities/{sender_id}."""
    sender = lookup(req, workspace_of(req).sender_identities, "sender_id", "sender identity")
    return json_response(200, {"sender_identity": sender})


# ------------------------------------------------------------------------------------------- collections
def _collection_data(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        raise ApiError(400, "data must be a JSON array of objects")
    return value


def _collection_fields(ws: Workspace, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    if "url" in body:
        raise ApiError(400, "the sandbox cannot download a url (it has no network); send the rows as data")
    fields: dict[str, Any] = {}
    if "name" in body or current is None:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ApiError(400, "name is required")
        if any(c["name"] == name.strip() and c is not current for c in ws.collections.values()):
            raise ApiError(400, f"a collection named {name.strip()!r} exists")
        fields["name"] = name.strip()
    if "data" in body or current is None:
        fields["_data"] = _collection_data(body.get("data"))
    if not fields:
        raise ApiError(400, "nothing to update: give name or data")
    return fields


def _with_data(record: dict[str, Any], now: int) -> dict[str, Any]:
    """Refresh what a collection's rows decide: size, row count and top-level keys."""
    data = record["_data"]
    record.update(bytes=len(dumps(data)), rows=len(data), schema=sorted({k for row in data for k in row}),
                  updated_at=now)
    return record


def public_collection(record: dict[str, Any]) -> dict[str, Any]:
    """A collection as the App API shows it (without its rows)."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def list_collections(req: Request) -> Response:
    """GET /v1/collections."""
    return json_response(200, {"collections": [public_collection(c) for c in workspace_of(req).collections.values()]})


def create_collection(req: Request) -> Response:
    """POST /v1/collections: a name and its rows (`data`); a `url` needs a network the sandbox lacks (400)."""
    ws = workspace_of(req)
    fields = _collection_fields(ws, req.json_object(), None)
    cid = ws.next_number("collection")
    ws.collections[cid] = _with_data({"id": cid, "created_at": ws.now(), **fields}, ws.now())
    return json_response(200, {"collection": public_collection(ws.collections[cid])}, writes=1)


def _collection(req: Request) -> dict[str, Any]:
    return lookup(req, workspace_of(req).collections, "collection_id", "collection")


def get_collection(req: Request) -> Response:
    """GET /v1/collections/{collection_id}."""
    return json_response(200, {"collection": public_collection(_collection(req))})


def update_collection(req: Request) -> Response:
    """PUT /v1/collections/{collection_id}: a new name, new rows, or both."""
    ws = workspace_of(req)
    record = _collection(req)
    record.update(_collection_fields(ws, req.json_object(), record))
    return json_response(200, {"collection": public_collection(_with_data(record, ws.now()))}, writes=1)


def delete_collection(req: Request) -> Response:
    """DELETE /v1/collections/{collection_id}."""
    ws = workspace_of(req)
    ws.collections.pop(_collection(req)["id"])
    return empty_response(204, writes=1)


def collection_content(req: Request) -> Response:
    """GET /v1/collections/{collection_id}/content: the rows (the `content` wrapper is the sandbox's choice)."""
    return json_response(200, {"content": _collection(req)["_data"]})


def replace_collection_content(req: Request) -> Response:
    """PUT /v1/collections/{collection_id}/content: the body is the new rows (an array of objects)."""
    ws = workspace_of(req)
    record = _collection(req)
    record["_data"] = _collection_data(req.json())
    return json_response(200, {"collection": public_collection(_with_data(record, ws.now()))}, writes=1)
