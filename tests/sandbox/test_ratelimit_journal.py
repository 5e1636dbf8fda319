"""Rate limits per API class, the journal, and the /_sandbox/ inspection API."""

from __future__ import annotations

import requests
from canary_scan import APP_BEARER, PIPELINES_AUTH, SITE_ID, TRACK_AUTH, leaks

APP = {"Authorization": APP_BEARER}
TRACK = TRACK_AUTH


_SESSION = requests.Session()  # keep-alive: the burst tests must not spend their refill time on connects


def app_get(sb, path="/segments"):
    return _SESSION.get(sb.base_urls["customerio-app"]["us"] + path, headers=APP, timeout=5)


def test_rate_limits_are_off_by_default_in_python(sandbox):
    assert all(app_get(sandbox).status_code == 200 for _ in range(15))


def test_app_general_limit_with_computed_retry_after(sandbox):
    sandbox.set_rate_limits(True)
    codes = [app_get(sandbox) for _ in range(12)]
    assert [r.status_code for r in codes[:10]] == [200] * 10
    limited = codes[10]
    assert limited.status_code == 429
    assert limited.json()["errors"][0]["status"] == "429"
    assert int(limited.headers["Retry-After"]) >= 1
    assert sandbox.journal()[-1]["outcome"] == "rate_limited"
    # another class is not affected
    r = requests.put(sandbox.base_urls["customerio-track"]["us"] + "/v1/customers/u", json={}, auth=TRACK, timeout=5)
    assert r.status_code == 200


