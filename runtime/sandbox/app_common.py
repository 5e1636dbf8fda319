"""Shared pieces of the App API handlers: error shape, path parameters, cursor paging, the path person."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from .messages import ApiError, Request
from .person import Person
from .state import Workspace


def error_body(status: int, message: str) -> dict[str, Any]:
    """The App API's general error shape (status as a string, as in the recorded 404s)."""
    return {"errors": [{"detail": message, "status": str(status)}]}


def workspace_of(req: Request) -> Workspace:
    """The workspace a request acts on, typed."""
    ws: Workspace = req.ws
    return ws


def not_found(what: str) -> ApiError:
    """The App API 404 for a missing resource."""
    return ApiError(404, f"{what} not found", outcome="not_found")


def int_param(req: Request, name: str, what: str) -> int:
    """An integer path parameter; a non-number is a 404 like an unknown id."""
    try:
        return int(req.params[name])
    except ValueError:
        raise not_found(what) from None


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


def page(req: Request, items: list[Any], *, default: int, maximum: int) -> tuple[list[Any], str]:
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


def lookup(req: Request, table: dict[int, dict[str, Any]], param: str, what: str) -> dict[str, Any]:
    """The record an integer path parameter names, or the App API 404."""
    record = table.get(int_param(req, param, what))
    if record is None:
        raise not_found(what)
    return record


def id_type_param(req: Request, allowed: tuple[str, ...] = ("id", "email", "cio_id")) -> str:
    """The `id_type` query parameter (default `id`); phone identifiers are not enabled."""
    id_type = req.q("id_type", "id") or "id"
    if id_type == "phone":
        raise ApiError(400, "phone identifiers are not enabled in this workspace")
    if id_type not in allowed:
        raise ApiError(400, f"id_type must be one of {', '.join(allowed)}")
    return id_type


def path_person(req: Request) -> Person:
    """The person named by the `{customer_id}` path parameter and `id_type`, or a 404."""
    ws = workspace_of(req)
    id_type = id_type_param(req)
    value = req.params["customer_id"]
    if id_type == "cio_id" and value.startswith("cio_"):
        value = value[4:]
    person = ws.find(id_type, value)
    if person is None:
        raise not_found("customer")
    return person


def public_message(message: dict[str, Any]) -> dict[str, Any]:
    """A delivery as the App API shows it (without the sandbox-only keys)."""
    return {k: v for k, v in message.items() if k not in ("cio_id", "content")}


def sorted_by_id(req: Request, records: Any) -> list[dict[str, Any]]:
    """Records in id order as the `sort` query asks: `asc` (oldest first, the default) or `desc`."""
    sort = req.q("sort", "asc") or "asc"
    if sort not in ("asc", "desc"):
        raise ApiError(400, "sort must be asc or desc")
    return sorted(records, key=lambda record: record["id"], reverse=sort == "desc")
