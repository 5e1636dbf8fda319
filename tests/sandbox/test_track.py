"""Track API v1 and v2 over real HTTP: happy paths, errors, and what lands in the workspace."""

from __future__ import annotations

import json

from canary_scan import TRACK_AUTH


def person(sb, **match):
    for p in sb.state()["people"]:
        if all(p.get(k) == v for k, v in match.items()):
            return p
    return None


def test_region_lookup_answers_on_both_regions(cio):
    for region in ("us", "eu"):
        r = cio.root.get(
            f"/customerio-track/{region}/api/v1/accounts/region", auth=TRACK_AUTH
        )
        assert r.status_code == 200
        body = r.json()
        assert body["region"] == "us"
        assert body["url"] == f"{cio.sb.url}/customerio-track/us"
        assert isinstance(body["environment_id"], int)


def test_identify_creates_then_updates(cio):
    r = cio.track.put("/v1/customers/u1", json={"email": "Ann@Example.com", "plan": "pro", "seats": 3, "vip": True})
    assert (r.status_code, r.json()) == (200, {})
    assert r.headers["Content-Type"].startswith("application/json")
    p = person(cio.sb, id="u1")
    assert p["email"] == "Ann@Example.com"
    assert p["attributes"]["seats"] == "3" and p["attributes"]["vip"] == "true"
    cio.track.put("/v1/customers/u1", json={"plan": "free", "seats": None})
    p = person(cio.sb, id="u1")
    assert p["attributes"]["plan"] == "free" and "seats" not in p["attributes"]


def test_identify_by_email_is_case_insensitive_and_gains_id(cio):
    cio.track.put("/v1/customers/ann%40example.com", json={"first_name": "Ann"})
    cio.track.put("/v1/customers/ANN%40example.com", json={"id": "u7"})
    people = cio.sb.state()["people"]
    assert len(people) == 1 and people[0]["id"] == "u7"


def test_identify_with_cio_id_changes_identifiers_and_unknown_cio_id_is_dropped(cio):
    cio.track.put("/v1/customers/u1", json={"email": "a@x.io"})
    cio_id = person(cio.sb, id="u1")["cio_id"]
    assert cio.track.put(f"/v1/customers/cio_{cio_id}", json={"id": "u1-new"}).status_code == 200
    assert person(cio.sb, cio_id=cio_id)["id"] == "u1-new"
    assert cio.track.put("/v1/customers/cio_ffffffff", json={"a": 1}).status_code == 200
    assert cio.sb.journal()[-1]["outcome"] == "dropped"


def test_identify_update_only_does_not_create(cio):
    assert cio.track.put("/v1/customers/ghost", json={"_update": True, "a": 1}).status_code == 200
    assert person(cio.sb, id="ghost") is None
    assert cio.sb.journal()[-1]["outcome"] == "dropped"


def test_identify_conflicting_identifiers_is_accepted_but_not_applied(cio):
    cio.track.put("/v1/customers/u1", json={"email": "one@x.io"})
    cio.track.put("/v1/customers/u2", json={"email": "two@x.io"})
    assert cio.track.put("/v1/customers/u1", json={"email": "two@x.io"}).status_code == 200
    assert person(cio.sb, id="u1")["email"] == "one@x.io"


def test_identify_unsubscribed_rules(cio):
    for value, expected in (("TRUE", True), (1, True), ("1", True), ("yes", False), (False, False)):
        cio.track.put("/v1/customers/u1", json={"unsubscribed": value})
        assert person(cio.sb, id="u1")["unsubscribed"] is expected


def test_identify_relationships_and_subscription_preferences(cio):
    body = {
        "cio_relationships": {
            "action": "add_relationships",
            "relationships": [
                {
                    "identifiers": {"object_type_id": "1", "object_id": "acme"},
                    "relationship_attributes": {"role": "admin"},
                }
            ],
        },
        "cio_subscription_preferences.topics.topic_1": True,
    }
    assert cio.track.put("/v1/customers/u1", json=body).status_code == 200
    state = cio.sb.state()
    assert state["relationships"][0]["object_id"] == "acme"
    assert state["relationships"][0]["attributes"] == {"role": "admin"}
    prefs = json.loads(person(cio.sb, id="u1")["attributes"]["cio_subscription_preferences"])
    assert prefs == {"topics": {"topic_1": True}}
    body["cio_relationships"]["action"] = "delete_relationships"
    cio.track.put("/v1/customers/u1", json=body)
    assert cio.sb.state()["relationships"] == []


