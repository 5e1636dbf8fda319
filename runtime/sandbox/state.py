"""The emulated workspace: people, events, devices, segments, objects, campaigns, messages and the rest.

Every API reads and writes this one store. Callers hold `Workspace.lock` around a whole request, so
the methods here do not lock themselves. Values are stored the way the App API returns them
(attributes as strings, unix-second timestamps).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from . import seed
from .limits import attribute_string
from .person import Person, truthy_unsubscribe

_RESERVED_NOT_STORED = {"_timestamp", "_update", "anonymous_id", "cio_relationships"}
#: How much of a secondary person's event history a merge keeps (Customer.io: the last 30 days).
MERGE_EVENT_WINDOW = 30 * 24 * 3600
_ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: How many reporting-webhook deliveries the state keeps (the oldest go first).
MAX_WEBHOOK_DELIVERIES = 10_000


def event_time(event: dict[str, Any]) -> float:
    """When an event happened: its timestamp when numeric, else when it was received."""
    value = event.get("timestamp")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return float(event.get("received_at") or 0)


class Workspace:
    """The single workspace all four APIs share."""

    def __init__(
        self,
        *,
        region: str = "us",
        environment_id: int = 1,
        processing_delay: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.region = region
        self.environment_id = environment_id
        self.processing_delay = processing_delay
        self.clock = clock
        self.lock = threading.RLock()
        #: Called with each message the sandbox "delivers" (the reporting-webhook seam).
        self.delivery_listeners: list[Callable[[dict[str, Any]], None]] = []
        self.reset()

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """Empty the workspace and load the seed data again."""
        with self.lock:
            fresh = seed.content()
            self._counters: dict[str, int] = dict(fresh.counters)
            self.people: dict[str, Person] = {}
            self.by_id: dict[str, str] = {}
            self.by_email: dict[str, str] = {}
            self.suppressions: list[dict[str, str | None]] = []
            self.events: list[dict[str, Any]] = []
            self.event_ids: set[str] = set()
            self.objects: dict[tuple[str, str], dict[str, Any]] = {}
            self.relationships: dict[tuple[str, str, str], dict[str, Any]] = {}
            self.triggers: dict[int, dict[str, Any]] = {}
            self.messages: dict[str, dict[str, Any]] = {}
            self.exports: dict[int, dict[str, Any]] = {}
            self.pipelines_calls: list[dict[str, Any]] = []
            self.message_ids: set[str] = set()
            self.aliases: list[dict[str, Any]] = []
            self.metrics: list[dict[str, Any]] = []
            self.forms: dict[str, dict[str, Any]] = {}
            self.unsubscribes: list[dict[str, Any]] = []
            self.reporting_webhooks: dict[int, dict[str, Any]] = {}
            self.activities: list[dict[str, Any]] = []
            self.pending_deliveries: list[dict[str, Any]] = []
            #: Reporting-webhook events addressed to a registered endpoint: attempts and outcome.
            self.webhook_deliveries: list[dict[str, Any]] = []
            #: Activity rows of anonymous events, by event id, so attaching the event attaches its row.
            self._anonymous_activities: dict[str, dict[str, Any]] = {}
            self.segments: dict[int, dict[str, Any]] = fresh.segments
            self.memberships: dict[int, set[str]] = fresh.memberships
            self.object_types: dict[str, dict[str, Any]] = fresh.object_types
            self.campaigns: dict[int, dict[str, Any]] = fresh.campaigns
            self.broadcasts: dict[int, dict[str, Any]] = fresh.broadcasts
            self.templates: dict[int, dict[str, Any]] = fresh.templates
            #: Campaign and broadcast actions by id, and their language variants by (action id, language).
            self.actions: dict[int, dict[str, Any]] = fresh.actions
            self.action_translations: dict[tuple[int, str], dict[str, Any]] = fresh.translations
            self.newsletters: dict[int, dict[str, Any]] = fresh.newsletters
            #: Newsletter content variants by content id (each names its newsletter).
            self.contents: dict[int, dict[str, Any]] = fresh.contents
            self.subscription_topics: dict[int, dict[str, Any]] = fresh.subscription_topics
            self.sender_identities: dict[int, dict[str, Any]] = fresh.sender_identities
            #: Snippets by name (names are unique).
            self.snippets: dict[str, dict[str, Any]] = fresh.snippets
            #: Collections by id; each keeps its rows under the sandbox-only `_data`.
            self.collections: dict[int, dict[str, Any]] = {}
            #: Addresses the email service provider suppressed, by (suppression type, lower-cased email).
            self.esp_suppressions: dict[tuple[str, str], dict[str, Any]] = {}
            self.imports: dict[int, dict[str, Any]] = {}

    def now(self) -> int:
        return int(self.clock())

    def next_number(self, kind: str, start: int = 1) -> int:
        value = self._counters.get(kind, start - 1) + 1
        self._counters[kind] = value
        return value

    def new_ulid(self, kind: str = "ulid") -> str:
        """A deterministic, sortable, ULID-shaped id (26 characters)."""
        n = self.next_number(kind)
        digits = []
        for _ in range(16):
            n, r = divmod(n, 32)
            digits.append(_ULID_ALPHABET[r])
        return "01SANDBOX0" + "".join(reversed(digits))

    # ------------------------------------------------------------------ people
    def find(self, id_type: str, value: str | None) -> Person | None:
        if not value:
            return None
        if id_type == "cio_id":
            return self.people.get(value)
        if id_type == "email":
            key = self.by_email.get(value.lower())
            return self.people.get(key) if key else None
        if id_type == "id":
            key = self.by_id.get(value)
            return self.people.get(key) if key else None
        return None

    def create_person(self, *, id: str | None = None, email: str | None = None) -> Person:
        cio_id = f"{0x03000000 + self.next_number('cio'):08x}"
        person = Person(cio_id=cio_id, created=self.now())
        self.people[cio_id] = person
        person.attributes["cio_id"] = cio_id
        person.timestamps["cio_id"] = person.created
        if id is not None:
            self._set_id(person, id)
        if email is not None:
            self._set_email(person, email)
        return person

    def _set_id(self, person: Person, value: str) -> None:
        if person.id is not None:
            self.by_id.pop(person.id, None)
        person.id = value
        self.by_id[value] = person.cio_id
        person.attributes["id"] = value
        person.timestamps["id"] = self.now()

    def _set_email(self, person: Person, value: str) -> None:
        if person.email is not None:
            self.by_email.pop(person.email.lower(), None)
        person.email = value
        self.by_email[value.lower()] = person.cio_id
        person.attributes["email"] = value
        person.timestamps["email"] = self.now()

    def delete_person(self, person: Person) -> None:
        self.people.pop(person.cio_id, None)
        if person.id is not None:
            self.by_id.pop(person.id, None)
        if person.email is not None:
            self.by_email.pop(person.email.lower(), None)
        for members in self.memberships.values():
            members.discard(person.cio_id)
        for key in [k for k in self.relationships if k[2] == person.cio_id]:
            del self.relationships[key]

    def is_suppressed(self, id_type: str, value: str | None) -> bool:
        if not value or id_type not in ("id", "email"):
            return False
        if id_type == "email":
            value = value.lower()
        for record in self.suppressions:
            stored = record.get(id_type)
            if stored is not None and (stored.lower() if id_type == "email" else stored) == value:
                return True
        return False

    def suppress(self, id_type: str, value: str) -> None:
        """Delete the profile (if any) and block its identifiers."""
        person = self.find(id_type, value)
        if person is not None:
            record = {"id": person.id, "email": person.email, "cio_id": person.cio_id}
            self.delete_person(person)
        else:
            record = {"id": None, "email": None, "cio_id": None}
            if id_type in ("id", "email"):
                record[id_type] = value
        record["suppressed_at"] = self.now()  # type: ignore[assignment]
        self.suppressions.append(record)

    def unsuppress(self, id_type: str, value: str) -> bool:
        """Release every suppression record that holds this identifier; the profile is not restored."""
        before = len(self.suppressions)
        if id_type == "email":
            self.suppressions = [r for r in self.suppressions if (r.get("email") or "").lower() != value.lower()]
        else:
            self.suppressions = [r for r in self.suppressions if r.get(id_type) != value]
        return len(self.suppressions) != before

    def identify(
        self,
        id_type: str,
        value: str,
        attributes: dict[str, Any],
        *,
        update_only: bool = False,
        source: str = "track",
        at: int | None = None,
    ) -> tuple[Person | None, str]:
        """Create or update a person per the Track identify rules; return (person, outcome).

        The outcome is "ok", or "dropped" when the call is accepted but has no effect (suppressed
        identifier, `_update` without a match, unknown cio_id, identifier conflict). `at` is when the
        change happened (a backfill); the attributes' timestamps take it.
        """
        body_id = attributes.get("id")
        body_id = attribute_string(body_id) if body_id not in (None, "") else None
        body_email = attributes.get("email") if isinstance(attributes.get("email"), str) else None
        body_email = body_email or None
        if (
            self.is_suppressed(id_type, value)
            or self.is_suppressed("id", body_id)
            or self.is_suppressed("email", body_email)
        ):
            return None, "dropped"
        person = self.find(id_type, value)
        if person is None and id_type == "cio_id":
            return None, "dropped"
        gained = False
        if person is None:
            person = self.find("id", body_id) or self.find("email", body_email)
            gained = person is not None
        if person is None:
            if update_only:
                self.add_activity("failed_attribute_change", None, None, data={"reason": "no matching person"})
                return None, "dropped"
            person = self.create_person(
                id=value if id_type == "id" else None, email=value if id_type == "email" else None
            )
            self.add_activity("attribute_change", None, person, data={"created": True})
        elif gained:
            # The path identifier is new and a body identifier names an existing person: that person
            # is updated and given the path identifier (replacing the one it had), unless the body
            # asks for a different identifier of the same type (a change that needs `cio_`).
            same = body_id if id_type == "id" else body_email
            if same is not None and (same != value if id_type == "id" else same.lower() != value.lower()):
                return self._failed(person, f"changing an {id_type} requires the cio_ identifier")
            if id_type == "id":
                self._set_id(person, value)
            elif id_type == "email":
                self._set_email(person, value)
        # identifiers given in the body
        if body_id is not None and body_id != person.id:
            owner = self.find("id", body_id)
            if owner is not None and owner is not person:
                return self._failed(person, "id belongs to another person")
            if person.id is not None and id_type != "cio_id":
                return self._failed(person, "changing an id requires the cio_ identifier")
            self._set_id(person, body_id)
        if body_email is not None and (person.email or "").lower() != body_email.lower():
            owner = self.find("email", body_email)
            if owner is not None and owner is not person:
                return self._failed(person, "email belongs to another person")
            if person.email is not None and id_type == "email":
                return self._failed(person, "changing an email requires the cio_ identifier")
            self._set_email(person, body_email)
        self.apply_attributes(person, attributes, at=at)
        anonymous_id = attributes.get("anonymous_id")
        if isinstance(anonymous_id, str) and anonymous_id:
            self.attach_anonymous(person, anonymous_id)
        return person, "ok"

    def _failed(self, person: Person, reason: str) -> tuple[None, str]:
        self.add_activity("failed_attribute_change", None, person, data={"reason": reason})
        return None, "dropped"

    def apply_attributes(self, person: Person, attributes: dict[str, Any], *, at: int | None = None) -> None:
        """Store attributes as strings; None or "" removes; reserved keys get their meaning."""
        now = self.now() if at is None else at
        changes: dict[str, dict[str, str | None]] = {}
        for name, raw in attributes.items():
            if name in _RESERVED_NOT_STORED or name in ("id", "email"):
                continue
            if name == "unsubscribed":
                person.unsubscribed = truthy_unsubscribe(raw)
                raw = person.unsubscribed
            if name.startswith("cio_subscription_preferences."):
                self._set_preference(person, name.split(".")[1:], raw, now)
                continue
            text = attribute_string(raw)
            old = person.attributes.get(name)
            if text is None or text == "":
                if old is not None:
                    del person.attributes[name]
                    person.timestamps.pop(name, None)
                    changes[name] = {"from": old, "to": None}
                continue
            if old != text:
                changes[name] = {"from": old, "to": text}
            person.attributes[name] = text
            person.timestamps[name] = now
        if changes:
            self.add_activity("attribute_change", None, person, data=changes)

    def _set_preference(self, person: Person, path: list[str], value: Any, now: int) -> None:
        try:
            prefs = json.loads(person.attributes.get("cio_subscription_preferences", "{}"))
        except ValueError:
            prefs = {}
        node = prefs
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
        person.attributes["cio_subscription_preferences"] = json.dumps(prefs, separators=(",", ":"))
        person.timestamps["cio_subscription_preferences"] = now

    def attach_anonymous(self, person: Person, anonymous_id: str) -> None:
        """Attach earlier anonymous events with this anonymous_id to the person."""
        for event in self.events:
            if event.get("anonymous_id") == anonymous_id and event.get("cio_id") is None:
                event["cio_id"] = person.cio_id
                event["customer_id"] = person.id
                activity = self._anonymous_activities.pop(event["id"], None)
                if activity is not None:
                    activity.update(cio_id=person.cio_id, customer_id=person.id,
                                    customer_identifiers=person.identifiers())

    def merge(self, primary: Person, secondary: Person) -> None:
        """Fold the secondary person into the primary one and delete the secondary.

        The primary gains the attributes it lacks (with their timestamps), devices, the last 30 days
        of events (older ones go with the secondary), manual segments, deliveries and relationships.
        """
        if primary is secondary:
            return
        for name, value in secondary.attributes.items():
            if name not in ("id", "email", "cio_id") and name not in primary.attributes:
                primary.attributes[name] = value
                primary.timestamps[name] = secondary.timestamps.get(name, self.now())
        for token, device in secondary.devices.items():
            primary.devices.setdefault(token, device)
        cutoff = self.now() - MERGE_EVENT_WINDOW
        kept: list[dict[str, Any]] = []
        for event in self.events:
            if event.get("cio_id") == secondary.cio_id:
                if event_time(event) < cutoff:
                    continue  # outside the merge window: deleted with the secondary
                event["cio_id"] = primary.cio_id
                event["customer_id"] = primary.id
            kept.append(event)
        self.events = kept
        for members in self.memberships.values():
            if secondary.cio_id in members:
                members.add(primary.cio_id)
        for message in self.messages.values():
            if message.get("cio_id") == secondary.cio_id:
                message["cio_id"] = primary.cio_id
                message["customer_id"] = primary.id
                message["customer_identifiers"] = primary.identifiers()
        for (type_id, object_id, cio_id), rel in list(self.relationships.items()):
            if cio_id == secondary.cio_id:
                self.relationships.setdefault((type_id, object_id, primary.cio_id), rel)
        self.delete_person(secondary)
        self.add_activity("merged", None, primary, data={"secondary_cio_id": secondary.cio_id})

    # ------------------------------------------------------------------ events and devices
    def add_event(
        self,
        *,
        name: str,
        data: dict[str, Any] | None,
        dedupe_id: str | None = None,
        type: str = "event",
        timestamp: Any = None,
        person: Person | None = None,
        anonymous_id: str | None = None,
        source: str = "track",
    ) -> bool:
        """Record an event; False (and nothing stored) when `dedupe_id` was seen before."""
        if dedupe_id:
            if dedupe_id in self.event_ids:
                return False
            self.event_ids.add(dedupe_id)
        event = {
            "id": dedupe_id or self.new_ulid("event"),
            "dedupe_id": dedupe_id,
            "name": name.strip(),
            "type": type,
            "data": data or {},
            "timestamp": timestamp if timestamp is not None else self.now(),
            "received_at": self.now(),
            "cio_id": person.cio_id if person else None,
            "customer_id": person.id if person else None,
            "anonymous_id": anonymous_id,
            "source": source,
        }
        self.events.append(event)
        activity = self.add_activity(type, name.strip(), person, data=data or {}, timestamp=event["timestamp"])
        if person is None:
            self._anonymous_activities[event["id"]] = activity
        return True

    def upsert_device(
        self, person: Person, token: str, platform: str | None, last_used: Any, attributes: dict[str, Any] | None
    ) -> None:
        device = person.devices.get(token, {"id": token})
        if platform:
            device["platform"] = platform
        device["last_used"] = last_used if isinstance(last_used, int) else self.now()
        attrs = dict(device.get("attributes", {}))
        for key, value in (attributes or {}).items():
            text = attribute_string(value)
            if text is None:
                attrs.pop(key, None)
            else:
                attrs[key] = text
        device["attributes"] = attrs
        person.devices[token] = device

    # ------------------------------------------------------------------ segments
    def segment_members(self, segment_id: int) -> list[Person]:
        segment = self.segments.get(segment_id)
        if segment is None:
            return []
        if segment["type"] == "manual":
            ids = self.memberships.get(segment_id, set())
            return [p for p in self.people.values() if p.cio_id in ids]
        rule = segment.get("_rule")
        return [p for p in self.people.values() if rule is None or rule(p)]

    def segments_of(self, person: Person) -> list[dict[str, Any]]:
        return [
            self.public_segment(s)
            for sid, s in sorted(self.segments.items())
            if person in self.segment_members(sid)
        ]

    @staticmethod
    def public_segment(segment: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in segment.items() if not k.startswith("_")}

    # ------------------------------------------------------------------ objects and relationships
    def upsert_object(self, type_id: str, object_id: str, attributes: dict[str, Any] | None) -> dict[str, Any]:
        key = (type_id, object_id)
        obj = self.objects.get(key)
        if obj is None:
            obj = {
                "object_type_id": type_id,
                "object_id": object_id,
                "cio_object_id": f"obj{self.next_number('object'):07x}",
                "attributes": {},
                "created": self.now(),
            }
            self.objects[key] = obj
        for name, value in (attributes or {}).items():
            text = attribute_string(value)
            if text is None or text == "":
                obj["attributes"].pop(name, None)
            else:
                obj["attributes"][name] = text
        return obj

    def find_object(self, identifiers: dict[str, Any]) -> dict[str, Any] | None:
        if "cio_object_id" in identifiers:
            for obj in self.objects.values():
                if obj["cio_object_id"] == identifiers["cio_object_id"]:
                    return obj
            return None
        return self.objects.get((str(identifiers.get("object_type_id", "1")), str(identifiers.get("object_id"))))

    def delete_object(self, type_id: str, object_id: str) -> bool:
        existed = self.objects.pop((type_id, object_id), None) is not None
        for key in [k for k in self.relationships if k[0] == type_id and k[1] == object_id]:
            del self.relationships[key]
        return existed

    def relate(self, type_id: str, object_id: str, person: Person, attributes: dict[str, Any] | None) -> None:
        self.upsert_object(type_id, object_id, None)
        rel = self.relationships.setdefault((type_id, object_id, person.cio_id), {"attributes": {}})
        for name, value in (attributes or {}).items():
            text = attribute_string(value)
            if text is None:
                rel["attributes"].pop(name, None)
            else:
                rel["attributes"][name] = text

    def unrelate(self, type_id: str, object_id: str, person: Person) -> bool:
        return self.relationships.pop((type_id, object_id, person.cio_id), None) is not None

    # ------------------------------------------------------------------ messages, metrics, activities
    def create_message(
        self,
        *,
        type: str,
        person: Person | None,
        identifiers: dict[str, Any] | None = None,
        recipient: str | None = None,
        subject: str | None = None,
        template_id: int | None = None,
        broadcast_id: int | None = None,
        trigger_id: int | None = None,
        transactional_id: int | None = None,
        campaign_id: int | None = None,
        failure: str | None = None,
        content: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create a delivery; listeners (reporting webhooks) hear about it after the request commits."""
        now = self.now()
        number = self.next_number("delivery")
        delivery_id = f"SbxDlv{number:010d}"
        metrics: dict[str, int] = {"failed": now} if failure else {"sent": now, "delivered": now}
        message = {
            "id": delivery_id,
            "deduplicate_id": f"{delivery_id}:{now}",
            "message_template_id": template_id,
            "customer_id": person.id if person else None,
            "cio_id": person.cio_id if person else None,
            "customer_identifiers": person.identifiers() if person else dict(identifiers or {}),
            "recipient": recipient,
            "subject": subject,
            "metrics": metrics,
            "created": now,
            "failure_message": failure,
            "campaign_id": campaign_id,
            "action_id": 1 if (broadcast_id or campaign_id) else None,
            "parent_action_id": None,
            "newsletter_id": None,
            "content_id": None,
            "broadcast_id": broadcast_id,
            "trigger_id": trigger_id,
            "transactional_message_id": transactional_id,
            "trigger_event_id": None,
            "type": type,
            "forgotten": False,
            "content": content or {},
        }
        self.messages[delivery_id] = message
        if person is not None:
            self.add_activity(
                f"{'failed' if failure else 'sent'}_{type}", None, person, data={"delivery_id": delivery_id}
            )
        self.pending_deliveries.append(message)
        return message

    def drain_deliveries(self) -> list[dict[str, Any]]:
        """Take the deliveries created since the last call (the dispatcher hands them to listeners)."""
        pending, self.pending_deliveries = self.pending_deliveries, []
        return pending

    def add_webhook_delivery(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Journal one reporting-webhook event addressed to one endpoint; the sender updates the entry."""
        entry = {"id": self.next_number("webhook_delivery"), **entry}
        self.webhook_deliveries.append(entry)
        if len(self.webhook_deliveries) > MAX_WEBHOOK_DELIVERIES:
            del self.webhook_deliveries[0]
        return entry

    def record_metric(self, source: str, delivery_id: str, metric: str, timestamp: Any, extra: dict[str, Any]) -> bool:
        """Record a delivery metric; True when the delivery exists and was updated."""
        self.metrics.append(
            {"source": source, "delivery_id": delivery_id, "metric": metric, "timestamp": timestamp, **extra}
        )
        message = self.messages.get(delivery_id)
        if message is None:
            return False
        message["metrics"][metric] = timestamp if isinstance(timestamp, int) else self.now()
        return True

    def add_activity(
        self,
        type: str,
        name: str | None,
        person: Person | None,
        *,
        data: dict[str, Any] | None = None,
        timestamp: Any = None,
    ) -> dict[str, Any]:
        activity = {
            "id": self.new_ulid("activity"),
            "customer_id": person.id if person else None,
            "cio_id": person.cio_id if person else None,
            "customer_identifiers": person.identifiers() if person else None,
            "type": type,
            "name": name,
            "timestamp": timestamp if isinstance(timestamp, int) else self.now(),
            "delivery_id": (data or {}).get("delivery_id"),
            "delivery_type": None,
            "data": data or {},
        }
        self.activities.append(activity)
        return activity

    # ------------------------------------------------------------------ background work (done lazily)
    def process_due(self, resolve_audience: Callable[[Workspace, dict[str, Any]], None] | None = None) -> None:
        """Finish broadcast triggers and exports whose processing delay has passed."""
        now = self.clock()
        for trigger in self.triggers.values():
            if trigger["processed_at"] is None and now >= trigger["_due"]:
                trigger["processed_at"] = int(now)
                if resolve_audience is not None:
                    resolve_audience(self, trigger)
        for export in self.exports.values():
            if export["status"] == "pending" and now >= export["_due"]:
                export["status"] = "done"
                export["total"] = len(export.get("_rows", []))
                export["updated_at"] = int(now)

    def queued_triggers(self) -> int:
        return sum(1 for t in self.triggers.values() if t["processed_at"] is None)

    # ------------------------------------------------------------------ snapshot
    def snapshot(self) -> dict[str, Any]:
        """A JSON-serialisable copy of the whole workspace."""

        def public(d: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in d.items() if not k.startswith("_")}

        return json.loads(
            json.dumps(
                {
                    "region": self.region,
                    "environment_id": self.environment_id,
                    "people": [p.to_json() for p in self.people.values()],
                    "suppressions": self.suppressions,
                    "events": self.events,
                    "segments": [
                        {
                            **public(s),
                            "members": sorted(p.cio_id for p in self.segment_members(sid)),
                        }
                        for sid, s in sorted(self.segments.items())
                    ],
                    "object_types": list(self.object_types.values()),
                    "objects": list(self.objects.values()),
                    "relationships": [
                        {"object_type_id": t, "object_id": o, "cio_id": c, "attributes": r["attributes"]}
                        for (t, o, c), r in self.relationships.items()
                    ],
                    "campaigns": list(self.campaigns.values()),
                    "broadcasts": list(self.broadcasts.values()),
                    "triggers": [public(t) for t in self.triggers.values()],
                    "transactional_messages": list(self.templates.values()),
                    "messages": list(self.messages.values()),
                    "exports": [public(e) for e in self.exports.values()],
                    "pipelines_calls": self.pipelines_calls,
                    "aliases": self.aliases,
                    "metrics": self.metrics,
                    "forms": list(self.forms.values()),
                    "unsubscribes": self.unsubscribes,
                    "reporting_webhooks": list(self.reporting_webhooks.values()),
                    "webhook_deliveries": self.webhook_deliveries,
                    "activities": self.activities,
                    "actions": list(self.actions.values()),
                    "action_translations": list(self.action_translations.values()),
                    "newsletters": list(self.newsletters.values()),
                    "newsletter_contents": list(self.contents.values()),
                    "subscription_topics": list(self.subscription_topics.values()),
                    "sender_identities": list(self.sender_identities.values()),
                    "snippets": list(self.snippets.values()),
                    "collections": [{**public(c), "data": c["_data"]} for c in self.collections.values()],
                    "esp_suppressions": [{"type": t, **r} for (t, _), r in self.esp_suppressions.items()],
                    "imports": list(self.imports.values()),
                },
                default=str,
            )
        )
