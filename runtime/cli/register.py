"""`relaykit serve --register-with`: keep a Customer.io reporting webhook pointing at the receiver while it runs.

Once the receiver listens, a webhook for `--public-url` is created through the App connector
(`customerio-app.create_reporting_webhook`), for `--events` or the events the automation's inputs
admit; on shutdown it is deleted (not disabled: a disabled webhook would be left behind for every
receiver URL ever used, and nothing reads it). A webhook this receiver registered before, the same
name and endpoint (left by a crash), is reused and brought up to date instead of duplicated, so a
restart never makes Customer.io post each event twice. Customer.io signs every webhook with the
workspace's signing key, which its API does not set: the receiver's keys must be that key
(`RELAYKIT_WEBHOOK_SIGNING_KEYS`, as always), and none is ever sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .args import UsageError, read_connection_arg

if TYPE_CHECKING:
    from ..automation.model import Automation

__all__ = ["Registration", "automation_events", "plan_registration"]

_EVENT = re.compile(r"[a-z][a-z_]*")
APP = "customerio-app"


def automation_events(automation: Automation) -> list[str]:
    """`{object_type}_{metric}` for every pair the inputs admit (`const` or `enum`); [] when either is open."""
    properties = (automation.inputs_schema or {}).get("properties") or {}

    def choices(name: str) -> list[str]:
        node = properties.get(name)
        if not isinstance(node, dict):
            return []
        values = [node["const"]] if "const" in node else node.get("enum") or []
        return [v for v in values if isinstance(v, str)]

    return [f"{kind}_{metric}" for kind in choices("object_type") for metric in choices("metric")]


@dataclass
class Registration:
    """What `--register-with` asks for; `webhook_id` is set once the webhook exists."""

    connection: Any
    name: str
    endpoint: str
    events: list[str]
    webhook_id: int | None = None
    reused: bool = False

    def register(self, rt: Any) -> None:
        """Create the webhook, or reuse (and update) the one this receiver left behind."""
        listed = rt.run(f"{APP}.list_reporting_webhooks", {}, self.connection).output.get("reporting_webhooks") or []
        mine = [h for h in listed if isinstance(h, dict) and h.get("name") == self.name
                and h.get("endpoint") == self.endpoint and isinstance(h.get("id"), int)]
        if mine:
            hook = mine[0]
            self.webhook_id, self.reused = hook["id"], True
            if sorted(hook.get("events") or []) != sorted(self.events) or hook.get("disabled"):
                rt.run(f"{APP}.update_reporting_webhook", {"webhook_id": hook["id"], "events": self.events,
                                                           "disabled": False}, self.connection)
            return
        created = rt.run(f"{APP}.create_reporting_webhook", {"name": self.name, "endpoint": self.endpoint,
                                                              "events": self.events}, self.connection)
        self.webhook_id = created.output["id"]

    def unregister(self, rt: Any) -> None:
        """Delete the webhook (a no-op when it was never made)."""
        if self.webhook_id is not None:
            rt.run(f"{APP}.delete_reporting_webhook", {"webhook_id": self.webhook_id}, self.connection)


def plan_registration(rt: Any, args: Any, automation: Automation) -> Registration | None:
    """Check `--register-with`, `--public-url` and `--events` before anything listens or is sent."""
    wanted, url, given = args.register_with, args.public_url, args.events
    if wanted is None:
        if url is not None or given is not None:
            raise UsageError("--public-url and --events only go with --register-with CONNECTION")
        return None
    if not url:
        raise UsageError("--register-with needs --public-url: the URL Customer.io reaches this receiver at "
                         "(the receiver cannot know it), e.g. --public-url https://hooks.example.com/cio")
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:
        valid = False
    if not valid or "@" in parts.netloc:
        raise UsageError("--public-url must be an absolute http(s) URL without credentials, "
                         "e.g. https://hooks.example.com/cio")
    if given is not None:
        events = [e.strip() for e in given.split(",") if e.strip()]
        bad = [e for e in events if not _EVENT.fullmatch(e)]
        if bad or not events:
            raise UsageError(f"--events: {bad[0]!r} is not an event name (e.g. email_sent)" if bad else
                             "--events: give at least one event, e.g. email_sent,email_bounced")
    else:
        events = automation_events(automation)
        if not events:
            raise UsageError(f"--register-with: cannot tell which events {automation.name} listens to (its inputs "
                             "do not narrow object_type and metric with const or enum); pass --events, "
                             "e.g. --events email_bounced,email_failed")
    connection = read_connection_arg(wanted, "register-with")
    rt.dry_run(f"{APP}.list_reporting_webhooks", {}, connection)  # a bad connection fails now (exit 2)
    return Registration(connection, f"relaykit serve {automation.name}", url, list(dict.fromkeys(events)))
