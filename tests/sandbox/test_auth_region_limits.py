"""Authentication per API, the wrong-region answers, and the documented size limits."""

from __future__ import annotations

import base64
import json

import pytest
import requests
from canary_scan import APP_BEARER, APP_KEY, PIPELINES_AUTH, PIPELINES_KEY, SITE_ID, TRACK_AUTH, TRACK_KEY
from relaykit.sandbox import Sandbox

SECRETS = (TRACK_KEY, APP_KEY, PIPELINES_KEY)


def call(sb, connector, region, method, path, **kw):
    return requests.request(method, sb.base_urls[connector][region] + path, allow_redirects=False, timeout=10, **kw)


@pytest.mark.parametrize(
    ("connector", "method", "path", "body", "shape"),
    [
        ("customerio-track", "PUT", "/v1/customers/u1", {}, lambda b: b["meta"]["error"]),
        ("customerio-track", "POST", "/v2/entity", {}, lambda b: b["meta"]["error"]),
        ("customerio-app", "GET", "/segments", None, lambda b: b["errors"][0]["status"] == "401"),
        ("customerio-beta", "GET", "/segments", None, lambda b: b["errors"][0]["detail"]),
        ("customerio-pipelines", "POST", "/v1/track", {"userId": "u", "event": "e"}, lambda b: b["code"]),
    ],
)
def test_missing_and_wrong_credentials_get_401_in_the_api_shape(sandbox, connector, method, path, body, shape):
    wrong = {
        "customerio-track": {"auth": (SITE_ID, "nope")},
        "customerio-app": {"headers": {"Authorization": "Bearer nope"}},
        "customerio-beta": {"headers": {"Authorization": f"Basic {base64.b64encode(f'{APP_KEY}:'.encode()).decode()}"}},
        "customerio-pipelines": {"auth": ("nope", "")},
    }[connector]
    for extra in ({}, wrong):
        r = call(sandbox, connector, "us", method, path, json=body, **extra)
        assert r.status_code == 401
        assert shape(r.json())
        assert not any(secret in r.text for secret in SECRETS)
    assert {e["outcome"] for e in sandbox.journal()} == {"unauthorized"}
    assert sandbox.state()["people"] == []


def test_right_credentials_for_each_api(sandbox):
    assert (
        call(
            sandbox,
            "customerio-track",
            "us",
            "PUT",
            "/v1/customers/u",
            json={},
            auth=TRACK_AUTH,
        ).status_code
        == 200
    )
    assert (
        call(
            sandbox, "customerio-app", "us", "GET", "/segments", headers={"Authorization": APP_BEARER}
        ).status_code
        == 200
    )
    assert (
        call(
            sandbox, "customerio-beta", "us", "GET", "/segments", headers={"Authorization": f"bearer {APP_KEY}"}
        ).status_code
        == 200
    )
    assert (
        call(
            sandbox,
            "customerio-pipelines",
            "us",
            "POST",
            "/v1/track",
            json={"userId": "u", "event": "e"},
            auth=PIPELINES_AUTH,
        ).status_code
        == 200
    )


def test_track_basic_auth_accepts_url_safe_base64(make_sandbox):
    sb = make_sandbox(site_id="site", track_api_key="k>?>?")  # encodes with + and / in standard base64
    token = base64.urlsafe_b64encode(b"site:k>?>?").decode()
    assert "_" in token or "-" in token
    r = call(
        sb, "customerio-track", "us", "PUT", "/v1/customers/u", json={}, headers={"Authorization": f"Basic {token}"}
    )
    assert r.status_code == 200


def test_track_on_other_region_gets_301_to_home(sandbox):
    r = call(
        sandbox,
        "customerio-track",
        "eu",
        "POST",
        "/v1/customers/u%2F1/events?x=1",
        json={"name": "e"},
        auth=TRACK_AUTH,
    )
    assert r.status_code == 301
    assert r.headers["Location"] == f"{sandbox.url}/customerio-track/us/api/v1/customers/u%2F1/events?x=1"
    assert r.json() == {"meta": {"error": "wrong datacenter: this workspace is in region us"}}
    r = call(
        sandbox,
        "customerio-track",
        "eu",
        "POST",
        "/v2/batch",
        json={"batch": []},
        auth=TRACK_AUTH,
    )
    assert r.status_code == 301
    assert sandbox.state()["events"] == []
    assert sandbox.journal()[-1]["outcome"] == "wrong_region"


