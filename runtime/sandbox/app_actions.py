"""Campaign and broadcast actions: list, get, update content, language variants, per-action metrics.

One set of handlers serves both parents (`/v1/campaigns/{campaign_id}/actions/...` and
`/v1/broadcasts/{broadcast_id}/actions/...`); an action answers only under the parent it belongs to.
An update replaces the fields it gives, so sending the same update twice leaves the same action.
"""

from __future__ import annotations

import json
from typing import Any

from .app_common import int_param, not_found, page, workspace_of
from .app_deliveries import check_window, deliveries, flag, link_metrics, parent_of, series
from .messages import ApiError, Request, Response, json_response

#: What an update may change, per action type (Customer.io's action objects; the rest is read-only).
WRITABLE = {
    "email": ("body", "subject", "preheader_text", "body_amp", "from_id", "reply_to_id", "recipient",
              "sending_state", "headers"),
    "twilio": ("body", "image_url", "recipient", "sending_state"),
    "webhook": ("body", "url", "headers", "method", "sending_state"),
}
_ANY_TYPE = {name for names in WRITABLE.values() for name in names}
_STRINGS = ("body", "subject", "preheader_text", "body_amp", "recipient", "image_url", "url")
SENDING_STATES = ("automatic", "draft", "off")
METHODS = ("get", "post", "put", "delete", "patch")
#: Headers an action cannot set (Customer.io: "You can't overwrite reserved headers").
RESERVED_HEADERS = frozenset({"from", "to", "cc", "bcc", "subject", "reply-to", "sender", "date", "message-id",
                              "content-type", "content-transfer-encoding", "mime-version", "return-path"})


def _action(req: Request) -> dict[str, Any]:
    key, parent = parent_of(req)
    action = workspace_of(req).actions.get(int_param(req, "action_id", "action"))
    if action is None or action.get(key) != parent["id"]:
        raise not_found("action")
    return action


def _variant(req: Request) -> dict[str, Any]:
    action = _action(req)
    language = req.params["language"]
    variant = workspace_of(req).action_translations.get((action["id"], language))
    if variant is None:
        # Customer.io answers a language the action has no variant in with a 400, not a 404.
        raise ApiError(400, f"the action has no {language!r} language variant")
    return variant


def list_actions(req: Request) -> Response:
    """GET /v1/{campaigns|broadcasts}/{id}/actions: the parent's actions in their default language, paged."""
    key, parent = parent_of(req)
    items = [a for a in workspace_of(req).actions.values() if a.get(key) == parent["id"]]
    chunk, nxt = page(req, items, default=10, maximum=100)
    return json_response(200, {"actions": chunk, "next": nxt})


def get_action(req: Request) -> Response:
    """GET /v1/{campaigns|broadcasts}/{id}/actions/{action_id}."""
    return json_response(200, {"action": _action(req)})


def get_translation(req: Request) -> Response:
    """GET .../actions/{action_id}/language/{language}: one language variant."""
    return json_response(200, {"action": _variant(req)})


def _headers(value: Any, current: str) -> str:
    """Merge headers to add or update into the stored JSON string, by case-insensitive name.

    An update sends a list; the JSON string a read returns is taken too, so a read sent back works.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ApiError(400, "headers must be a list of {name, value} objects") from None
    if not isinstance(value, list):
        raise ApiError(400, "headers must be a list of {name, value} objects")
    try:
        merged = {h["name"].lower(): h for h in json.loads(current or "[]")}
    except (ValueError, TypeError, KeyError):
        merged = {}
    for header in value:
        if not isinstance(header, dict) or set(header) != {"name", "value"}:
            raise ApiError(400, "each header must be an object with name and value")
        for part in ("name", "value"):
            text = header[part]
            if not isinstance(text, str) or not text or not text.isascii() or " " in text:
                raise ApiError(400, f"header {part}s must be non-empty ASCII strings without spaces")
        if header["name"].lower() in RESERVED_HEADERS:
            raise ApiError(400, f"{header['name']} is a reserved header")
        merged[header["name"].lower()] = {"name": header["name"], "value": header["value"]}
    return json.dumps(list(merged.values()), separators=(",", ":"))


def _changes(body: dict[str, Any], action: dict[str, Any], senders: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The fields an update sets, checked; read-only fields it repeats (a GET sent back) are ignored."""
    writable = WRITABLE.get(action["type"], ())
    changes: dict[str, Any] = {}
    for name in sorted(_ANY_TYPE & set(body)):
        value = body[name]
        if name not in writable:
            raise ApiError(400, f"{name} does not apply to a {action['type']} action")
        if name in _STRINGS and not isinstance(value, str):
            raise ApiError(400, f"{name} must be a string")
        if name in ("from_id", "reply_to_id"):
            sender = senders.get(value) if isinstance(value, int) and not isinstance(value, bool) else None
            if sender is None or sender["template_type"] != "email":
                raise ApiError(400, f"{name} must be the id of one of the workspace's email sender identities")
            changes[name.removesuffix("_id")] = sender["address"]
        elif name == "sending_state" and value not in SENDING_STATES:
            raise ApiError(400, f"sending_state must be one of {', '.join(SENDING_STATES)}")
        elif name == "method" and value not in METHODS:
            raise ApiError(400, f"method must be one of {', '.join(METHODS)}")
        elif name == "url" and not value.startswith(("http://", "https://")):
            raise ApiError(400, "url must be an http or https URL")
        elif name == "headers":
            value = _headers(value, action.get("headers", "[]"))
        changes[name] = value
    return changes


def _update(req: Request, record: dict[str, Any]) -> Response:
    changes = _changes(req.json_object(), record, workspace_of(req).sender_identities)
    record.update(changes)
    record["updated"] = workspace_of(req).now()
    return json_response(200, {"action": record}, writes=1 if changes else 0)


def update_action(req: Request) -> Response:
    """PUT /v1/{campaigns|broadcasts}/{id}/actions/{action_id}: change the default-language content."""
    return _update(req, _action(req))


def update_translation(req: Request) -> Response:
    """PUT .../actions/{action_id}/language/{language}: change an existing language variant (never creates one)."""
    return _update(req, _variant(req))


def action_metrics(req: Request) -> Response:
    """GET .../actions/{action_id}/metrics: counts per metric of the action's deliveries."""
    key, action = parent_of(req)[0], _action(req)
    check_window(req, "res", required=False)
    return json_response(200, series(deliveries(workspace_of(req), key, action[key], action["id"])))


def action_link_metrics(req: Request) -> Response:
    """GET .../actions/{action_id}/metrics/links: clicks per link of the action's deliveries."""
    key, action = parent_of(req)[0], _action(req)
    ws = workspace_of(req)
    return json_response(200, link_metrics(ws, deliveries(ws, key, action[key], action["id"]),
                                           unique=flag(req, "unique")))
