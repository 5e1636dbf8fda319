"""Every example of every dedicated operation, called against the sandbox over loopback HTTP.

Each example must succeed with an output its schema accepts (the runtime checks outputs strictly
here); the operations that change state are then read back through the sandbox's inspection API,
so an operation that renders the right request but reaches the wrong endpoint fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from relaykit import PermissionDeniedError, Runtime

CONNECTORS = ("customerio-track", "customerio-app", "customerio-beta", "customerio-pipelines")


class SimulatedTime:
    """Rate-limit waits (the broadcast class allows one call per 10 s) advance this clock instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _examples() -> list[Any]:
    with Runtime() as rt:
        return [pytest.param(f"{c}.{name}", i, id=f"{c}.{name}[{i}]")
                for c in CONNECTORS for name in rt.connector(c).operation_names
                if rt.operation(f"{c}.{name}").kind == "http"
                for i in range(len(rt.operation(f"{c}.{name}").examples))]


def _person(rt: Runtime, conn: dict[str, str], identifier: str = "42", **attributes: Any) -> None:
    rt.run("customerio-track.create_or_update_customer", {"identifier": identifier, "attributes": attributes}, conn)


def _device(rt: Runtime, conn: dict[str, str]) -> None:
    _person(rt, conn)
    rt.run("customerio-track.add_device", {"identifier": "42", "device_id": "f1e2d3c4b5a6", "platform": "ios"}, conn)


def _related(rt: Runtime, sb: Any) -> None:
    """Person 42 in a relationship with the object `acme` of type 1, made through Data Pipelines."""
    rt.run("customerio-pipelines.group", {"userId": "42", "groupId": "acme", "traits": {"name": "Acme"}},
           sb.connection("customerio-pipelines"))


