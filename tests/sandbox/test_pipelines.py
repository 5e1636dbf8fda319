"""Pipelines API over real HTTP: the calls, semantic events, messageId dedupe, permissive vs strict mode."""

from __future__ import annotations

import gzip
import json

STRICT = {"X-Strict-Mode": "1"}


def people(sb):
    return {p["id"]: p for p in sb.state()["people"]}


def test_identify_track_page_screen_alias(cio):
    for path, body in (
        ("/v1/identify", {"userId": "u1", "anonymousId": "a1", "traits": {"email": "u1@x.io", "createdAt": "2024"}}),
        ("/v1/track", {"userId": "u1", "event": "Clicked", "properties": {"x": 1}, "messageId": "m-1"}),
        ("/v1/page", {"userId": "u1", "name": "Pricing", "properties": {"url": "https://x.io/p"}}),
        ("/v1/screen", {"anonymousId": "a2", "name": "Home"}),
        ("/v1/alias", {"userId": "u1", "previousId": "a1"}),
    ):
        r = cio.pipelines.post(path, json=body)
        assert (r.status_code, r.json()) == (200, {}), path
    state = cio.sb.state()
    assert people(cio.sb)["u1"]["attributes"]["created_at"] == "2024"
    assert [(e["type"], e["name"]) for e in state["events"]] == [
        ("event", "Clicked"),
        ("page", "Pricing"),
        ("screen", "Home"),
    ]
    assert state["events"][2]["anonymous_id"] == "a2"
    assert state["aliases"][0] == {"previousId": "a1", "userId": "u1", "at": state["aliases"][0]["at"]}
    assert [c["type"] for c in state["pipelines_calls"]] == ["identify", "track", "page", "screen", "alias"]


def test_identify_by_email_only(cio):
    assert cio.pipelines.post("/v1/identify", json={"userId": "", "traits": {"email": "e@x.io"}}).status_code == 200
    assert cio.sb.state()["people"][0]["email"] == "e@x.io"


def test_message_id_dedupe_counts_duplicates(cio):
    call = {"userId": "u1", "event": "Paid", "messageId": "msg-1"}
    for _ in range(3):
        assert cio.pipelines.post("/v1/track", json=call).status_code == 200
    assert len(cio.sb.state()["events"]) == 1
    assert len(cio.sb.state()["pipelines_calls"]) == 1
    stats = cio.sb.stats()
    assert stats["duplicates"]["customerio-pipelines"] == 2 and stats["writes"]["customerio-pipelines"] == 1


def test_batch_with_shared_context_and_dedupe(cio):
    body = {
        "batch": [
            {"type": "identify", "userId": "b1", "traits": {"plan": "pro"}, "messageId": "b-1"},
            {"type": "track", "userId": "b1", "event": "E", "messageId": "b-2"},
            {"type": "track", "userId": "b1", "event": "E", "messageId": "b-2"},
            {"type": "bogus", "userId": "b1"},
        ],
        "context": {"ip": "127.0.0.1"},
        "integrations": {"All": True},
    }
    r = cio.pipelines.post("/v1/batch", json=body)
    assert (r.status_code, r.json()) == (200, {})
    calls = cio.sb.state()["pipelines_calls"]
    assert [c["messageId"] for c in calls] == ["b-1", "b-2"]
    assert calls[0]["call"]["context"] == {"ip": "127.0.0.1"}
    assert cio.sb.journal()[-1]["outcome"] == "partial"
    r = cio.pipelines.post("/v1/batch", json=body, headers=STRICT)
    assert r.status_code == 400 and r.json()["code"] == "invalid_type"


def test_gzip_batch_is_accepted(cio):
    raw = gzip.compress(json.dumps({"batch": [{"type": "track", "userId": "g", "event": "Z"}]}).encode())
    r = cio.pipelines.post(
        "/v1/batch", data=raw, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
    )
    assert r.status_code == 200 and cio.sb.state()["events"][0]["name"] == "Z"


def test_semantic_events_change_state(cio):
    p = cio.pipelines
    p.post("/v1/identify", json={"userId": "s1", "traits": {"email": "s1@x.io"}})
    p.post(
        "/v1/track",
        json={
            "userId": "s1",
            "event": "Device Created or Updated",
            "context": {"device": {"token": "tok", "type": "ios", "model": "X"}},
        },
    )
    assert people(cio.sb)["s1"]["devices"][0]["platform"] == "ios"
    p.post("/v1/track", json={"userId": "s1", "event": "Device Deleted", "context": {"device": {"token": "tok"}}})
    assert people(cio.sb)["s1"]["devices"] == []
    p.post("/v1/group", json={"userId": "s1", "groupId": "acme", "traits": {"name": "Acme"}})
    p.post("/v1/track", json={"userId": "s1", "event": "Relationship Deleted", "properties": {"objectId": "acme"}})
    assert cio.sb.state()["relationships"] == []
    p.post("/v1/track", json={"anonymousId": "x", "event": "Object Deleted", "properties": {"objectId": "acme"}})
    assert cio.sb.state()["objects"] == []
    delivery = cio.app.post(
        "/send/email", json={"transactional_message_id": 1, "to": "s1@x.io", "identifiers": {"id": "s1"}}
    ).json()["delivery_id"]
    p.post(
        "/v1/track",
        json={
            "anonymousId": "x",
            "event": "Report Delivery Event",
            "properties": {"deliveryId": delivery, "metric": "clicked"},
        },
    )
    assert "clicked" in cio.sb.state()["messages"][0]["metrics"]
    p.post("/v1/track", json={"userId": "s1", "event": "User Suppressed"})
    assert "s1" not in people(cio.sb)
    p.post("/v1/identify", json={"userId": "s1", "traits": {"a": 1}})
    assert "s1" not in people(cio.sb)
    p.post("/v1/track", json={"userId": "s1", "event": "User Unsuppressed"})
    p.post("/v1/identify", json={"userId": "s1", "traits": {"a": 1}})
    assert "s1" in people(cio.sb)
    p.post("/v1/track", json={"userId": "s1", "event": "User Deleted"})
    assert "s1" not in people(cio.sb)
    # semantic events are not stored as ordinary events
    assert cio.sb.state()["events"] == []


def test_invalid_calls_are_dropped_with_200_or_rejected_in_strict_mode(cio):
    bad = [
        ("/v1/track", {"userId": "u"}),  # no event
        ("/v1/identify", {"traits": {"plan": "x"}}),  # no identifier
        ("/v1/alias", {"userId": "u"}),
        ("/v1/group", {"userId": "u"}),
        ("/v1/track", {"event": "Device Deleted", "userId": "u"}),  # no token
        ("/v1/track", {"event": "Report Delivery Event", "properties": {"deliveryId": "d", "metric": "bogus"}}),
    ]
    for path, body in bad:
        r = cio.pipelines.post(path, json=body)
        assert (r.status_code, r.json()) == (200, {}), body
        assert cio.sb.journal()[-1]["outcome"] == "dropped"
        r = cio.pipelines.post(path, json=body, headers=STRICT)
        assert r.status_code == 400, body
        assert set(r.json()) == {"code", "message"}
    r = cio.pipelines.post("/v1/track", data="{oops", headers={"Content-Type": "application/json", **STRICT})
    assert r.status_code == 400 and r.json()["code"] == "invalid_json"
    assert cio.sb.state()["pipelines_calls"] == []


def test_wrong_method_and_unknown_path(cio):
    r = cio.pipelines.get("/v1/track")
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    assert cio.pipelines.post("/v1/nope", json={}).status_code == 404
