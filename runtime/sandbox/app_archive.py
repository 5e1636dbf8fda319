"""App API archived deliveries (`/v1/messages/{id}/archived_message`): what one delivery actually sent.

A delivery keeps the rendered content it went out with (sandbox-only `content`), so the archive shows
that and not the template or newsletter variant as it reads today.
"""

from __future__ import annotations

from typing import Any

from .app_common import not_found, workspace_of
from .messages import Request, Response, json_response

#: The content fields a delivery keeps for its archive (a send's body fields, a newsletter's variant).
ARCHIVED_FIELDS = ("body", "from", "reply_to", "cc", "bcc", "preheader_text", "headers")
#: What a transactional send keeps: the same, with the preheader under the send API's name.
SENT_FIELDS = (*ARCHIVED_FIELDS, "preheader")


def archived_json(message: dict[str, Any]) -> dict[str, Any]:
    """The archived copy of one delivery (Customer.io's archivedMessageObject)."""
    content = message.get("content") or {}
    archived: dict[str, Any] = {"id": message["id"], "recipient": message.get("recipient"),
                                "subject": message.get("subject"), "forgotten": message.get("forgotten", False),
                                "fake_bcc": False, "url": None, "request_method": None}
    for name in ARCHIVED_FIELDS:
        archived[name] = content.get(name, "" if name == "body" else None)
    if archived["preheader_text"] is None:
        archived["preheader_text"] = content.get("preheader")
    return archived


def archived_message(req: Request) -> Response:
    """GET /v1/messages/{message_id}/archived_message (the wrapper key is the sandbox's choice)."""
    message = workspace_of(req).messages.get(req.params["message_id"])
    if message is None:
        raise not_found("message")
    return json_response(200, {"archived_message": archived_json(message)})