def test_eu_workspace_redirects_us_track_calls(make_sandbox):
    sb = make_sandbox(region="eu")
    r = call(
        sb, "customerio-track", "us", "PUT", "/v1/customers/u", json={}, auth=TRACK_AUTH
    )
    assert r.status_code == 301 and "/customerio-track/eu/api/" in r.headers["Location"]
    assert "region eu" in r.json()["meta"]["error"]
    r = call(
        sb, "customerio-track", "eu", "PUT", "/v1/customers/u", json={}, auth=TRACK_AUTH
    )
    assert r.status_code == 200


def test_other_apis_on_other_region_get_401(sandbox):
    r = call(sandbox, "customerio-app", "eu", "GET", "/segments", headers={"Authorization": APP_BEARER})
    assert r.status_code == 401 and "region us" in r.json()["errors"][0]["detail"]
    r = call(
        sandbox,
        "customerio-pipelines",
        "eu",
        "POST",
        "/v1/track",
        json={"userId": "u", "event": "e"},
        auth=PIPELINES_AUTH,
    )
    assert r.status_code == 401
    assert sandbox.state()["events"] == []


def test_unknown_prefix_is_404(sandbox):
    for path in ("/", "/nope/us/x", "/customerio-track/ap/api/v1/customers/u"):
        r = requests.get(sandbox.url + path, timeout=5)
        assert r.status_code == 404 and r.json()["errors"]


# ------------------------------------------------------------------------------------------------ limits
def track_put(sb, ident, body):
    return call(
        sb,
        "customerio-track",
        "us",
        "PUT",
        f"/v1/customers/{ident}",
        json=body,
        auth=TRACK_AUTH,
    )


def test_identifier_limit_counts_utf8_bytes(sandbox):
    assert track_put(sandbox, "é" * 75, {}).status_code == 200  # 150 bytes
    r = track_put(sandbox, "é" * 76, {})  # 152 bytes, 76 characters
    assert r.status_code == 400 and r.json()["meta"]["errors"]


def test_attribute_name_value_and_count_limits(sandbox):
    assert track_put(sandbox, "u", {"n" * 150: 1}).status_code == 200
    assert track_put(sandbox, "u", {"n" * 151: 1}).status_code == 400
    assert track_put(sandbox, "u", {"v": "€" * 333}).status_code == 200  # 999 bytes
    assert track_put(sandbox, "u", {"v": "€" * 334}).status_code == 400  # 1002 bytes
    assert track_put(sandbox, "u", {"id": "x" * 151}).status_code == 400
    many = {f"a{i}": i for i in range(295)}  # with cio_id, id, n*150 and v: 299
    assert track_put(sandbox, "u", many).status_code == 200
    assert track_put(sandbox, "u", {"one_more": 1}).status_code == 200  # 300
    assert track_put(sandbox, "u", {"too_many": 1}).status_code == 400  # 301
    assert track_put(sandbox, "u", {"a0": None, "too_many": 1}).status_code == 200  # removing makes room


def test_track_v1_request_cap_32kb(sandbox):
    r = track_put(sandbox, "u", {f"k{i}": "x" * 900 for i in range(40)})
    assert r.status_code == 400 and "32 KB" in r.json()["meta"]["errors"][0]


def test_track_v2_entity_and_batch_caps(sandbox):
    auth = TRACK_AUTH
    op = {
        "type": "person",
        "action": "identify",
        "identifiers": {"id": "u"},
        "attributes": {f"k{i}": "x" * 900 for i in range(40)},
    }
    r = call(sandbox, "customerio-track", "us", "POST", "/v2/entity", json=op, auth=auth)
    assert r.status_code == 400 and r.json()["errors"][0]["reason"] == "too_large"
    small = {"type": "person", "action": "identify", "identifiers": {"id": "s"}, "attributes": {"a": 1}}
    r = call(sandbox, "customerio-track", "us", "POST", "/v2/batch", json={"batch": [small, op]}, auth=auth)
    assert r.status_code == 207 and r.json()["errors"][0]["batch_index"] == 1
    huge = {"batch": [dict(small, attributes={"v": "x" * 900}) for _ in range(600)]}
    r = call(sandbox, "customerio-track", "us", "POST", "/v2/batch", json=huge, auth=auth)
    assert r.status_code == 400 and "500 KB" in r.json()["errors"][0]["message"]


