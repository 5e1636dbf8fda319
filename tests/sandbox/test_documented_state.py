"""State that follows Customer.io's documented behaviour, read back through the App API and `state()`."""

from __future__ import annotations

import time
from datetime import datetime, timezone

DAY = 24 * 3600


def _attributes(cio, ident: str) -> dict:
    r = cio.app.get(f"/customers/{ident}/attributes")
    assert r.status_code == 200, r.text
    return r.json()["customer"]


def test_merge_keeps_only_the_last_30_days_of_the_secondarys_events(cio):
    now = int(time.time())
    assert cio.track.put("/v1/customers/primary", json={"email": "p@example.com"}).status_code == 200
    for name, age in (("recent", 2 * DAY), ("edge", 29 * DAY), ("old", 31 * DAY), ("ancient", 400 * DAY)):
        r = cio.track.post("/v1/customers/secondary/events", json={"name": name, "timestamp": now - age})
        assert r.status_code == 200
    cio.track.post("/v1/customers/primary/events", json={"name": "own", "timestamp": now - 90 * DAY})
    r = cio.track.post("/v1/merge_customers", json={"primary": {"id": "primary"}, "secondary": {"id": "secondary"}})
    assert r.status_code == 200
    events = cio.sb.state()["events"]
    assert sorted(e["name"] for e in events) == ["edge", "own", "recent"]
    assert {e["customer_id"] for e in events} == {"primary"}


def test_merge_through_track_v2_applies_the_same_window(cio):
    now = int(time.time())
    cio.track.put("/v1/customers/a", json={})
    cio.track.post("/v1/customers/b/events", json={"name": "fresh", "timestamp": now - DAY})
    cio.track.post("/v1/customers/b/events", json={"name": "stale", "timestamp": now - 60 * DAY})
    op = {"type": "person", "action": "merge", "primary": {"id": "a"}, "secondary": {"id": "b"}}
    assert cio.track.post("/v2/batch", json={"batch": [op]}).status_code == 200
    assert [e["name"] for e in cio.sb.state()["events"]] == ["fresh"]


def test_merge_gives_moved_attributes_their_timestamps(cio):
    cio.track.put("/v1/customers/a", json={"plan": "pro"})
    cio.track.put("/v1/customers/b", json={"city": "Oslo"})
    cio.track.post("/v1/merge_customers", json={"primary": {"id": "a"}, "secondary": {"id": "b"}})
    customer = _attributes(cio, "a")
    assert customer["attributes"]["city"] == "Oslo"
    assert set(customer["timestamps"]) == set(customer["attributes"])


def test_pipelines_backfill_timestamp_is_when_it_happened(cio):
    past = "2024-03-01T12:00:00.000Z"
    past_seconds = int(datetime(2024, 3, 1, 12, tzinfo=timezone.utc).timestamp())
    call = {"userId": "bf", "traits": {"plan": "pro"}, "timestamp": past}
    assert cio.pipelines.post("/v1/identify", json=call).status_code == 200
    track = {"userId": "bf", "event": "Ordered", "timestamp": past}
    assert cio.pipelines.post("/v1/track", json=track).status_code == 200
    assert cio.pipelines.post("/v1/page", json={"userId": "bf", "name": "Home",
                                                "timestamp": "2024-03-01T13:00:00+01:00"}).status_code == 200
    state = cio.sb.state()
    ordered, page = state["events"]
    assert ordered["timestamp"] == past_seconds and isinstance(ordered["timestamp"], int)
    assert page["timestamp"] == past_seconds  # 13:00+01:00 is 12:00Z
    assert ordered["received_at"] > past_seconds
    activity = next(a for a in state["activities"] if a["name"] == "Ordered")
    assert activity["timestamp"] == past_seconds
    assert _attributes(cio, "bf")["timestamps"]["plan"] == past_seconds
    assert state["pipelines_calls"][1]["call"]["timestamp"] == past  # the call is kept as sent


def test_pipelines_call_without_a_usable_timestamp_is_recorded_at_receipt(cio):
    before = int(time.time())
    cio.pipelines.post("/v1/track", json={"userId": "u", "event": "E", "timestamp": "yesterday-ish"})
    cio.pipelines.post("/v1/track", json={"userId": "u", "event": "F"})
    for event in cio.sb.state()["events"]:
        assert isinstance(event["timestamp"], int) and event["timestamp"] >= before


def test_broadcast_skips_unsubscribed_people(cio):
    cio.track.put("/v1/customers/sub", json={"email": "sub@example.com"})
    cio.track.put("/v1/customers/unsub", json={"email": "unsub@example.com", "unsubscribed": True})
    r = cio.app.post("/campaigns/1/triggers", json={"ids": ["sub", "unsub"]})
    assert r.status_code == 200
    messages = cio.app.get("/messages").json()["messages"]
    assert [m["customer_id"] for m in messages] == ["sub"]
    assert cio.app.get("/customers/unsub/messages").json()["messages"] == []
    trigger = cio.sb.state()["triggers"][0]
    assert trigger["deliveries"] == 1 and trigger["skipped_unsubscribed"] == 1


