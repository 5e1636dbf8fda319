"""App API newsletters: list and read them, their metrics and deliveries, edit their content variants, send them.

A send renders the variant in each recipient's `language` (the default variant otherwise), with
`{{ snippets.NAME }}` and `{{ customer.ATTR }}` filled in, to the members of the newsletter's
recipient segments who have an email, are not unsubscribed and take its subscription topic. The
deliveries carry `newsletter_id` and `content_id`, so the messages, metrics, link and archive reads
answer from what the send made.
"""

from __future__ import annotations

import re
from typing import Any

from .app_archive import ARCHIVED_FIELDS
from .app_common import lookup, not_found, page, public_message, sorted_by_id, workspace_of
from .app_deliveries import deliveries, series
from .app_subscriptions import is_subscribed
from .messages import ApiError, Request, Response, json_response
from .person import Person
from .state import Workspace

#: A Liquid reference the sandbox fills in: `{{ snippets.NAME }}` or `{{ customer.ATTR }}`.
LIQUID = re.compile(r"\{\{\s*(snippets|customer)\.([A-Za-z0-9_]+)\s*\}\}")
_HREF = re.compile(r'href="([^"]+)"')
PERIODS = ("hours", "days", "weeks", "months")
CHANNELS = ("email", "webhook", "twilio", "push", "in_app", "inbox")
#: Content fields a PUT may set (strings), and the sender fields it may point at a sender identity.
TEXT_FIELDS = ("body", "body_amp", "body_plain", "subject", "preheader_text", "recipient")
SENDER_FIELDS = {"from_id": "from", "reply_to_id": "reply_to"}


def _newsletter(req: Request) -> dict[str, Any]:
    return lookup(req, workspace_of(req).newsletters, "newsletter_id", "newsletter")


def _variants(ws: Workspace, newsletter: dict[str, Any]) -> list[dict[str, Any]]:
    return [ws.contents[cid] for cid in newsletter["content_ids"] if cid in ws.contents]


def list_newsletters(req: Request) -> Response:
    """GET /v1/newsletters: paged, `sort=asc` (oldest first, the default) or `desc`."""
    chunk, nxt = page(req, sorted_by_id(req, workspace_of(req).newsletters.values()), default=50, maximum=1000)
    return json_response(200, {"newsletters": chunk, "next": nxt})


def get_newsletter(req: Request) -> Response:
    """GET /v1/newsletters/{newsletter_id}."""
    return json_response(200, {"newsletter": _newsletter(req)})


def _check_metric_query(req: Request) -> None:
    period, steps, kind = req.q("period"), req.q("steps"), req.q("type")
    if period and period not in PERIODS:
        raise ApiError(400, f"period must be one of {', '.join(PERIODS)}")
    if steps and (not steps.isdigit() or int(steps) < 1):
        raise ApiError(400, "steps must be a positive integer")
    if kind and kind not in CHANNELS:
        raise ApiError(400, f"type must be one of {', '.join(CHANNELS)}")


def newsletter_metrics(req: Request) -> Response:
    """GET /v1/newsletters/{newsletter_id}/metrics: counts per metric of its deliveries (one step)."""
    newsletter = _newsletter(req)
    _check_metric_query(req)
    return json_response(200, series(deliveries(workspace_of(req), "newsletter_id", newsletter["id"])))


def newsletter_links(req: Request) -> Response:
    """GET /v1/newsletters/{newsletter_id}/metrics/links: each link of its variants and its reported clicks."""
    ws = workspace_of(req)
    newsletter = _newsletter(req)
    _check_metric_query(req)
    hrefs = list(dict.fromkeys(h for v in _variants(ws, newsletter) for h in _HREF.findall(v.get("body") or "")))
    delivered = {m["id"] for m in ws.messages.values() if m.get("newsletter_id") == newsletter["id"]}
    clicks = [r for r in ws.metrics if r["metric"] == "clicked" and r["delivery_id"] in delivered]
    if req.q("unique") == "true":
        clicks = list({(r["delivery_id"], r.get("href")): r for r in clicks}.values())
    links = [{"link": {"id": number, "href": href},
              "metric": {"series": {"clicked": [sum(1 for r in clicks if r.get("href") == href)]}}}
             for number, href in enumerate(hrefs, start=1)]
    return json_response(200, {"links": links})


def _unix_query(req: Request, name: str) -> int | None:
    raw = req.q(name)
    if not raw:
        return None
    if not raw.isdigit():
        raise ApiError(400, f"{name} must be a unix timestamp in seconds")
    return int(raw)


def newsletter_messages(req: Request) -> Response:
    """GET /v1/newsletters/{newsletter_id}/messages: its deliveries, newest first, paged; filtered by query."""
    ws = workspace_of(req)
    newsletter = _newsletter(req)
    metric = req.q("metric")
    since, until = _unix_query(req, "start_ts"), _unix_query(req, "end_ts")
    items = [public_message(m) for m in reversed(ws.messages.values())
             if m.get("newsletter_id") == newsletter["id"] and (not metric or metric in m["metrics"])
             and (since is None or m["created"] >= since) and (until is None or m["created"] <= until)]
    chunk, nxt = page(req, items, default=50, maximum=1000)
    return json_response(200, {"messages": chunk, "next": nxt})