def test_identifier_with_encoded_slash_and_unicode_stays_one_segment(cio):
    assert cio.track.put("/v1/customers/a%2Fb%20%C3%A9", json={"x": 1}).status_code == 200
    assert person(cio.sb, id="a/b é") is not None


def test_delete_person(cio):
    cio.track.put("/v1/customers/u1", json={})
    assert cio.track.delete("/v1/customers/u1").json() == {}
    assert person(cio.sb, id="u1") is None
    assert cio.track.delete("/v1/customers/never-existed").status_code == 200


def test_devices_add_update_delete(cio):
    cio.track.put("/v1/customers/u1", json={})
    body = {
        "device": {
            "id": "tok/1",
            "platform": "ios",
            "last_used": 1700000000,
            "attributes": {"app_version": "1.2", "push_enabled": "true"},
        }
    }
    assert cio.track.put("/v1/customers/u1/devices", json=body).status_code == 200
    devices = person(cio.sb, id="u1")["devices"]
    assert devices[0]["id"] == "tok/1" and devices[0]["attributes"]["app_version"] == "1.2"
    assert cio.track.delete("/v1/customers/u1/devices/tok%2F1").status_code == 200
    assert person(cio.sb, id="u1")["devices"] == []


def test_device_errors(cio):
    r = cio.track.put("/v1/customers/u1/devices", json={"device": {"id": "t"}})
    assert r.status_code == 400 and r.json()["meta"]["errors"]
    r = cio.track.put("/v1/customers/u1/devices", json={})
    assert r.status_code == 400


def test_suppress_deletes_and_blocks_until_unsuppressed(cio):
    cio.track.put("/v1/customers/u1", json={"email": "s@x.io"})
    assert cio.track.post("/v1/customers/u1/suppress").status_code == 200
    assert person(cio.sb, id="u1") is None
    cio.track.put("/v1/customers/u1", json={"a": 1})
    cio.track.put("/v1/customers/s%40x.io", json={"a": 1})
    assert cio.sb.state()["people"] == []
    assert cio.sb.journal()[-1]["outcome"] == "dropped"
    assert cio.track.post("/v1/customers/s%40x.io/unsuppress").status_code == 200
    assert cio.sb.state()["suppressions"] == []
    assert person(cio.sb, id="u1") is None  # unsuppress does not restore the profile
    cio.track.put("/v1/customers/u1", json={"a": 1})
    assert person(cio.sb, id="u1") is not None


def test_person_event_and_dedupe_by_id(cio):
    ev = {"name": " purchase ", "id": "01HZZZZZZZZZZZZZZZZZZZZZZZ", "data": {"price": 9}, "timestamp": 1700000000}
    assert cio.track.post("/v1/customers/u1/events", json=ev).status_code == 200
    assert cio.track.post("/v1/customers/u1/events", json=ev).status_code == 200
    events = cio.sb.state()["events"]
    assert len(events) == 1 and events[0]["name"] == "purchase" and events[0]["customer_id"] == "u1"
    assert [e["outcome"] for e in cio.sb.journal()] == ["ok", "duplicate"]
    assert cio.sb.stats()["duplicates"]["customerio-track"] == 1


def test_event_validation(cio):
    assert cio.track.post("/v1/customers/u1/events", json={"data": {}}).status_code == 400
    assert cio.track.post("/v1/customers/u1/events", json={"name": "x", "type": "bogus"}).status_code == 400
    assert cio.track.post("/v1/customers/u1/events", json={"name": "é" * 51}).status_code == 400  # 102 bytes
    big = {"name": "x", "data": {"blob": "a" * 100_001}}
    assert cio.track.post("/v1/customers/u1/events", json=big).status_code == 400
    assert cio.sb.state()["events"] == []


def test_page_and_screen_events(cio):
    cio.track.post("/v1/customers/u1/events", json={"name": "https://x.io/a", "type": "page"})
    cio.track.post("/v1/customers/u1/events", json={"name": "Home", "type": "screen"})
    assert [e["type"] for e in cio.sb.state()["events"]] == ["page", "screen"]


def test_anonymous_event_then_identify_attaches_it(cio):
    assert (
        cio.track.post("/v1/events", json={"name": "viewed", "anonymous_id": "anon-1", "id": "e1"}).status_code == 200
    )
    assert (
        cio.track.post("/v1/events", json={"name": "viewed", "anonymous_id": "anon-1", "id": "e1"}).status_code == 200
    )
    assert cio.track.post("/v1/events", json={"name": "invite"}).status_code == 400
    cio.track.put("/v1/customers/u1", json={"anonymous_id": "anon-1"})
    events = cio.sb.state()["events"]
    assert len(events) == 1 and events[0]["customer_id"] == "u1"


