"""App API (and the Beta path) over real HTTP: reads of what Track/Pipelines wrote, sends, broadcasts, exports."""

from __future__ import annotations

import time

import pytest
import requests
from canary_scan import APP_BEARER, TRACK_AUTH


def seed_people(cio, n=3):
    for i in range(1, n + 1):
        cio.track.put(f"/v1/customers/u{i}", json={"email": f"u{i}@x.io", "plan": "pro" if i % 2 else "free", "n": i})


def test_track_writes_are_read_back_with_string_attributes(cio):
    cio.track.put("/v1/customers/u1", json={"email": "u1@x.io", "age": 41, "ok": True, "tags": ["a", "b"]})
    cio.track.put("/v1/customers/u1/devices", json={"device": {"id": "tok", "platform": "ios"}})
    r = cio.app.get("/customers/u1/attributes")
    assert r.status_code == 200
    customer = r.json()["customer"]
    assert customer["id"] == "u1"
    assert customer["identifiers"] == {"email": "u1@x.io", "id": "u1", "cio_id": customer["identifiers"]["cio_id"]}
    assert customer["attributes"]["age"] == "41" and customer["attributes"]["ok"] == "true"
    assert customer["attributes"]["tags"] == '["a","b"]'
    assert customer["unsubscribed"] is False
    assert customer["devices"][0]["id"] == "tok" and customer["devices"][0]["platform"] == "ios"
    by_email = cio.app.get("/customers/U1%40x.io/attributes?id_type=email").json()["customer"]
    assert by_email["id"] == "u1"
    cio_id = customer["identifiers"]["cio_id"]
    assert cio.app.get(f"/customers/{cio_id}/attributes?id_type=cio_id").status_code == 200


def test_pipelines_writes_are_read_back(cio):
    cio.pipelines.post("/v1/identify", json={"userId": "p1", "traits": {"email": "p1@x.io", "plan": "team"}})
    cio.pipelines.post("/v1/track", json={"userId": "p1", "event": "Signed Up", "properties": {"x": 1}})
    attrs = cio.app.get("/customers/p1/attributes").json()["customer"]["attributes"]
    assert attrs["plan"] == "team" and attrs["email"] == "p1@x.io"
    acts = cio.app.get("/customers/p1/activities?type=event").json()["activities"]
    assert acts[0]["name"] == "Signed Up"


def test_beta_path_reads_the_same_workspace(cio):
    cio.track.put("/v1/customers/u1", json={"email": "u1@x.io"})
    app = cio.app.get("/customers/u1/attributes").json()
    beta = cio.beta.get("/customers/u1/attributes").json()
    assert app == beta
    assert cio.beta.get("/customers?email=u1%40x.io").json()["results"][0]["id"] == "u1"
    assert cio.beta.get("/customers/nobody/attributes").status_code == 404


def test_person_not_found_shape_and_bad_id_type(cio):
    r = cio.app.get("/customers/nobody/attributes")
    assert r.status_code == 404
    assert r.json() == {"errors": [{"detail": "customer not found", "status": "404"}]}
    assert cio.app.get("/customers/x/attributes?id_type=phone").status_code == 400
    assert cio.app.get("/customers/x/attributes?id_type=bogus").status_code == 400


def test_lookup_by_email(cio):
    seed_people(cio, 2)
    assert cio.app.get("/customers?email=u2%40x.io").json() == {
        "results": [
            {
                "email": "u2@x.io",
                "id": "u2",
                "cio_id": cio.app.get("/customers/u2/attributes").json()["customer"]["identifiers"]["cio_id"],
            }
        ]
    }
    assert cio.app.get("/customers?email=none%40x.io").json() == {"results": []}
    assert cio.app.get("/customers").status_code == 400


def test_attributes_for_many_ids(cio):
    seed_people(cio, 3)
    r = cio.app.post("/customers/attributes", json={"ids": ["u1", "u3", "missing"]})
    assert [c["customer"]["id"] for c in r.json()["customers"]] == ["u1", "u3"]
    assert cio.app.post("/customers/attributes", json={"ids": [str(i) for i in range(101)]}).status_code == 400
    assert cio.app.post("/customers/attributes", json={"ids": []}).status_code == 400