def list_contents(req: Request) -> Response:
    """GET /v1/newsletters/{newsletter_id}/contents: its variants (languages, A/B tests)."""
    return json_response(200, {"contents": _variants(workspace_of(req), _newsletter(req))})


def _content(req: Request) -> dict[str, Any]:
    newsletter = _newsletter(req)
    content = lookup(req, workspace_of(req).contents, "content_id", "content")
    if content["newsletter_id"] != newsletter["id"]:
        raise not_found("content")
    return content


def _translation(req: Request) -> dict[str, Any]:
    ws = workspace_of(req)
    language = req.params["language"]
    for variant in _variants(ws, _newsletter(req)):
        if variant["language"] == language:
            return variant
    raise not_found("language variant")


def _update(req: Request, content: dict[str, Any]) -> Response:
    ws = workspace_of(req)
    body = req.json_object()
    if not body:
        raise ApiError(400, "nothing to update: give body, subject, from_id or another content field")
    changes: dict[str, Any] = {}
    for name, value in body.items():
        if name in TEXT_FIELDS:
            if not isinstance(value, str):
                raise ApiError(400, f"{name} must be a string")
            changes[name] = value
        elif name in SENDER_FIELDS:
            sender = ws.sender_identities.get(value) if isinstance(value, int) and not isinstance(value, bool) else None
            if sender is None or sender["template_type"] != "email":
                raise ApiError(400, f"{name} must be the id of an email sender identity")
            changes[name], changes[SENDER_FIELDS[name]] = value, sender["address"]
        else:
            raise ApiError(400, f"{name} is not a content field this endpoint changes")
    content.update(changes)
    ws.newsletters[content["newsletter_id"]]["updated"] = ws.now()
    return json_response(200, {"content": content}, writes=1)


def get_content(req: Request) -> Response:
    """GET /v1/newsletters/{newsletter_id}/contents/{content_id}."""
    return json_response(200, {"content": _content(req)})


def update_content(req: Request) -> Response:
    """PUT /v1/newsletters/{newsletter_id}/contents/{content_id}: the fields given replace the stored ones."""
    return _update(req, _content(req))


def get_translation(req: Request) -> Response:
    """GET /v1/newsletters/{newsletter_id}/language/{language}: the variant in that language, or a 404."""
    return json_response(200, {"content": _translation(req)})


def update_translation(req: Request) -> Response:
    """PUT /v1/newsletters/{newsletter_id}/language/{language}."""
    return _update(req, _translation(req))


def render(ws: Workspace, text: str | None, person: Person) -> str | None:
    """Fill in snippets and customer attributes the way a send would (unknown names render empty)."""
    if text is None:
        return None

    def value(match: re.Match[str]) -> str:
        kind, name = match.groups()
        if kind == "snippets":
            return str(ws.snippets.get(name, {}).get("value", ""))
        return person.attributes.get(name, "")

    return LIQUID.sub(value, text)


def _recipients(ws: Workspace, newsletter: dict[str, Any]) -> list[Person]:
    topic = ws.subscription_topics.get(newsletter.get("subscription_topic_id") or 0)
    seen: dict[str, Person] = {}
    for sid in newsletter["recipient_segment_ids"]:
        for person in ws.segment_members(sid):
            if person.email and not person.unsubscribed and (topic is None or is_subscribed(person, topic)):
                seen.setdefault(person.cio_id, person)
    return list(seen.values())


def send_newsletter(req: Request) -> Response:
    """POST /v1/newsletters/{newsletter_id}/send: one delivery per recipient, now (the answer's shape is ours)."""
    ws = workspace_of(req)
    newsletter = _newsletter(req)
    req.json_object(required=False)
    variants = _variants(ws, newsletter)
    default = next((v for v in variants if v["language"] == ""), variants[0] if variants else None)
    if default is None:
        raise ApiError(400, "the newsletter has no content to send")
    sent = 0
    for person in _recipients(ws, newsletter):
        language = person.attributes.get("language", "")
        variant = next((v for v in variants if language and v["language"] == language), default)
        message = ws.create_message(
            type=newsletter["type"], person=person, recipient=person.email,
            subject=render(ws, variant.get("subject"), person), template_id=variant["id"],
            content={name: render(ws, variant.get(name), person) if name == "body" else variant.get(name)
                     for name in ARCHIVED_FIELDS})
        message["newsletter_id"], message["content_id"] = newsletter["id"], variant["id"]
        sent += 1
    newsletter["sent_at"] = newsletter["updated"] = ws.now()
    return json_response(200, {"newsletter": newsletter, "deliveries": sent}, writes=max(sent, 1))