def test_merge_customers(cio):
    cio.track.put("/v1/customers/p1", json={"plan": "pro"})
    cio.track.put("/v1/customers/p2", json={"plan": "free", "city": "Oslo"})
    cio.track.post("/v1/customers/p2/events", json={"name": "e"})
    r = cio.track.post("/v1/merge_customers", json={"primary": {"id": "p1"}, "secondary": {"id": "p2"}})
    assert r.status_code == 200
    p1 = person(cio.sb, id="p1")
    assert p1["attributes"]["plan"] == "pro" and p1["attributes"]["city"] == "Oslo"
    assert person(cio.sb, id="p2") is None
    assert cio.sb.state()["events"][0]["customer_id"] == "p1"


def test_merge_validation_uses_single_error_shape(cio):
    r = cio.track.post("/v1/merge_customers", json={"primary": {"id": "a", "email": "b@x"}, "secondary": {"id": "c"}})
    assert r.status_code == 400 and isinstance(r.json()["meta"]["error"], str)


def test_form_submit(cio):
    r = cio.track.post("/v1/forms/signup/submit", json={"data": {"email": "f@x.io", "name": "F", "form_name": "x"}})
    assert r.status_code == 204 and r.content == b""
    p = person(cio.sb, email="f@x.io")
    assert p["attributes"]["name"] == "F" and "form_name" not in p["attributes"]
    r = cio.track.post("/v1/forms/other/submit", json={"data": {"email_address": "g@x.io"}})
    assert r.status_code == 400
    assert {f["form_id"] for f in cio.sb.state()["forms"]} == {"signup", "other"}
    assert cio.track.post("/v1/forms/signup/submit", json={"data": {"email": "h@x.io", "n": 1}}).status_code == 400


def test_manual_segment_add_remove(cio):
    cio.track.put("/v1/customers/u1", json={"email": "u1@x.io"})
    cio.track.put("/v1/customers/u2", json={})
    assert cio.track.post("/v1/segments/1/add_customers", json={"ids": ["u1", "u2", "nobody"]}).status_code == 200
    seg = cio.sb.state()["segments"][0]
    assert len(seg["members"]) == 2
    r = cio.track.post("/v1/segments/1/remove_customers?id_type=email", json={"ids": ["u1@x.io", "u2"]})
    assert r.status_code == 200
    assert len(cio.sb.state()["segments"][0]["members"]) == 1


def test_segment_errors(cio):
    assert cio.track.post("/v1/segments/3/add_customers", json={"ids": ["u1"]}).status_code == 400  # dynamic
    assert cio.track.post("/v1/segments/999/add_customers", json={"ids": ["u1"]}).status_code == 400
    assert cio.track.post("/v1/segments/1/add_customers?id_type=phone", json={"ids": ["u1"]}).status_code == 400
    assert (
        cio.track.post("/v1/segments/1/add_customers", json={"ids": [str(i) for i in range(1001)]}).status_code == 400
    )


