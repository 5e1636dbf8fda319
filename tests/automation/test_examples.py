"""Every automation in examples/ loads, dry-runs, and runs against the sandbox doing what it says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from relaykit.automation import load_automation, run_automation
from relaykit.call.ids import new_ulid

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

ALL = sorted(p.name for p in EXAMPLES.glob("*.yaml"))


def example(rt, name):
    return load_automation(rt, EXAMPLES / name)


def test_the_required_examples_exist():
    assert {"onboard_user.yaml", "backfill_events.yaml", "email_bounce.yaml"} <= set(ALL)
    assert (EXAMPLES / "README.md").is_file()


@pytest.mark.parametrize("name", ALL)
def test_every_example_loads_and_dry_runs(fast_rt, sandbox, conns, name):
    automation = example(fast_rt, name)
    inputs = {
        "onboard_user.yaml": {"user_id": "u1", "email": "u1@example.com"},
        "backfill_events.yaml": {"events": [{"person": "u1", "name": "x", "event_id": new_ulid()}]},
        "email_bounce.yaml": {"event_id": "e1", "object_type": "email", "metric": "bounced",
                              "data": {"identifiers": {"id": "u1"}}},
    }.get(name, {})
    result = run_automation(fast_rt, automation, inputs, conns, dry_run=True)
    assert result.ok, result.error
    assert sandbox.journal() == []


# -- onboard_user -------------------------------------------------------------------------------------


def test_onboard_user_creates_the_person_tracks_signup_and_sends_the_welcome(fast_rt, sandbox, conns):
    result = run_automation(fast_rt, example(fast_rt, "onboard_user.yaml"),
                            {"user_id": "ada", "email": "ada@example.com", "plan": "pro"}, conns)
    assert result.ok, result.error
    assert [s.outcome for s in result.steps.values()] == ["ok", "ok", "ok"]
    state = sandbox.state()
    (person,) = state["people"]
    assert (person["id"], person["email"], person["attributes"]["plan"]) == ("ada", "ada@example.com", "pro")
    (event,) = state["events"]
    assert (event["name"], event["customer_id"], event["data"]) == ("signed_up", "ada", {"plan": "pro"})
    (trigger,) = state["triggers"]
    assert trigger["broadcast_id"] == 1 and trigger["deliveries"] == 1
    assert [m["recipient"] for m in state["messages"]] == ["ada@example.com"]
    assert result.outputs == {"person": "ada", "signup_event_id": event["id"], "welcome_trigger_id": trigger["id"]}


def test_onboard_user_can_skip_the_welcome(fast_rt, sandbox, conns):
    result = run_automation(fast_rt, example(fast_rt, "onboard_user.yaml"),
                            {"user_id": "bob", "email": "bob@example.com", "send_welcome": False}, conns)
    assert result.ok and result.steps["welcome"].outcome == "skipped"
    assert result.outputs == {"person": "bob", "signup_event_id": sandbox.state()["events"][0]["id"]}
    assert sandbox.state()["triggers"] == []
    assert sandbox.state()["people"][0]["attributes"]["plan"] == "free"  # the input default


# -- backfill_events ----------------------------------------------------------------------------------


def test_backfill_replays_every_event_once_even_when_rerun(fast_rt, sandbox, conns):
    automation = example(fast_rt, "backfill_events.yaml")
    events = [{"person": f"p{i % 5}", "name": f"imported_{i}", "event_id": new_ulid(), "timestamp": 1700000000 + i,
               "data": {"n": i}} for i in range(25)]
    result = run_automation(fast_rt, automation, {"events": events}, conns)
    assert result.ok and result.outputs == {"total": 25}
    assert [r.input["event_id"] for r in result.steps["replay"].items] == [e["event_id"] for e in events]
    stored = {e["id"]: e for e in sandbox.state()["events"]}
    assert set(stored) == {e["event_id"] for e in events}
    assert stored[events[7]["event_id"]]["data"] == {"n": 7}
    assert stored[events[7]["event_id"]]["timestamp"] == 1700000007
    again = run_automation(fast_rt, automation, {"events": events}, conns)
    assert again.ok and len(sandbox.state()["events"]) == 25  # deduplicated by event id


def test_backfill_continues_past_a_bad_event(fast_rt, sandbox, conns):
    events = [{"person": "p", "name": "fine", "event_id": new_ulid()},
              {"person": "p", "name": "x" * 150, "event_id": new_ulid()},
              {"person": "p", "name": "fine_too", "event_id": new_ulid()}]
    result = run_automation(fast_rt, example(fast_rt, "backfill_events.yaml"), {"events": events}, conns)
    assert result.ok  # on_error: continue
    assert result.steps["replay"].counts() == {"ok": 2, "failed": 1, "skipped": 0}
    assert sorted(e["name"] for e in sandbox.state()["events"]) == ["fine", "fine_too"]
    summary = result.results["summary"]["output"]["results"]
    assert [r["ok"] for r in summary] == [True, False, True]


def test_backfill_rides_out_server_faults(fast_rt, sandbox, conns):
    sandbox.set_faults({"seed": 7, "mix": {"500": 0.1, "503": 0.1, "429": 0.1, "reset_after": 0.05}})
    events = [{"person": "p", "name": f"e{i}", "event_id": new_ulid()} for i in range(30)]
    result = run_automation(fast_rt, example(fast_rt, "backfill_events.yaml"), {"events": events}, conns,
                            sleep=lambda s: None)
    assert result.ok and result.steps["replay"].counts()["ok"] == 30
    assert len(sandbox.state()["events"]) == 30  # retried writes were deduplicated, none lost
    assert result.steps["replay"].attempts > 30


# -- email_bounce -------------------------------------------------------------------------------------


def bounce_event(metric="bounced", person="ada", **extra):
    return {"event_id": new_ulid(), "object_type": "email", "metric": metric, "timestamp": 1700000000,
            "data": {"identifiers": {"id": person, "email": f"{person}@example.com"}, "delivery_id": "dlv_1",
                     "recipient": f"{person}@example.com", "failure_message": "mailbox full"}, **extra}


def test_email_bounce_flags_the_person_and_records_it(fast_rt, sandbox, conns, echo_server):
    fast_rt.run("customerio-track.create_or_update_customer", {"identifier": "ada", "email": "ada@example.com"},
                conns["track"])
    event = bounce_event(notify_support=True, support_webhook_url=echo_server.url + "/support")
    result = run_automation(fast_rt, example(fast_rt, "email_bounce.yaml"), event, conns)
    assert result.ok, result.error
    assert result.outputs == {"handled": True}
    attributes = sandbox.state()["people"][0]["attributes"]
    assert attributes["email_bounced"] in (True, "true") and attributes["email_bounce_reason"] == "mailbox full"
    (recorded,) = sandbox.state()["events"]
    assert recorded["name"] == "email_bounced" and recorded["data"] == {"delivery_id": "dlv_1", "metric": "bounced"}
    (support,) = echo_server.requests
    assert support["path"] == "/support"
    assert json.loads(support["body"])["text"] == "Email to person ada bounced (bounced)"


@pytest.mark.parametrize("event", [
    pytest.param(bounce_event(metric="delivered"), id="delivered"),
    pytest.param(bounce_event(metric="opened"), id="opened"),
    pytest.param({**bounce_event(), "object_type": "sms"}, id="sms-bounce"),
    pytest.param(bounce_event(person=None), id="no-person-id"),
])
def test_email_bounce_ignores_other_events(fast_rt, sandbox, conns, event):
    result = run_automation(fast_rt, example(fast_rt, "email_bounce.yaml"), event, conns)
    assert result.ok and result.outputs == {}
    assert [s.outcome for s in result.steps.values()] == ["skipped", "skipped", "skipped"]
    assert sandbox.journal() == []


def test_email_bounce_never_sets_attributes_on_an_unknown_person(fast_rt, sandbox, conns):
    result = run_automation(fast_rt, example(fast_rt, "email_bounce.yaml"), bounce_event(person="ghost"), conns)
    assert result.ok
    assert result.steps["flag_person"].result.input["update_only"] is True
    for person in sandbox.state()["people"]:  # the tracked event may create a bare profile, never a flagged one
        assert "email_bounced" not in person["attributes"]