def test_filter_search_with_paging(cio):
    seed_people(cio, 5)
    flt = {
        "filter": {
            "and": [
                {"attribute": {"field": "plan", "operator": "eq", "value": "pro"}},
                {"not": {"attribute": {"field": "n", "operator": "eq", "value": 5}}},
            ]
        }
    }
    first = cio.app.post("/customers?limit=1", json=flt).json()
    assert first["ids"] == ["u1"] and first["next"]
    second = cio.app.post(f"/customers?limit=1&start={first['next']}", json=flt).json()
    assert second["ids"] == ["u3"] and second["next"] == ""
    assert cio.app.post("/customers", json={"filter": {"bogus": 1}}).status_code == 400
    assert cio.app.post("/customers?limit=1001", json=flt).status_code == 400
    assert cio.app.post("/customers?start=garbage!", json=flt).status_code == 400
    everyone = cio.app.post("/customers", json={"filter": {"attribute": {"field": "email", "operator": "exists"}}})
    assert len(everyone.json()["identifiers"]) == 5


def test_segments_list_get_create_membership_count_delete(cio):
    seed_people(cio, 2)
    segs = cio.app.get("/segments").json()["segments"]
    assert {s["type"] for s in segs} == {"manual", "dynamic"}
    r = cio.app.post("/segments", json={"segment": {"name": "VIPs", "description": "big"}})
    assert r.status_code == 200
    seg = r.json()["segment"]
    assert seg["type"] == "manual" and seg["name"] == "VIPs"
    sid = seg["id"]
    cio.track.post(f"/v1/segments/{sid}/add_customers", json={"ids": ["u1", "u2"]})
    assert cio.app.get(f"/segments/{sid}").json()["segment"]["id"] == sid
    assert cio.app.get(f"/segments/{sid}/customer_count").json() == {"segment_id": sid, "count": 2}
    page = cio.app.get(f"/segments/{sid}/membership?limit=1").json()
    assert page["ids"] == ["u1"] and page["identifiers"][0]["email"] == "u1@x.io" and page["next"]
    assert cio.app.get(f"/segments/{sid}/membership?start={page['next']}").json()["ids"] == ["u2"]
    assert [s["id"] for s in cio.app.get("/customers/u1/segments").json()["segments"]] == [3, sid]
    assert cio.app.get("/segments/3/customer_count").json()["count"] == 2  # dynamic: people with an email
    assert cio.app.delete(f"/segments/{sid}").status_code == 204
    assert cio.app.get(f"/segments/{sid}").status_code == 404
    assert cio.app.post("/segments", json={"segment": {}}).status_code == 400


def test_campaigns(cio):
    campaigns = cio.app.get("/campaigns").json()["campaigns"]
    assert {c["id"] for c in campaigns} == {4, 5}
    assert cio.app.get("/campaigns/4").json()["campaign"]["event_name"] == "signed_up"
    assert "metric" in cio.app.get("/campaigns/4/metrics").json()
    assert cio.app.get("/campaigns/999").status_code == 404


