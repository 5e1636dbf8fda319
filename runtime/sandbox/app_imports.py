"""App API CSV imports (`/v1/imports`): people and events from a `data:` URL, applied at once; status by id.

The sandbox has no network, so an http(s) `data_file_url` gives an import in state `failed` that
says so; a `data:` URL (`data:text/csv;base64,...` or percent-encoded) is read and its rows applied
through the same identify and event rules as Track. Object and relationship imports are accepted
and fail with a reason: the sandbox does not apply them.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from typing import Any
from urllib.parse import unquote_to_bytes

from .app_common import lookup, workspace_of
from .messages import ApiError, Request, Response, json_response
from .state import Workspace

TYPES = ("people", "event", "object", "relationship")
PROCESS = ("all", "only_new", "only_existing")


def _spec(body: dict[str, Any]) -> dict[str, Any]:
    spec = body.get("import")
    if not isinstance(spec, dict):
        raise ApiError(400, "import is required (an object)")
    for name in ("name", "data_file_url"):
        if not isinstance(spec.get(name), str) or not spec[name].strip():
            raise ApiError(400, f"import.{name} is required")
    kind = spec.get("type")
    if kind not in TYPES:
        raise ApiError(400, f"import.type must be one of {', '.join(TYPES)}")
    allowed = ("id", "email", "cio_id") if kind == "relationship" else ("id", "email")
    if kind == "object":
        if spec.get("object_type_id") in (None, ""):
            raise ApiError(400, "import.object_type_id is required for an object import")
    elif spec.get("identifier") not in allowed:
        raise ApiError(400, f"import.identifier must be one of {', '.join(allowed)}")
    process = spec.get("data_to_process", "all")
    if process not in (("all", "only_existing") if kind == "event" else PROCESS):
        raise ApiError(400, f"import.data_to_process {process!r} is not allowed for a {kind} import")
    if not spec["data_file_url"].startswith(("data:", "https://", "http://")):
        raise ApiError(400, "import.data_file_url must be an http(s) or data: URL")
    return {**spec, "data_to_process": process}


def _rows(url: str) -> list[dict[str, str]]:
    """The CSV rows of a `data:` URL (ValueError when it cannot be read)."""
    meta, sep, payload = url[5:].partition(",")
    if not sep:
        raise ValueError("the data: URL has no comma before its data")
    try:
        raw = base64.b64decode(payload, validate=True) if meta.endswith(";base64") else unquote_to_bytes(payload)
        text = raw.decode("utf-8-sig")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"the data: URL is not base64 or UTF-8 text ({type(exc).__name__})") from None
    return list(csv.DictReader(io.StringIO(text)))


def _apply(ws: Workspace, record: dict[str, Any], rows: list[dict[str, str]]) -> int:
    """Apply each row; the number applied (rows without an identifier, or filtered out, are not)."""
    key, process, applied = record["identifier"], record["data_to_process"], 0
    for row in rows:
        value = (row.get(key) or "").strip()
        if not value or (process == "only_new" and ws.find(key, value) is not None):
            continue
        values = {k: v for k, v in row.items() if k and k != key and v not in (None, "")}
        if record["type"] == "people":
            person, _ = ws.identify(key, value, values, update_only=process == "only_existing", source="import")
        else:
            name = values.pop("name", "")
            person = ws.find(key, value)
            if not name or (person is None and process == "only_existing"):
                continue
            if person is None:
                person, _ = ws.identify(key, value, {}, source="import")
            if person is None:
                continue  # a suppressed identifier
            timestamp = values.pop("timestamp", "")
            ws.add_event(name=name, data=values, person=person, source="import",
                         timestamp=int(timestamp) if timestamp.isdigit() else None)
        applied += person is not None
    return applied


def create_import(req: Request) -> Response:
    """POST /v1/imports: `{"import": {name, data_file_url, type, identifier | object_type_id, ...}}`."""
    ws = workspace_of(req)
    spec = _spec(req.json_object())
    now = ws.now()
    iid = ws.next_number("import")
    record: dict[str, Any] = {
        "id": iid, "created_at": now, "updated_at": now, "name": spec["name"],
        "description": spec.get("description", ""), "type": spec["type"], "identifier": spec.get("identifier"),
        "object_type_id": spec.get("object_type_id"), "data_to_process": spec["data_to_process"],
        "people_to_process": spec["data_to_process"], "rows_to_import": 0, "rows_imported": 0,
        "state": "failed", "error": None}
    if not spec["data_file_url"].startswith("data:"):
        record["error"] = "the sandbox cannot download data_file_url (it has no network); use a data: URL"
    elif spec["type"] not in ("people", "event"):
        record["error"] = f"the sandbox does not apply {spec['type']} imports"
    else:
        try:
            rows = _rows(spec["data_file_url"])
        except (ValueError, csv.Error) as exc:
            record["error"] = str(exc)
        else:
            if rows and record["identifier"] not in rows[0]:
                record["error"] = f"the CSV has no {record['identifier']} column"
            else:
                record.update(rows_to_import=len(rows), rows_imported=_apply(ws, record, rows), state="imported")
    ws.imports[iid] = record
    return json_response(200, {"import": record}, writes=1)


def get_import(req: Request) -> Response:
    """GET /v1/imports/{import_id}."""
    return json_response(200, {"import": lookup(req, workspace_of(req).imports, "import_id", "import")})
