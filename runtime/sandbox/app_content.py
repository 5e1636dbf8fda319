"""App API reusable content: snippets (create or update by name, delete unless in use) and sender identities."""

from __future__ import annotations

from .app_common import lookup, not_found, page, sorted_by_id, workspace_of
from .app_newsletters import LIQUID
from .messages import ApiError, Request, Response, empty_response, json_response
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