def test_transactional_email_push_sms(cio):
    cio.track.put("/v1/customers/u1", json={"email": "u1@x.io"})
    r = cio.app.post(
        "/send/email",
        json={
            "transactional_message_id": "WELCOME",
            "to": "u1@x.io",
            "identifiers": {"id": "u1"},
            "message_data": {"a": 1},
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"delivery_id", "queued_at"} and isinstance(body["queued_at"], int)
    r = cio.app.post(
        "/send/push",
        json={
            "transactional_message_id": 2,
            "identifiers": {"id": "u1"},
            "custom_device": {"token": "tok", "platform": "android"},
        },
    )
    assert r.status_code == 200
    r = cio.app.post(
        "/send/sms", json={"transactional_message_id": 3, "to": "+15555550100", "identifiers": {"email": "u1@x.io"}}
    )
    assert r.status_code == 200
    msgs = cio.app.get("/customers/u1/messages").json()["messages"]
    assert [m["type"] for m in msgs] == ["sms", "push", "email"]
    assert cio.app.get(f"/messages/{body['delivery_id']}").json()["message"]["recipient"] == "u1@x.io"
    assert cio.app.get("/customers/u1/attributes").json()["customer"]["devices"][0]["id"] == "tok"
    assert len(cio.app.get("/messages?type=email").json()["messages"]) == 1
    assert [t["id"] for t in cio.app.get("/transactional").json()["messages"]] == [1, 2, 3]
    assert cio.app.get("/transactional/2").json()["message"]["type"] == "push"


def test_transactional_errors_use_meta_error(cio):
    cases = [
        ("/send/email", {"transactional_message_id": 1, "identifiers": {"id": "u1"}}),  # no to
        ("/send/push", {"identifiers": {"id": "u1"}}),  # template required
        ("/send/sms", {"transactional_message_id": 3, "identifiers": {"id": "u1"}}),  # no to
        ("/send/email", {"transactional_message_id": 2, "to": "a@x.io", "identifiers": {"id": "u1"}}),  # push tmpl
        (
            "/send/email",
            {
                "transactional_message_id": 1,
                "to": ",".join(f"a{i}@x.io" for i in range(16)),
                "identifiers": {"id": "u1"},
            },
        ),
        ("/send/email", {"transactional_message_id": 1, "to": "a@x.io", "identifiers": {"id": "u1", "email": "x"}}),
    ]
    for path, body in cases:
        r = cio.app.post(path, json=body)
        assert r.status_code == 400, (path, body)
        assert isinstance(r.json()["meta"]["error"], str)
    r = cio.app.post(
        "/send/email", json={"transactional_message_id": "nope", "to": "a@x.io", "identifiers": {"id": "u1"}}
    )
    assert r.status_code == 404
    r = cio.app.post(
        "/send/email",
        json={
            "transactional_message_id": "brand_new",
            "auto_create": True,
            "to": "a@x.io",
            "identifiers": {"id": "u1"},
        },
    )
    assert r.status_code == 200
    assert cio.app.post("/send/in_app", json={}).status_code == 403
    assert cio.app.post("/send/email", data="{", headers={"Content-Type": "application/json"}).status_code == 400


def test_send_to_unsubscribed_false_records_a_failed_delivery(cio):
    cio.track.put("/v1/customers/u1", json={"email": "u1@x.io", "unsubscribed": True})
    r = cio.app.post(
        "/send/email",
        json={
            "transactional_message_id": 1,
            "to": "u1@x.io",
            "identifiers": {"id": "u1"},
            "send_to_unsubscribed": False,
        },
    )
    assert r.status_code == 200
    message = cio.app.get(f"/messages/{r.json()['delivery_id']}").json()["message"]
    assert "failed" in message["metrics"] and message["failure_message"]


def test_broadcast_trigger_status_and_deliveries(cio):
    seed_people(cio, 2)
    assert {b["id"] for b in cio.app.get("/broadcasts").json()["broadcasts"]} == {1, 2, 3, 8}
    assert cio.app.get("/broadcasts/8").json()["broadcast"]["type"] == "triggered_broadcast"
    r = cio.app.post("/campaigns/8/triggers", json={"data": {"headline": "hi"}, "ids": ["u1", "u2"]})
    assert r.status_code == 200
    tid = r.json()["id"]
    status = cio.app.get(f"/campaigns/8/triggers/{tid}").json()
    assert status["id"] == tid and status["broadcast_id"] == 8 and status["processed_at"] is not None
    assert cio.app.get("/broadcasts/8/triggers").json()["triggers"][0]["id"] == tid
    assert cio.app.get(f"/campaigns/8/triggers/{tid}/errors").json() == {"errors": [], "next": ""}
    assert len([m for m in cio.sb.state()["messages"] if m["broadcast_id"] == 8]) == 2
    assert "metric" in cio.app.get("/broadcasts/8/metrics").json()


def test_broadcast_trigger_missing_people_and_validation(cio):
    seed_people(cio, 1)
    tid = cio.app.post("/campaigns/1/triggers", json={"emails": ["u1@x.io", "ghost@x.io"]}).json()["id"]
    errors = cio.app.get(f"/campaigns/1/triggers/{tid}/errors").json()["errors"]
    assert errors and errors[0]["field"] == "emails"
    assert cio.sb.state()["messages"] == []
    cio.app.post("/campaigns/1/triggers", json={"emails": ["u1@x.io", "ghost@x.io"], "email_ignore_missing": True})
    assert len(cio.sb.state()["messages"]) == 1
    assert cio.app.post("/campaigns/1/triggers", json={"ids": ["u1"], "emails": ["u1@x.io"]}).status_code == 422
    assert cio.app.post("/campaigns/1/triggers", json={"data": {"x": "a" * 50_001}}).status_code == 422
    assert cio.app.post("/campaigns/77/triggers", json={}).status_code == 404
    assert cio.app.get(f"/campaigns/2/triggers/{tid}").status_code == 404


def test_broadcast_five_queued_limit(make_sandbox):
    sb = make_sandbox(processing_delay=60)
    s = requests.Session()
    s.headers["Authorization"] = APP_BEARER
    base = sb.base_urls["customerio-app"]["us"]
    codes = [s.post(f"{base}/campaigns/8/triggers", json={}).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    assert s.get(f"{base}/campaigns/8/triggers/1").json()["processed_at"] is None
    assert sb.journal()[5]["outcome"] == "rate_limited"


def test_exports_create_status_download(make_sandbox):
    sb = make_sandbox(processing_delay=0.05)
    s = requests.Session()
    s.headers["Authorization"] = APP_BEARER
    app = sb.base_urls["customerio-app"]["us"]
    s.put(
        f"{sb.base_urls['customerio-track']['us']}/v1/customers/u1",
        json={"email": "u1@x.io", "plan": "pro"},
        auth=TRACK_AUTH,
    )
    r = s.post(
        f"{app}/exports/customers",
        json={"filters": {"attribute": {"field": "plan", "operator": "eq", "value": "pro"}}, "attributes": ["plan"]},
    )
    export = r.json()["export"]
    assert export["status"] == "pending" and export["type"] == "customers"
    assert s.get(f"{app}/exports/{export['id']}/download").status_code == 400
    time.sleep(0.1)
    done = s.get(f"{app}/exports/{export['id']}").json()["export"]
    assert done["status"] == "done" and done["total"] == 1
    url = s.get(f"{app}/exports/{export['id']}/download").json()["url"]
    rows = s.get(url).text.splitlines()
    assert len(rows) == 1 and '"plan":"pro"' in rows[0]
    assert len(s.get(f"{app}/exports").json()["exports"]) == 1
    assert s.post(f"{app}/exports/customers", json={}).status_code == 400
    r = s.post(f"{app}/exports/deliveries", json={"broadcast_id": 8})
    assert r.json()["export"]["type"] == "deliveries"
    assert s.get(f"{app}/exports/999").status_code == 404


def test_objects_types_search_attributes_relationships(cio):
    cio.pipelines.post(
        "/v1/group",
        json={
            "userId": "u1",
            "groupId": "acme",
            "traits": {"name": "Acme", "plan": "gold", "relationshipAttributes": {"r": 1}},
        },
    )
    cio.pipelines.post("/v1/group", json={"userId": "u2", "groupId": "beta", "traits": {"name": "Beta"}})
    assert cio.app.get("/object_types").json()["types"][0]["id"] == 1
    r = cio.app.post(
        "/objects",
        json={
            "object_type_id": "1",
            "filter": {"object_attribute": {"field": "plan", "operator": "eq", "value": "gold"}},
        },
    )
    assert r.json()["ids"] == ["acme"]
    assert cio.app.post("/objects", json={"filter": {}}).status_code == 400
    obj = cio.app.get("/objects/1/acme/attributes").json()["object"]
    assert obj["attributes"]["name"] == "Acme"
    rels = cio.app.get("/objects/1/acme/relationships").json()["cio_relationships"]
    assert rels[0]["identifiers"]["id"] == "u1" and rels[0]["relationship_attributes"] == {"r": "1"}
    mine = cio.app.get("/customers/u1/relationships").json()["cio_relationships"]
    assert mine[0]["identifiers"] == {"object_type_id": "1", "object_id": "acme"}
    assert cio.app.get("/objects/1/nope/attributes").status_code == 404


def test_activities_endpoint(cio):
    cio.track.post("/v1/customers/u1/events", json={"name": "a"})
    cio.track.post("/v1/customers/u2/events", json={"name": "b"})
    acts = cio.app.get("/activities?type=event").json()
    assert [a["name"] for a in acts["activities"]] == ["b", "a"]
    assert [a["name"] for a in cio.app.get("/activities?customer_id=u1&type=event").json()["activities"]] == ["a"]
    assert cio.app.get("/activities?customer_id=ghost").json() == {"activities": [], "next": ""}


@pytest.mark.parametrize("client", ["app", "beta"])
def test_unknown_path_and_wrong_method(cio, client):
    api = getattr(cio, client)
    r = api.get("/nope")
    assert r.status_code == 404 and r.json()["errors"][0]["status"] == "404"
    r = api.put("/segments")
    assert r.status_code == 405 and "GET" in r.headers["Allow"]
