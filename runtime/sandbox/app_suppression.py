"""App API ESP suppression: the addresses the email service provider refuses, by reason, and adding or removing one.

Kept apart from Track's suppression of people (`state()["suppressions"]`): this list is the
provider's, addressed by email and suppression type, and it does not delete a profile.
"""

from __future__ import annotations

from typing import Any

from .app_common import not_found, workspace_of
from .messages import ApiError, Request, Response, empty_response, json_response

TYPES = ("blocks", "bounces", "spam_reports", "invalid_emails")
MAX_LIMIT = 1000


def _type(req: Request) -> str:
    kind = req.params["suppression_type"]
    if kind not in TYPES:
        raise ApiError(400, f"suppression_type must be one of {', '.join(TYPES)}")
    return kind


def _email(req: Request) -> str:
    email = req.params["email_address"].strip()
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise ApiError(400, "email_address must be an email address")
    return email


def _int_query(req: Request, name: str, default: int, low: int, high: int) -> int:
    raw = req.q(name)
    if raw in (None, ""):
        return default
    if not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
        raise ApiError(400, f"{name} must be an integer from {low} to {high}")
    return int(raw)


def list_suppressions(req: Request) -> Response:
    """GET /v1/esp/suppression/{suppression_type}: oldest first, `limit` (100, at most 1000) from `offset`."""
    ws = workspace_of(req)
    kind = _type(req)
    limit = _int_query(req, "limit", 100, 1, MAX_LIMIT)
    offset = _int_query(req, "offset", 0, 0, 10**9)
    domain = (req.q("domain") or "").lower()
    rows = [r for (t, email), r in ws.esp_suppressions.items()
            if t == kind and (not domain or email.endswith("@" + domain))]
    return json_response(200, {"category": kind, "suppressions": rows[offset:offset + limit]})


def search_suppression(req: Request) -> Response:
    """GET /v1/esp/search_suppression/{email_address}: each type that holds the address (the shape is ours)."""
    ws = workspace_of(req)
    email = _email(req).lower()
    found = [{"category": t, "suppressions": [ws.esp_suppressions[(t, email)]]}
             for t in TYPES if (t, email) in ws.esp_suppressions]
    return json_response(200, {"suppressions": found})


def add_suppression(req: Request) -> Response:
    """POST /v1/esp/suppression/{suppression_type}/{email_address}: adding an address twice keeps one entry."""
    ws = workspace_of(req)
    kind, email = _type(req), _email(req)
    entry: dict[str, Any] = ws.esp_suppressions.setdefault((kind, email.lower()), {
        "email": email, "created": ws.now(), "reason": "Uploaded manually via api.customer.io", "status": "550"})
    return json_response(200, {"category": kind, "suppressions": [entry]}, writes=1)


def remove_suppression(req: Request) -> Response:
    """DELETE /v1/esp/suppression/{suppression_type}/{email_address}: 404 when the type does not hold it."""
    ws = workspace_of(req)
    kind, email = _type(req), _email(req)
    if ws.esp_suppressions.pop((kind, email.lower()), None) is None:
        raise not_found("suppression")
    return empty_response(204, writes=1)