def test_pipelines_oversize_is_200_and_dropped_unless_strict(sandbox):
    auth = PIPELINES_AUTH
    big = {"userId": "u", "event": "e", "properties": {"blob": "x" * 33_000}}
    r = call(sandbox, "customerio-pipelines", "us", "POST", "/v1/track", json=big, auth=auth)
    assert (r.status_code, r.json()) == (200, {})
    assert sandbox.journal()[-1]["outcome"] == "dropped"
    r = call(
        sandbox, "customerio-pipelines", "us", "POST", "/v1/track", json=big, auth=auth, headers={"X-Strict-Mode": "1"}
    )
    assert r.status_code == 400 and r.json()["code"] == "too_large"
    batch = {"batch": [{"type": "track", "userId": "u", "event": "e", "properties": {"b": "x" * 30_000}}] * 18}
    r = call(sandbox, "customerio-pipelines", "us", "POST", "/v1/batch", json=batch, auth=auth)
    assert (r.status_code, r.json()) == (200, {}) and sandbox.journal()[-1]["outcome"] == "dropped"
    item_too_big = {
        "batch": [
            {"type": "track", "userId": "u", "event": "ok"},
            {"type": "track", "userId": "u", "event": "e", "properties": {"b": "x" * 33_000}},
        ]
    }
    r = call(sandbox, "customerio-pipelines", "us", "POST", "/v1/batch", json=item_too_big, auth=auth)
    assert r.status_code == 200 and [e["name"] for e in sandbox.state()["events"]] == ["ok"]


def test_malformed_json_in_each_api_shape(sandbox):
    headers = {"Content-Type": "application/json"}
    r = call(
        sandbox,
        "customerio-track",
        "us",
        "POST",
        "/v1/customers/u/events",
        data="{x",
        headers=headers,
        auth=TRACK_AUTH,
    )
    assert r.status_code == 400 and "malformed" in r.json()["meta"]["errors"][0]
    r = call(
        sandbox,
        "customerio-app",
        "us",
        "POST",
        "/segments",
        data="[1,",
        headers={**headers, "Authorization": APP_BEARER},
    )
    assert r.status_code == 400 and r.json()["errors"][0]["status"] == "400"
    r = call(
        sandbox,
        "customerio-track",
        "us",
        "POST",
        "/v1/customers/u/events",
        data='{"name": NaN}',
        headers=headers,
        auth=TRACK_AUTH,
    )
    assert r.status_code == 400
    r = call(
        sandbox,
        "customerio-track",
        "us",
        "POST",
        "/v1/customers/u/events",
        data=b"\xff\xfe",
        headers=headers,
        auth=TRACK_AUTH,
    )
    assert r.status_code == 400
    r = call(
        sandbox,
        "customerio-track",
        "us",
        "POST",
        "/v1/customers/u/events",
        data="[]",
        headers=headers,
        auth=TRACK_AUTH,
    )
    assert r.status_code == 400


def test_wrong_method_in_track_shape(sandbox):
    r = call(sandbox, "customerio-track", "us", "GET", "/v1/customers/u", auth=TRACK_AUTH)
    assert r.status_code == 405 and set(r.headers["Allow"].split(", ")) == {"PUT", "DELETE"}
    assert r.json()["meta"]["error"]


def test_constructor_refuses_remote_host_and_bad_region():
    with pytest.raises(ValueError, match="non-loopback"):
        Sandbox(host="0.0.0.0")
    with pytest.raises(ValueError):
        Sandbox(region="ap")


def test_connection_helper_and_info(sandbox):
    conn = sandbox.connection("customerio-track", region="eu")
    assert conn == {
        "site_id": SITE_ID,
        "api_key": TRACK_KEY,
        "region": "eu",
        "sandbox_url": sandbox.url,
    }
    assert sandbox.connection("customerio-app")["api_key"] == APP_KEY
    assert sandbox.connection("customerio-pipelines")["api_key"] == PIPELINES_KEY
    info = requests.get(sandbox.url + "/_sandbox/info", timeout=5).json()
    assert info["customerio-beta"]["eu"] == f"{sandbox.url}/customerio-beta/eu/v1/api"
    assert info["customerio-pipelines"]["us"] == f"{sandbox.url}/customerio-pipelines/us"
    assert info["credentials"] == sandbox.credentials
    json.dumps(sandbox.state())
