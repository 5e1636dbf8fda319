"""The call path end to end: every seed operation over real loopback HTTP against the sandbox."""

from __future__ import annotations

import json

import pytest
from canary_scan import SPARE_CREDENTIALS, leaks
from relaykit import (
    AuthenticationError,
    InputValidationError,
    NotFoundError,
    RateLimitError,
    RegionMismatchError,
    Runtime,
    ServerError,
)


@pytest.fixture
def rt_fast():
    """A runtime that never really sleeps (backoff waits are recorded instead)."""
    waits: list[float] = []
    runtime = Runtime(sleep=waits.append)
    runtime.waits = waits
    yield runtime
    runtime.close()


def api_requests(sandbox, connector=None):
    return [e for e in sandbox.journal() if connector is None or e["connector"] == connector]


def test_track_identify_then_app_reads_attributes_back(rt, sandbox):
    track, app = sandbox.connection("customerio-track"), sandbox.connection("customerio-app")
    result = rt.run("customerio-track.create_or_update_customer",
                    {"identifier": "ada@example.com", "email": "ada@example.com",
                     "attributes": {"plan": "pro", "first_name": "Ada"}}, track)
    assert result.status == 200 and result.output == {"accepted": True}
    read = rt.run("customerio-app.raw_http_request",
                  {"method": "GET", "endpoint": "/customers/ada%40example.com/attributes",
                   "query": {"id_type": "email"}}, app)
    customer = read.output["body"]["customer"]
    assert customer["attributes"]["plan"] == "pro"
    assert customer["attributes"]["first_name"] == "Ada"
    entry = api_requests(sandbox, "customerio-track")[-1]
    assert entry["method"] == "PUT" and entry["target"] == "/customerio-track/us/api/v1/customers/ada%40example.com"
    assert leaks(json.dumps(entry)) == []


def test_track_event_carries_a_ulid_and_lands_once(rt, sandbox):
    out = rt.run("customerio-track.track_event",
                 {"identifier": "u/1", "name": "signed_up", "data": {"plan": "pro"}},
                 sandbox.connection("customerio-track")).output
    assert out["accepted"] is True and len(out["event_id"]) == 26
    entry = api_requests(sandbox, "customerio-track")[-1]
    assert entry["target"] == "/customerio-track/us/api/v1/customers/u%2F1/events"
    assert json.loads(entry["body"])["id"] == out["event_id"]


def test_delete_customer_then_lookup_is_not_found(rt, sandbox):
    track, app = sandbox.connection("customerio-track"), sandbox.connection("customerio-app")
    rt.run("customerio-track.create_or_update_customer", {"identifier": "gone-1", "attributes": {"a": "b"}}, track)
    assert rt.run("customerio-track.delete_customer", {"identifier": "gone-1"}, track).output == {"deleted": True}
    with pytest.raises(NotFoundError) as info:
        rt.run("customerio-app.raw_http_request", {"method": "GET", "endpoint": "/customers/gone-1/attributes"}, app)
    assert info.value.status == 404 and not info.value.retryable
    data = rt.run("customerio-app.raw_http_request", {"method": "GET", "endpoint": "/customers/gone-1/attributes",
                                                      "fail_on_http_error": False}, app).output
    assert data["status"] == 404


@pytest.mark.parametrize("connector", ["customerio-app", "customerio-beta"])
def test_trigger_broadcast_and_read_its_status(rt, sandbox, connector):
    conn = sandbox.connection(connector)
    trigger = rt.run(f"{connector}.trigger_broadcast", {"broadcast_id": 8, "data": {"headline": "hi"}}, conn).output
    assert isinstance(trigger["id"], int)
    status = rt.run(f"{connector}.get_broadcast_trigger_status",
                    {"broadcast_id": 8, "trigger_id": trigger["id"]}, conn).output
    assert status["id"] == trigger["id"] and status["broadcast_id"] == 8
    base = "/customerio-app/us/v1" if connector == "customerio-app" else "/customerio-beta/us/v1/api"
    assert api_requests(sandbox, connector)[-1]["target"] == f"{base}/campaigns/8/triggers/{trigger['id']}"


@pytest.mark.parametrize(("operation", "data"), [
    pytest.param("identify", {"userId": "u1", "traits": {"email": "u1@example.com"}}, id="identify"),
    pytest.param("track", {"userId": "u1", "event": "Clicked", "properties": {"x": 1}}, id="track"),
    pytest.param("page", {"anonymousId": "a1", "name": "Home"}, id="page"),
    pytest.param("screen", {"userId": "u1", "name": "Settings"}, id="screen"),
    pytest.param("group", {"userId": "u1", "groupId": "acme", "traits": {"name": "Acme"}}, id="group"),
    pytest.param("alias", {"userId": "u1", "previousId": "a1"}, id="alias"),
])
def test_pipelines_calls(rt, sandbox, operation, data):
    backfill = {**data, "timestamp": "2025-05-06T07:08:09Z", "messageId": f"msg-{operation}-1"}
    result = rt.run(f"customerio-pipelines.{operation}", backfill, sandbox.connection("customerio-pipelines"))
    assert result.status == 200 and result.output["messageId"] == f"msg-{operation}-1"
    entry = api_requests(sandbox, "customerio-pipelines")[-1]
    assert entry["target"] == f"/customerio-pipelines/us/v1/{operation}"
    body = json.loads(entry["body"])
    assert body["timestamp"] == "2025-05-06T07:08:09Z" and body["messageId"] == f"msg-{operation}-1"
    assert entry["headers"].get("X-Strict-Mode") == "1"