# What an example needs to exist first (by the Track API, so the write path is what App reads).
PREPARE: dict[str, Callable[[Runtime, Any], None]] = {
    "customerio-track.delete_device": lambda rt, sb: _device(rt, sb.connection("customerio-track")),
    "customerio-track.suppress_customer": lambda rt, sb: _person(rt, sb.connection("customerio-track")),
    "customerio-track.unsuppress_customer": lambda rt, sb: (
        _person(rt, sb.connection("customerio-track")),
        rt.run("customerio-track.suppress_customer", {"identifier": "42"}, sb.connection("customerio-track"))),
    "customerio-track.merge_customers": lambda rt, sb: (
        _person(rt, sb.connection("customerio-track"), plan="pro"),
        _person(rt, sb.connection("customerio-track"), "ada@example.com", email="ada@example.com")),
    "customerio-track.remove_from_segment": lambda rt, sb: (
        _person(rt, sb.connection("customerio-track"), "ada@example.com", email="ada@example.com"),
        rt.run("customerio-track.add_to_segment", {"segment_id": 1, "id_type": "email", "ids": ["ada@example.com"]},
               sb.connection("customerio-track"))),
    "customerio-app.get_broadcast_trigger_status": lambda rt, sb: rt.run(
        "customerio-app.trigger_broadcast", {"broadcast_id": 8}, sb.connection("customerio-app")),
    "customerio-beta.get_broadcast_trigger_status": lambda rt, sb: rt.run(
        "customerio-beta.trigger_broadcast", {"broadcast_id": 8}, sb.connection("customerio-beta")),
    "customerio-pipelines.device_deleted": lambda rt, sb: _device(rt, sb.connection("customerio-track")),
    "customerio-track.add_to_segment": lambda rt, sb: _person(
        rt, sb.connection("customerio-track"), "ada@example.com", email="ada@example.com"),
    "customerio-pipelines.user_deleted": lambda rt, sb: _person(rt, sb.connection("customerio-track")),
    "customerio-pipelines.relationship_deleted": lambda rt, sb: _related(rt, sb),
    "customerio-pipelines.object_deleted": lambda rt, sb: _related(rt, sb),
    **{f"customerio-app.{name}": lambda rt, sb: _person(
        rt, sb.connection("customerio-track"), "ada@example.com", email="ada@example.com")
       for name in ("get_customer_attributes", "get_customer_relationships", "get_customer_segments",
                    "list_customer_activities", "list_customer_messages")},
    "customerio-app.get_export": lambda rt, sb: rt.run(
        "customerio-app.export_customers", {"filters": {"segment": {"id": 1}}}, sb.connection("customerio-app")),
    "customerio-app.get_export_download": lambda rt, sb: rt.run(
        "customerio-app.export_customers", {"filters": {"segment": {"id": 1}}}, sb.connection("customerio-app")),
    "customerio-app.get_message": lambda rt, sb: {"message_id": rt.run(
        "customerio-app.send_email", {"transactional_message_id": 1, "identifiers": {"email": "ada@example.com"},
                                      "to": "ada@example.com"}, sb.connection("customerio-app")).output["delivery_id"]},
    **{f"customerio-app.{name}": lambda rt, sb: rt.run(
        "customerio-app.create_reporting_webhook", {"name": "hook", "endpoint": "https://hooks.example.com/cio",
                                                    "events": ["email_sent"]}, sb.connection("customerio-app"))
       for name in ("get_reporting_webhook", "update_reporting_webhook", "delete_reporting_webhook")},
    "customerio-app.get_object_attributes": lambda rt, sb: _related(rt, sb),
    "customerio-app.get_object_relationships": lambda rt, sb: _related(rt, sb),
    "customerio-app.list_broadcast_trigger_errors": lambda rt, sb: rt.run(
        "customerio-app.trigger_broadcast", {"broadcast_id": 8}, sb.connection("customerio-app")),
    "customerio-pipelines.user_unsuppressed": lambda rt, sb: (
        _person(rt, sb.connection("customerio-track")),
        rt.run("customerio-track.suppress_customer", {"identifier": "42"}, sb.connection("customerio-track"))),
    # Messages and people extras, newsletters (cat-workspace): a delivery to archive, a person with preferences.
    "customerio-app.get_archived_message": lambda rt, sb: {"message_id": rt.run(
        "customerio-app.send_email", {"transactional_message_id": 1, "to": "ada@example.com", "body": "<p>Hi</p>",
                                      "identifiers": {"email": "ada@example.com"}},
        sb.connection("customerio-app")).output["delivery_id"]},
    "customerio-app.get_customer_subscription_preferences": lambda rt, sb: _person(
        rt, sb.connection("customerio-track"), "ada@example.com", email="ada@example.com",
        cio_subscription_preferences={"topics": {"topic_2": True}}),
    "customerio-app.send_newsletter": lambda rt, sb: _person(
        rt, sb.connection("customerio-track"), "ada@example.com", email="ada@example.com"),
    # Collections, imports, ESP suppression (cat-workspace).
    **{f"customerio-app.{name}": lambda rt, sb: rt.run(
        "customerio-app.create_collection", {"name": "upcoming_events", "data": [{"eventName": "Launch"}]},
        sb.connection("customerio-app"))
       for name in ("get_collection", "update_collection", "delete_collection", "get_collection_content",
                    "update_collection_content")},
    "customerio-app.get_import": lambda rt, sb: rt.run(
        "customerio-app.create_import", {"name": "plans", "data_file_url": "data:text/csv,id%2Cplan%0A42%2Cpro%0A",
                                         "type": "people", "identifier": "id"}, sb.connection("customerio-app")),
    **{f"customerio-app.{name}": lambda rt, sb: rt.run(
        "customerio-app.add_esp_suppression", {"suppression_type": "bounces", "email_address": "bounced@example.com"},
        sb.connection("customerio-app"))
       for name in ("search_esp_suppression", "remove_esp_suppression")},
}


# The sandbox workspace has no in-app or inbox channel, as a workspace without them answers (403).
REFUSED = {"customerio-app.send_in_app": PermissionDeniedError,
           "customerio-app.send_inbox_message": PermissionDeniedError}


def _people(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p.get("id") or p.get("email"): p for p in state["people"]}


def _action(state: dict[str, Any], action_id: int, language: str = "") -> dict[str, Any]:
    rows = state["action_translations"] if language else state["actions"]
    return next(a for a in rows if a["id"] == action_id and a["language"] == language)