def test_retry_after_off_or_fixed_and_custom_classes(sandbox):
    sandbox.set_rate_limits({"retry_after": False, "classes": {"app": {"limit": 2, "per": 60}}})
    codes = [app_get(sandbox) for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    assert "Retry-After" not in codes[2].headers
    sandbox.set_rate_limits({"retry_after": "7"})
    assert [app_get(sandbox).status_code for _ in range(3)][-1] == 429
    assert app_get(sandbox).headers["Retry-After"] == "7"
    sandbox.set_rate_limits(False)
    assert app_get(sandbox).status_code == 200


def test_broadcast_trigger_one_per_ten_seconds_and_transactional_class(sandbox):
    sandbox.set_rate_limits(True)
    url = sandbox.base_urls["customerio-app"]["us"]
    first = requests.post(f"{url}/campaigns/8/triggers", json={}, headers=APP, timeout=5)
    second = requests.post(f"{url}/campaigns/8/triggers", json={}, headers=APP, timeout=5)
    assert (first.status_code, second.status_code) == (200, 429)
    assert 1 <= int(second.headers["Retry-After"]) <= 10
    sandbox.set_rate_limits({"classes": {"transactional": {"limit": 1, "per": 60}}})
    body = {"transactional_message_id": 1, "to": "a@x.io", "identifiers": {"id": "a"}}
    codes = [requests.post(f"{url}/send/email", json=body, headers=APP, timeout=5).status_code for _ in range(2)]
    assert codes == [200, 429]


def test_track_and_pipelines_429_shapes(sandbox):
    sandbox.set_rate_limits({"classes": {"track": {"limit": 1, "per": 60}, "pipelines": {"limit": 1, "per": 60}}})
    track = sandbox.base_urls["customerio-track"]["us"] + "/v1/customers/u"
    assert [requests.put(track, json={}, auth=TRACK, timeout=5).status_code for _ in range(2)] == [200, 429]
    assert requests.put(track, json={}, auth=TRACK, timeout=5).json()["meta"]["error"]
    pipe = sandbox.base_urls["customerio-pipelines"]["us"] + "/v1/track"
    calls = [
        requests.post(pipe, json={"userId": "u", "event": "e"}, auth=PIPELINES_AUTH, timeout=5)
        for _ in range(2)
    ]
    assert calls[1].status_code == 429 and calls[1].json()["code"] == "rate_limited"


def test_reset_refills_buckets(sandbox):
    sandbox.set_rate_limits({"classes": {"app": {"limit": 1, "per": 60}}})
    assert [app_get(sandbox).status_code for _ in range(2)] == [200, 429]
    sandbox.reset()
    assert app_get(sandbox).status_code == 200


# ------------------------------------------------------------------------------------------------ journal
def test_journal_entry_fields_and_masking(sandbox):
    requests.put(
        sandbox.base_urls["customerio-track"]["us"] + "/v1/customers/u?x=%2F1",
        data='{"a": "é"}'.encode(),
        auth=TRACK,
        timeout=5,
    )
    app_get(sandbox)
    track, app = sandbox.journal()
    assert set(track) >= {
        "seq",
        "time",
        "connector",
        "region",
        "method",
        "target",
        "headers",
        "body",
        "status",
        "fault",
        "outcome",
    }
    assert track["target"] == "/customerio-track/us/api/v1/customers/u?x=%2F1"
    assert (track["connector"], track["region"], track["method"], track["status"]) == (
        "customerio-track",
        "us",
        "PUT",
        200,
    )
    assert track["headers"]["Authorization"] == "Basic ***"
    assert app["headers"]["Authorization"] == "Bearer ***"
    assert "é" in track["body"] and app["body"] is None
    assert track["seq"] < app["seq"]
    dump = str(sandbox.journal())
    assert leaks(dump) == []


def test_journal_is_bounded(make_sandbox):
    sb = make_sandbox(journal_limit=5)
    for _ in range(8):
        app_get(sb)
    entries = sb.journal()
    assert [e["seq"] for e in entries] == [4, 5, 6, 7, 8]


def test_inspection_api(sandbox):
    root = sandbox.url + "/_sandbox"
    requests.put(sandbox.base_urls["customerio-track"]["us"] + "/v1/customers/u", json={}, auth=TRACK, timeout=5)
    app_get(sandbox)
    assert requests.get(f"{root}/state", timeout=5).json()["people"][0]["id"] == "u"
    entries = requests.get(f"{root}/journal?since=1", timeout=5).json()["entries"]
    assert [e["seq"] for e in entries] == [2]
    assert requests.get(f"{root}/journal?since=x", timeout=5).status_code == 400
    stats = requests.get(f"{root}/stats", timeout=5).json()
    assert stats["requests"] == 2 and stats["writes"]["customerio-track"] == 1
    assert requests.get(f"{root}/info", timeout=5).json()["credentials"]["site_id"] == SITE_ID
    r = requests.put(f"{root}/faults", json={"schedule": ["503"]}, timeout=5)
    assert r.json()["faults"] == {"schedule": ["503"]}
    assert app_get(sandbox).status_code == 503
    assert requests.put(f"{root}/faults", json="F20", timeout=5).json()["faults"]["mix"]["stall"] == 0.01
    assert requests.put(f"{root}/faults", json={"bogus": 1}, timeout=5).status_code == 400
    assert requests.put(f"{root}/faults", data="null", timeout=5).json() == {"faults": None}
    assert requests.get(f"{root}/faults", timeout=5).json() == {"faults": None}
    r = requests.put(f"{root}/rate_limits", json={"classes": {"app": {"limit": 1, "per": 60}}}, timeout=5)
    assert r.json()["rate_limits"]["enabled"] is True
    assert requests.put(f"{root}/rate_limits", json=False, timeout=5).json()["rate_limits"]["enabled"] is False
    assert requests.get(f"{root}/rate_limits", timeout=5).status_code == 200
    assert requests.post(f"{root}/reset", timeout=5).json() == {"reset": True}
    assert sandbox.journal() == [] and sandbox.state()["people"] == []
    assert requests.get(f"{root}/reset", timeout=5).status_code == 405
    assert requests.get(f"{root}/nope", timeout=5).status_code == 404
    assert "state" in requests.get(f"{root}/", timeout=5).json()["endpoints"]
    assert sandbox.journal() == []  # inspection calls are not journaled


def test_stats_count_connections_and_requests(sandbox):
    session = requests.Session()
    for _ in range(5):
        session.get(sandbox.base_urls["customerio-app"]["us"] + "/segments", headers=APP, timeout=5)
    stats = sandbox.stats()
    assert stats["requests"] == 5 and stats["connections_accepted"] == 1
    assert stats["requests_by_api"] == {"customerio-app": 5}
