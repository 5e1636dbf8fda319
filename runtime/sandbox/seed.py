"""The small, fixed content a fresh sandbox workspace starts with, so demos have something to call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .person import Person

SEED_TIME = 1_700_000_000  # fixed so snapshots of a fresh workspace are stable
#: The workspace's sender identities by id (what an action's `from_id` / `reply_to_id` may name).
SENDERS = {1: "Sandbox <sandbox@example.com>", 2: "Support <support@example.com>"}


def _segment(sid: int, name: str, description: str, type_: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "deduplicate_id": f"{sid}:{SEED_TIME}",
        "name": name,
        "description": description,
        "state": "finished",
        "progress": None,
        "type": type_,
        "tags": None,
        "created_at": SEED_TIME,
        "updated_at": SEED_TIME,
        **extra,
    }


def _has_email(person: Person) -> bool:
    return person.email is not None


def _broadcast(bid: int, name: str) -> dict[str, Any]:
    return {
        "id": bid,
        "deduplicate_id": f"{bid}:{SEED_TIME}",
        "name": name,
        "type": "triggered_broadcast",
        "created": SEED_TIME,
        "updated": SEED_TIME,
        "active": True,
        "state": "running",
        "actions": [{"id": bid * 10 + 1, "type": "email"}],
        "tags": ["sandbox"],
        "first_started": SEED_TIME,
        "created_by": "sandbox@example.com",
        "msg_template_ids": [bid * 10 + 1],
    }


def _campaign(cid: int, name: str, type_: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "deduplicate_id": f"{cid}:{SEED_TIME}",
        "name": name,
        "description": "",
        "type": type_,
        "created": SEED_TIME,
        "updated": SEED_TIME,
        "active": True,
        "state": "running",
        "actions": [{"id": cid * 10 + 1, "type": "email"}],
        "first_started": SEED_TIME,
        "tags": ["sandbox"],
        "trigger_segment_ids": [],
        "filter_segment_ids": [],
        "msg_templates": [{"id": cid * 10 + 1, "type": "email"}],
        **extra,
    }


def _email_action(aid: int, parent_key: str, pid: int, name: str) -> dict[str, Any]:
    """An email action in the App API's shape; the subject is the parent's name, as broadcasts always sent."""
    action: dict[str, Any] = {"id": aid, parent_key: pid}
    if parent_key == "campaign_id":
        action["parent_action_id"] = None
    return {
        **action,
        "deduplicate_id": f"{aid}:{SEED_TIME}",
        "name": f"{name}: email",
        "layout": "Sandbox layout",
        "created": SEED_TIME,
        "updated": SEED_TIME,
        "body": "<p>Hello {{customer.email}}</p>",
        "type": "email",
        "sending_state": "automatic",
        "language": "",
        "from": SENDERS[1],
        "from_id": 1,
        "reply_to": SENDERS[1],
        "reply_to_id": 1,
        "preprocessor": "premailer",
        "recipient": "{{customer.email}}",
        "subject": name,
        "cc": "",
        "bcc": "",
        "fake_bcc": False,
        "preheader_text": "",
        "body_amp": "",
        "headers": "[]",
    }


def _template(tid: int, name: str, channel: str, subject: str | None) -> dict[str, Any]:
    return {
        "id": tid,
        "name": name,
        "description": f"sandbox {channel} template",
        "type": channel,
        "subject": subject,
        "send_to_unsubscribed": True,
        "link_tracking": True,
        "open_tracking": True,
        "hide_message_body": False,
        "queue_drafts": False,
        "created_at": SEED_TIME,
        "updated_at": SEED_TIME,
    }


@dataclass
class SeedContent:
    """What a fresh workspace holds, and where its id counters start."""

    segments: dict[int, dict[str, Any]] = field(default_factory=dict)
    memberships: dict[int, set[str]] = field(default_factory=dict)
    campaigns: dict[int, dict[str, Any]] = field(default_factory=dict)
    broadcasts: dict[int, dict[str, Any]] = field(default_factory=dict)
    templates: dict[int, dict[str, Any]] = field(default_factory=dict)
    object_types: dict[str, dict[str, Any]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    actions: dict[int, dict[str, Any]] = field(default_factory=dict)
    translations: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)


def content() -> SeedContent:
    """A new copy of the seed content (the workspace takes it over and mutates it)."""
    seed = SeedContent()
    seed.segments[1] = _segment(1, "Sandbox manual segment A", "manual segment for demos", "manual")
    seed.segments[2] = _segment(2, "Sandbox manual segment B", "manual segment for demos", "manual")
    seed.segments[3] = _segment(3, "People with an email", "data-driven: everyone with an email", "dynamic")
    seed.segments[3]["_rule"] = _has_email
    seed.memberships[1] = set()
    seed.memberships[2] = set()
    seed.counters["segment"] = 100

    seed.campaigns[4] = _campaign(4, "Welcome series", "event", event_name="signed_up")
    seed.campaigns[5] = _campaign(5, "Re-engagement", "segment", trigger_segment_ids=[3])
    for bid, name in ((1, "Sandbox broadcast 1"), (2, "Sandbox broadcast 2"), (3, "Sandbox broadcast 3"),
                      (8, "Sandbox broadcast 8 (docs example)")):
        seed.broadcasts[bid] = _broadcast(bid, name)

    seed.templates[1] = _template(1, "welcome", "email", "Welcome, {{customer.first_name}}!")
    seed.templates[2] = _template(2, "order_shipped", "push", None)
    seed.templates[3] = _template(3, "login_code", "sms", None)
    seed.counters["template"] = 100

    seed.object_types["1"] = {"id": 1, "name": "Companies", "singular": "Company", "icon": "building",
                              "enabled": True}

    # One email action per campaign and broadcast (the ids their `actions` lists give), each with a
    # French variant: the actions and translations endpoints read and change these.
    for parent_key, parents in (("campaign_id", seed.campaigns), ("broadcast_id", seed.broadcasts)):
        for pid, parent in parents.items():
            for ref in parent["actions"]:
                action = _email_action(ref["id"], parent_key, pid, parent["name"])
                seed.actions[ref["id"]] = action
                seed.translations[(ref["id"], "fr")] = {
                    **action, "language": "fr", "subject": f"{parent['name']} (fr)",
                    "body": "<p>Bonjour {{customer.email}}</p>", "preheader_text": "Bonjour"}
    return seed
