"""The small, fixed content a fresh sandbox workspace starts with, so demos have something to call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .person import Person

SEED_TIME = 1_700_000_000  # fixed so snapshots of a fresh workspace are stable
#: The address of sender identity 1, the seeded actions' From and Reply-To.
DEFAULT_SENDER = "Sandbox Team <team@sandbox.example.com>"


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
        "from": DEFAULT_SENDER,
        "from_id": 1,
        "reply_to": DEFAULT_SENDER,
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
    # newsletters, their content variants, subscription topics, senders and snippets
    newsletters: dict[int, dict[str, Any]] = field(default_factory=dict)
    contents: dict[int, dict[str, Any]] = field(default_factory=dict)
    subscription_topics: dict[int, dict[str, Any]] = field(default_factory=dict)
    sender_identities: dict[int, dict[str, Any]] = field(default_factory=dict)
    snippets: dict[str, dict[str, Any]] = field(default_factory=dict)


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
    _workspace_content(seed)
    return seed


def _newsletter(nid: int, name: str, content_ids: list[int], segments: list[int], topic: int | None) -> dict[str, Any]:
    return {"id": nid, "deduplicate_id": f"{nid}:{SEED_TIME}", "name": name, "type": "email",
            "content_ids": content_ids, "sent_at": None, "created": SEED_TIME, "updated": SEED_TIME,
            "tags": ["sandbox"], "recipient_segment_ids": segments, "subscription_topic_id": topic}


def _content(cid: int, nid: int, language: str, subject: str, body: str) -> dict[str, Any]:
    return {"id": cid, "newsletter_id": nid, "deduplicate_id": f"{cid}:{SEED_TIME}",
            "name": f"{language or 'default'} variant", "layout": "<html><body>{{ content }}</body></html>",
            "body": body, "language": language, "type": "email",
            "from": "Sandbox Team <team@sandbox.example.com>", "from_id": 1, "reply_to": None, "reply_to_id": None,
            "preprocessor": "premailer", "recipient": "{{customer.email}}", "subject": subject, "cc": None,
            "bcc": None, "fake_bcc": False, "preheader_text": "", "headers": {}}


def _workspace_content(seed: SeedContent) -> None:
    """Newsletters 6 and 7 (6 has a French variant and uses the `footer` snippet), two topics, two senders."""
    seed.subscription_topics[1] = {"id": 1, "identifier": "topic_1", "name": "Weekly digest",
                                   "description": "The weekly newsletter", "subscribed_by_default": True}
    seed.subscription_topics[2] = {"id": 2, "identifier": "topic_2", "name": "Product news",
                                   "description": "Launches and changes", "subscribed_by_default": False}
    seed.sender_identities[1] = {"id": 1, "deduplicate_id": f"1:{SEED_TIME}", "name": "Sandbox Team",
                                 "email": "team@sandbox.example.com",
                                 "address": DEFAULT_SENDER, "template_type": "email",
                                 "auto_generated": False, "hidden": False}
    seed.sender_identities[2] = {"id": 2, "deduplicate_id": f"2:{SEED_TIME}", "name": "Sandbox SMS",
                                 "phone": "+15005550006", "address": "+15005550006", "template_type": "phone",
                                 "auto_generated": True, "hidden": False}
    seed.sender_identities[3] = {"id": 3, "deduplicate_id": f"3:{SEED_TIME}", "name": "Support",
                                 "email": "support@sandbox.example.com",
                                 "address": "Support <support@sandbox.example.com>", "template_type": "email",
                                 "auto_generated": False, "hidden": False}
    seed.snippets["footer"] = {"name": "footer", "value": "Sandbox Inc., 1 Loopback Way", "updated_at": SEED_TIME}
    seed.snippets["signature"] = {"name": "signature", "value": "The sandbox team", "updated_at": SEED_TIME}
    seed.newsletters[6] = _newsletter(6, "Weekly digest", [61, 62], [3], 1)
    seed.newsletters[7] = _newsletter(7, "Launch announcement", [71], [1], None)
    seed.contents[61] = _content(61, 6, "", "Your weekly digest, {{customer.first_name}}",
                                 '<p>This week in the sandbox. <a href="https://example.com/news">Read more</a></p>'
                                 "<p>{{ snippets.footer }}</p>")
    seed.contents[62] = _content(62, 6, "fr", "Votre résumé de la semaine",
                                 '<p>Cette semaine. <a href="https://example.com/news">Lire</a></p>'
                                 "<p>{{ snippets.footer }}</p>")
    seed.contents[71] = _content(71, 7, "", "We launched",
                                 '<p>It is live. <a href="https://example.com/launch">See it</a></p>')