def test_pipelines_batch_gives_every_item_a_message_id(rt, sandbox):
    batch = [{"type": "track", "userId": "u2", "event": f"E{i}"} for i in range(3)]
    rt.run("customerio-pipelines.batch", {"batch": batch}, sandbox.connection("customerio-pipelines"))
    body = json.loads(api_requests(sandbox, "customerio-pipelines")[-1]["body"])
    ids = [item["messageId"] for item in body["batch"]]
    assert len(set(ids)) == 3 and all(len(i) == 26 for i in ids)


def test_raw_http_region_lookup(rt, sandbox):
    out = rt.run("customerio-track.raw_http_request", {"method": "GET", "endpoint": "/v1/accounts/region"},
                 sandbox.connection("customerio-track")).output
    assert out["status"] == 200 and out["body"]["region"] == "us"


def test_wrong_region_is_a_region_mismatch_naming_the_right_one_and_never_followed(rt, sandbox):
    conn = sandbox.connection("customerio-track", region="eu")
    with pytest.raises(RegionMismatchError) as info:
        rt.run("customerio-track.track_event", {"identifier": "ada", "name": "x"}, conn)
    assert info.value.region == "us" and "'us'" in str(info.value)
    assert len(api_requests(sandbox)) == 1  # the 301 was not followed


def test_wrong_credentials_are_an_authentication_error_without_the_key(rt, sandbox):
    conn = {**sandbox.connection("customerio-app"), "api_key": SPARE_CREDENTIALS["app_api_key"]}
    with pytest.raises(AuthenticationError) as info:
        rt.run("customerio-app.get_broadcast_trigger_status", {"broadcast_id": 8, "trigger_id": 1}, conn)
    text = str(info.value) + repr(info.value.to_dict())
    assert info.value.status == 401 and leaks(text) == []
    assert "Check" in text  # the connector's hint


def test_invalid_input_sends_nothing(rt, sandbox):
    with pytest.raises(InputValidationError) as info:
        rt.run("customerio-track.track_event", {"identifier": "..", "name": "x", "timestamp": 1700000000000},
               sandbox.connection("customerio-track"))
    pointers = {p.pointer for p in info.value.problems}
    assert "/identifier" in pointers
    assert api_requests(sandbox) == []


def test_server_error_is_retried_for_keyed_operations(rt_fast, sandbox):
    sandbox.set_faults({"schedule": [{"kind": "status", "status": 503}, None]})
    result = rt_fast.run("customerio-track.track_event", {"identifier": "r1", "name": "x"},
                         sandbox.connection("customerio-track"))
    assert result.attempts == 2 and len(rt_fast.waits) == 1
    bodies = [json.loads(e["body"]) for e in api_requests(sandbox, "customerio-track")]
    assert bodies[0]["id"] == bodies[1]["id"]  # the same dedupe id on both attempts


def test_unsafe_operation_is_not_resent_after_a_server_error(rt_fast, sandbox):
    sandbox.set_faults({"schedule": [{"kind": "status", "status": 500}]})
    with pytest.raises(ServerError) as info:
        rt_fast.run("customerio-app.trigger_broadcast", {"broadcast_id": 8}, sandbox.connection("customerio-app"))
    assert info.value.attempts == 1 and not info.value.retryable  # no layer above may resend it either
    assert "not retried" in str(info.value)
    assert len(api_requests(sandbox, "customerio-app")) == 1


def test_reset_after_commit_is_absorbed_by_the_dedupe_id(rt_fast, sandbox):
    sandbox.set_faults({"schedule": [{"kind": "reset_after"}, None]})
    result = rt_fast.run("customerio-track.track_event", {"identifier": "r2", "name": "x"},
                         sandbox.connection("customerio-track"))
    assert result.attempts == 2
    assert sandbox.stats()["duplicates"]["customerio-track"] == 1


def test_retry_after_beyond_the_ceiling_raises_at_once(rt_fast, sandbox):
    sandbox.set_faults({"schedule": [{"kind": "429", "retry_after": "3600"}]})
    with pytest.raises(RateLimitError) as info:
        rt_fast.run("customerio-track.track_event", {"identifier": "r3", "name": "x"},
                    sandbox.connection("customerio-track"))
    assert info.value.retry_after == 3600 and rt_fast.waits == []