# What each state-changing example leaves behind, read through the inspection API.
EFFECTS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "customerio-track.add_device": lambda s: any(d["id"] == "f1e2d3c4b5a6" and d["attributes"].get("app_version")
                                                 for d in _people(s)["ada@example.com"]["devices"]),
    "customerio-track.delete_device": lambda s: _people(s)["42"]["devices"] == [],
    "customerio-track.suppress_customer": lambda s: "42" not in _people(s) and len(s["suppressions"]) == 1,
    "customerio-track.unsuppress_customer": lambda s: s["suppressions"] == [],
    "customerio-track.merge_customers": lambda s: "ada@example.com" not in _people(s) and "42" in _people(s),
    "customerio-track.add_to_segment": lambda s: len(next(g for g in s["segments"] if g["id"] == 1)["members"]) >= 1,
    "customerio-track.remove_from_segment": lambda s: next(g for g in s["segments"] if g["id"] == 1)["members"] == [],
    "customerio-track.track_anonymous_event": lambda s: any(e.get("name") == "pricing_viewed" for e in s["events"]),
    "customerio-track.submit_form": lambda s: len(s["forms"]) == 1,
    "customerio-track.report_metric": lambda s: len(s["metrics"]) == 1,
    "customerio-track.report_push_metric": lambda s: len(s["metrics"]) == 1,
    "customerio-track.unsubscribe": lambda s: len(s["unsubscribes"]) == 1,
    "customerio-pipelines.device_created_or_updated": lambda s: any(
        d["id"] == "f1e2d3c4b5a6" for d in _people(s)["42"]["devices"]),
    "customerio-pipelines.device_deleted": lambda s: _people(s)["42"]["devices"] == [],
    "customerio-pipelines.user_suppressed": lambda s: len(s["suppressions"]) == 1,
    "customerio-pipelines.user_deleted": lambda s: "42" not in _people(s),
    "customerio-pipelines.relationship_deleted": lambda s: s["relationships"] == [] and len(s["objects"]) == 1,
    "customerio-pipelines.object_deleted": lambda s: s["objects"] == [],
    "customerio-pipelines.report_delivery_event": lambda s: len(s["metrics"]) == 1,
    "customerio-app.create_segment": lambda s: any(g["name"] == "Beta testers" for g in s["segments"]),
    "customerio-app.delete_segment": lambda s: all(g["id"] != 2 for g in s["segments"]),
    "customerio-app.export_customers": lambda s: len(s["exports"]) == 1,
    "customerio-app.export_deliveries": lambda s: len(s["exports"]) == 1,
    "customerio-app.send_email": lambda s: len(s["messages"]) == 1,
    "customerio-app.create_reporting_webhook": lambda s: s["reporting_webhooks"][0]["events"] == [
        "email_delivered", "email_bounced"],
    "customerio-app.update_reporting_webhook": lambda s: s["reporting_webhooks"][0]["disabled"] is True,
    "customerio-app.delete_reporting_webhook": lambda s: s["reporting_webhooks"] == [],
    "customerio-app.send_push": lambda s: len(s["messages"]) == 1,
    "customerio-app.send_sms": lambda s: len(s["messages"]) == 1,
    "customerio-track.entity": lambda s: _people(s).get("42", {}).get("attributes", {}).get("plan") == "pro"
    or any(e.get("name") == "signed_up" for e in s["events"]),
    "customerio-pipelines.user_unsuppressed": lambda s: s["suppressions"] == [],
    # Campaigns and broadcasts: action content and language variants.
    "customerio-app.update_campaign_action": lambda s: _action(s, 41)["subject"] == "Spring sale: 20% off",
    "customerio-app.update_broadcast_action": lambda s: _action(s, 81)["preheader_text"] == "This week only",
    "customerio-app.update_campaign_action_translation": lambda s: _action(s, 41, "fr")["subject"] == (
        "Soldes de printemps"),
    "customerio-app.update_broadcast_action_translation": lambda s: _action(s, 81, "fr")["subject"] == (
        "Soldes de printemps"),
    # Newsletters, snippets (cat-workspace).
    "customerio-app.update_newsletter_content": lambda s: next(
        c for c in s["newsletter_contents"] if c["id"] == 61)["subject"] == "This week: the sandbox",
    "customerio-app.update_newsletter_translation": lambda s: next(
        c for c in s["newsletter_contents"] if c["language"] == "fr")["subject"] == "Cette semaine : le bac à sable",
    "customerio-app.send_newsletter": lambda s: [m["newsletter_id"] for m in s["messages"]] == [6],
    "customerio-app.create_or_update_snippet": lambda s: any(
        n["name"] == "address" and n["value"] == "Sandbox Inc., 1 Loopback Way" for n in s["snippets"]),
    "customerio-app.delete_snippet": lambda s: all(n["name"] != "signature" for n in s["snippets"]),
    # Collections, imports, ESP suppression (cat-workspace).
    "customerio-app.create_collection": lambda s: [(c["name"], c["rows"]) for c in s["collections"]] == [
        ("upcoming_events", 1)],
    "customerio-app.update_collection": lambda s: s["collections"][0]["name"] == "events",
    "customerio-app.delete_collection": lambda s: s["collections"] == [],
    "customerio-app.update_collection_content": lambda s: s["collections"][0]["data"] == [
        {"eventName": "Winter sale", "eventDate": "2027-01-10"}],
    "customerio-app.create_import": lambda s: s["imports"][0]["state"] == "imported"
    and _people(s)["42"]["attributes"]["plan"] == "pro",
    "customerio-app.add_esp_suppression": lambda s: [r["email"] for r in s["esp_suppressions"]] == [
        "bounced@example.com"],
    "customerio-app.remove_esp_suppression": lambda s: s["esp_suppressions"] == [],
}


