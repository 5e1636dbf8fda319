"""App API `used_by` reads: which campaigns and newsletters depend on a segment or on a sender identity."""

from __future__ import annotations

from .app_common import lookup, workspace_of
from .messages import Request, Response, json_response


def segment_used_by(req: Request) -> Response:
    """GET /v1/segments/{segment_id}/used_by: campaigns it triggers or filters, newsletters it addresses."""
    ws = workspace_of(req)
    sid = lookup(req, ws.segments, "segment_id", "segment")["id"]
    campaigns = [c["id"] for c in ws.campaigns.values()
                 if sid in c.get("trigger_segment_ids", []) or sid in c.get("filter_segment_ids", [])]
    addressed = [n for n in ws.newsletters.values() if sid in n["recipient_segment_ids"]]
    return json_response(200, {"used_by": {
        "segment_id": sid, "campaigns": campaigns,
        "draft_newsletters": [n["id"] for n in addressed if n["sent_at"] is None],
        "sent_newsletters": [n["id"] for n in addressed if n["sent_at"] is not None]}})


def sender_used_by(req: Request) -> Response:
    """GET /v1/sender_identities/{sender_id}/used_by: the newsletters whose content sends from (or replies to) it.

    The sandbox's campaigns carry no message content, so their list is always empty.
    """
    ws = workspace_of(req)
    sender_id = lookup(req, ws.sender_identities, "sender_id", "sender identity")["id"]
    newsletters = sorted({c["newsletter_id"] for c in ws.contents.values()
                          if sender_id in (c.get("from_id"), c.get("reply_to_id"))})
    return json_response(200, {"used_by": {"sender_id": sender_id, "campaigns": [], "newsletters": newsletters}})
