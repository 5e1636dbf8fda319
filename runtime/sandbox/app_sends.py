"""App API transactional sends (`/v1/send/*`), transactional templates and deliveries (`/v1/messages`)."""

from __future__ import annotations

from typing import Any

from .app_archive import SENT_FIELDS
from .app_common import lookup, not_found, page, public_message, workspace_of
from .limits import MAX_EMAIL_RECIPIENTS, MAX_TRANSACTIONAL_BYTES, identifier_error
from .messages import ApiError, Request, Response, json_response
from .person import Person
from .state import Workspace


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
    ws = workspace_of(req)
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
        content={k: body[k] for k in ("message_data", "send_at", "queue_draft", *SENT_FIELDS) if k in body},
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


def send_whatsapp(req: Request) -> Response:
    """POST /v1/send/whatsapp: the sandbox workspace has no WhatsApp sender (403)."""
    raise _send_error("WhatsApp messaging is not enabled in this workspace", 403)


def send_inbox_message(req: Request) -> Response:
    """POST /v1/send/inbox_message: the sandbox workspace has no inbox channel (403)."""
    raise _send_error("inbox messaging is not enabled in this workspace", 403)


def list_transactional(req: Request) -> Response:
    """GET /v1/transactional: the transactional templates."""
    return json_response(200, {"messages": list(workspace_of(req).templates.values())})


def get_transactional(req: Request) -> Response:
    """GET /v1/transactional/{id}."""
    template = lookup(req, workspace_of(req).templates, "transactional_id", "transactional message")
    return json_response(200, {"message": template})


def list_messages(req: Request) -> Response:
    """GET /v1/messages: all deliveries, newest first."""
    ws = workspace_of(req)
    kind = req.q("type")
    items = [public_message(m) for m in reversed(ws.messages.values()) if not kind or m["type"] == kind]
    chunk, nxt = page(req, items, default=50, maximum=1000)
    return json_response(200, {"messages": chunk, "next": nxt})


def get_message(req: Request) -> Response:
    """GET /v1/messages/{id}."""
    message = workspace_of(req).messages.get(req.params["message_id"])
    if message is None:
        raise not_found("message")
    return json_response(200, {"message": public_message(message)})
