"""App API subscription center reads: the workspace's topics and one person's preferences for them.

A person's preferences are the `cio_subscription_preferences` attribute (stringified JSON, written
whole or by dot notation through Track or Pipelines); a topic the person never chose takes the
topic's default, so what this answers is also what a newsletter send honours.
"""

from __future__ import annotations

import json
from typing import Any

from .app_common import path_person, workspace_of
from .messages import Request, Response, json_response
from .person import Person


def _chosen(person: Person) -> dict[str, Any]:
    try:
        prefs = json.loads(person.attributes.get("cio_subscription_preferences", "{}"))
    except ValueError:
        return {}
    topics = prefs.get("topics") if isinstance(prefs, dict) else None
    return topics if isinstance(topics, dict) else {}


def is_subscribed(person: Person, topic: dict[str, Any]) -> bool:
    """Whether the person takes this topic: their own choice (true/false), else the topic's default."""
    choice = _chosen(person).get(f"topic_{topic['id']}")
    if isinstance(choice, str) and choice.strip().lower() in ("true", "false"):
        choice = choice.strip().lower() == "true"
    return choice if isinstance(choice, bool) else bool(topic.get("subscribed_by_default"))


def list_topics(req: Request) -> Response:
    """GET /v1/subscription_topics."""
    return json_response(200, {"topics": list(workspace_of(req).subscription_topics.values())})


def person_preferences(req: Request) -> Response:
    """GET /v1/customers/{customer_id}/subscription_preferences (the response shape is the sandbox's choice)."""
    ws = workspace_of(req)
    person = path_person(req)
    topics = [{**topic, "subscribed": is_subscribed(person, topic)} for topic in ws.subscription_topics.values()]
    return json_response(200, {"customer": {"id": person.id, "identifiers": person.identifiers(),
                                            "unsubscribed": person.unsubscribed, "topics": topics}})