def test_broadcast_to_the_default_audience_skips_unsubscribed_people_too(cio):
    cio.track.put("/v1/customers/a", json={"email": "a@example.com", "unsubscribed": "true"})
    cio.track.put("/v1/customers/b", json={"email": "b@example.com"})
    cio.app.post("/campaigns/2/triggers", json={})
    assert [m["customer_id"] for m in cio.app.get("/messages").json()["messages"]] == ["b"]


def test_identify_of_a_new_id_with_an_existing_email_gives_that_person_the_id(cio):
    cio.track.put("/v1/customers/old-id", json={"email": "ada@example.com", "plan": "free"})
    r = cio.track.put("/v1/customers/new-id", json={"email": "ada@example.com", "plan": "pro"})
    assert r.status_code == 200 and cio.sb.journal()[-1]["outcome"] == "ok"
    people = cio.sb.state()["people"]
    assert len(people) == 1
    assert people[0]["id"] == "new-id" and people[0]["attributes"]["plan"] == "pro"
    assert cio.app.get("/customers/old-id/attributes").status_code == 404


def test_identify_by_a_new_email_with_an_existing_id_gives_that_person_the_email(cio):
    cio.track.put("/v1/customers/u1", json={"email": "first@example.com"})
    cio.track.put("/v1/customers/second@example.com", json={"id": "u1"})
    person = cio.sb.state()["people"][0]
    assert person["id"] == "u1" and person["email"] == "second@example.com"


def test_identify_that_would_change_an_id_without_cio_is_still_dropped(cio):
    cio.track.put("/v1/customers/u1", json={"email": "ada@example.com"})
    r = cio.track.put("/v1/customers/u2", json={"id": "u1", "email": "ada@example.com"})
    assert r.status_code == 200
    assert [p["id"] for p in cio.sb.state()["people"]] == ["u1"]
    assert cio.sb.journal()[-1]["outcome"] == "dropped"


def test_add_device_keeps_extra_device_keys_as_attributes(cio):
    device = {"id": "tok-1", "platform": "ios", "app_version": "1.2.3", "attributes": {"device_os": "17"}}
    assert cio.track.put("/v1/customers/d1/devices", json={"device": device}).status_code == 200
    op = {"type": "person", "action": "add_device", "identifiers": {"id": "d1"},
          "device": {"token": "tok-2", "platform": "android", "device_model": "Pixel", "push_enabled": True}}
    assert cio.track.post("/v2/batch", json={"batch": [op]}).status_code == 200
    devices = {d["id"]: d for d in cio.sb.state()["people"][0]["devices"]}
    assert devices["tok-1"]["attributes"] == {"app_version": "1.2.3", "device_os": "17"}
    assert devices["tok-2"]["attributes"] == {"device_model": "Pixel", "push_enabled": "true"}
    listed = _attributes(cio, "d1")["devices"]
    assert sorted(d["id"] for d in listed) == ["tok-1", "tok-2"]


def test_every_attribute_has_a_timestamp_whichever_api_set_it(cio):
    cio.pipelines.post("/v1/identify", json={"userId": "p1", "traits": {"email": "p1@example.com", "plan": "x"}})
    cio.track.put("/v1/customers/t1", json={"email": "t1@example.com", "plan": "y"})
    for ident in ("p1", "t1"):
        customer = _attributes(cio, ident)
        assert set(customer["timestamps"]) == set(customer["attributes"]) >= {"cio_id", "id", "email", "plan"}


def test_legacy_trigger_path_on_the_app_host_triggers_the_broadcast(cio):
    cio.track.put("/v1/customers/lg", json={"email": "lg@example.com"})
    r = cio.app.post("/api/campaigns/1/triggers", json={"ids": ["lg"], "data": {"x": 1}})
    assert r.status_code == 200 and isinstance(r.json()["id"], int)
    trigger = cio.app.get(f"/campaigns/1/triggers/{r.json()['id']}").json()
    assert trigger["broadcast_id"] == 1 and trigger["processed_at"] is not None
    assert [m["customer_id"] for m in cio.app.get("/messages").json()["messages"]] == ["lg"]
    assert cio.app.post("/api/campaigns/999/triggers", json={}).status_code == 404
    assert cio.app.get("/api/campaigns/1/triggers").status_code == 405  # only the POST is an alias
    assert cio.beta.post("/api/campaigns/1/triggers", json={}).status_code == 404  # Beta has no such path