def test_metrics_push_events_and_unsubscribe_need_no_auth(cio):
    cio.app.post("/send/email", json={"transactional_message_id": 1, "to": "m@x.io", "identifiers": {"id": "m"}})
    delivery = cio.sb.state()["messages"][0]["id"]
    r = cio.root.post("/customerio-track/us/api/v1/metrics", json={"delivery_id": delivery, "metric": "opened"})
    assert r.status_code == 200
    assert "opened" in cio.sb.state()["messages"][0]["metrics"]
    for path in ("/customerio-track/us/api/v1/push/events", "/customerio-track/us/push/events"):
        r = cio.root.post(path, json={"delivery_id": delivery, "event": "converted", "device_id": "t"})
        assert r.status_code == 200
    assert cio.root.post("/customerio-track/us/api/v1/metrics", json={"metric": "opened"}).status_code == 400
    assert (
        cio.root.post("/customerio-track/us/api/v1/metrics", json={"delivery_id": "d", "metric": "x"}).status_code
        == 400
    )
    r = cio.root.post(f"/customerio-track/us/unsubscribe/{delivery}", json={"unsubscribe": True})
    assert r.status_code == 200
    assert person(cio.sb, id="m")["unsubscribed"] is True
    r = cio.root.post(
        f"/customerio-track/us/unsubscribe/{delivery}",
        data='{"unsubscribe": true}',
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 400


def test_v2_entity_person_and_object_operations(cio):
    ops = [
        {
            "type": "person",
            "action": "identify",
            "identifiers": {"id": "v1"},
            "attributes": {"email": "v@x.io", "a": 1},
            "cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "acme"}}],
        },
        {"type": "person", "action": "event", "identifiers": {"id": "v1"}, "name": "clicked", "id": "ev-1"},
        {"type": "person", "action": "page", "identifiers": {"email": "v@x.io"}, "name": "/pricing"},
        {
            "type": "person",
            "action": "add_device",
            "identifiers": {"id": "v1"},
            "device": {"token": "tok", "platform": "android"},
        },
        {
            "type": "object",
            "action": "identify",
            "identifiers": {"object_type_id": "1", "object_id": "acme"},
            "attributes": {"plan": "enterprise"},
            "cio_relationships": [{"identifiers": {"id": "v2"}, "relationship_attributes": {"role": "owner"}}],
        },
    ]
    for op in ops:
        r = cio.track.post("/v2/entity", json=op)
        assert (r.status_code, r.json()) == (200, {}), op
    state = cio.sb.state()
    assert {e["name"] for e in state["events"]} == {"clicked", "/pricing"}
    assert state["objects"][0]["attributes"] == {"plan": "enterprise"}
    assert len(state["relationships"]) == 2
    assert person(cio.sb, id="v1")["devices"][0]["platform"] == "android"
    r = cio.track.post("/v2/entity", json=ops[1])
    assert r.status_code == 200 and cio.sb.journal()[-1]["outcome"] == "duplicate"
    for op in (
        {"type": "person", "action": "delete_device", "identifiers": {"id": "v1"}, "device": {"token": "tok"}},
        {
            "type": "person",
            "action": "delete_relationships",
            "identifiers": {"id": "v1"},
            "cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "acme"}}],
        },
        {"type": "object", "action": "delete", "identifiers": {"object_type_id": "1", "object_id": "acme"}},
        {"type": "person", "action": "suppress", "identifiers": {"id": "v2"}},
        {"type": "person", "action": "unsuppress", "identifiers": {"id": "v2"}},
        {"type": "person", "action": "merge", "primary": {"id": "v1"}, "secondary": {"email": "nobody@x"}},
        {"type": "person", "action": "delete", "identifiers": {"id": "v1"}},
        {
            "type": "delivery",
            "action": "event",
            "identifiers": {"id": "d1"},
            "name": "opened",
            "attributes": {"device_token": "tok"},
        },
    ):
        assert cio.track.post("/v2/entity", json=op).status_code == 200, op
    state = cio.sb.state()
    assert state["objects"] == [] and state["relationships"] == [] and person(cio.sb, id="v1") is None


def test_v2_entity_errors(cio):
    r = cio.track.post(
        "/v2/entity", json={"type": "person", "action": "identify", "identifiers": {"id": "a", "email": "b"}}
    )
    assert r.status_code == 400
    err = r.json()["errors"][0]
    assert set(err) == {"reason", "field", "message"}
    r = cio.track.post("/v2/entity", json={"type": "person", "action": "identify", "identifiers": {"phone": "+1555"}})
    assert r.status_code == 400
    r = cio.track.post("/v2/entity", data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["errors"][0]["reason"] == "malformed"


def test_v2_batch_partial_errors_207(cio):
    batch = {
        "batch": [
            {"type": "person", "action": "identify", "identifiers": {"id": "b1"}, "attributes": {"x": 1}},
            {"type": "person", "action": "fly", "identifiers": {"id": "b1"}},
            {"type": "person", "action": "event", "identifiers": {"id": "b1"}, "name": "e", "id": "be1"},
            {"type": "object", "action": "identify", "identifiers": {"object_type_id": "x", "object_id": "o"}},
        ]
    }
    r = cio.track.post("/v2/batch", json=batch)
    assert r.status_code == 207
    assert [e["batch_index"] for e in r.json()["errors"]] == [1, 3]
    assert person(cio.sb, id="b1") is not None and len(cio.sb.state()["events"]) == 1
    r = cio.track.post("/v2/batch", json={"batch": batch["batch"][2:3]})
    assert (r.status_code, r.json()) == (200, {})
    assert cio.sb.journal()[-1]["outcome"] == "duplicate"
    assert cio.track.post("/v2/batch", json={"nope": []}).status_code == 400