@pytest.mark.parametrize(("operation", "index"), _examples())
def test_example_runs_against_the_sandbox(sandbox, operation, index):
    time = SimulatedTime()
    with Runtime(clock=time.clock, sleep=time.sleep, strict_output=True) as rt:
        op = rt.operation(operation)
        same_on_app = operation.replace("customerio-beta.", "customerio-app.")  # Beta reads what App reads
        prepared = PREPARE.get(operation, PREPARE.get(same_on_app, lambda rt, sb: None))(rt, sandbox)
        data = {**op.examples[index]["input"], **(prepared if isinstance(prepared, dict) else {})}
        before = len(sandbox.journal())
        if operation in REFUSED:
            with pytest.raises(REFUSED[operation]):
                rt.run(operation, data, sandbox.connection(op.connector.name))
            assert len(sandbox.journal()) == before + 1
            return
        result = rt.run(operation, data, sandbox.connection(op.connector.name))
        assert result.status < 300
        sent = sandbox.journal()[before:]
        assert len(sent) == 1 and sent[0]["status"] == result.status
        if operation in EFFECTS:
            assert EFFECTS[operation](sandbox.state()), f"{operation}: the sandbox state does not show the call"


POST_READS = {"customerio-app.search_customers", "customerio-app.get_customers_attributes",
              "customerio-app.search_objects"}


def test_every_state_changing_catalogue_operation_is_read_back():
    """The table above covers each catalogue operation that changes state, so none passes on status alone."""
    with Runtime() as rt:
        writers = {f"{c}.{n}" for c in ("customerio-track", "customerio-pipelines", "customerio-app")
                   for n in rt.connector(c).operation_names
                   if rt.operation(f"{c}.{n}").kind == "http" and rt.operation(f"{c}.{n}").request.method != "GET"}
    writers -= POST_READS | set(REFUSED)
    older = {"customerio-track.create_or_update_customer", "customerio-track.delete_customer",  # tested elsewhere
             "customerio-track.track_event", "customerio-track.batch",
             "customerio-pipelines.identify", "customerio-pipelines.track", "customerio-pipelines.page",
             "customerio-pipelines.screen", "customerio-pipelines.group", "customerio-pipelines.alias",
             "customerio-pipelines.batch", "customerio-app.trigger_broadcast"}
    assert writers - older <= set(EFFECTS), sorted(writers - older - set(EFFECTS))
