"""Fault injection over real sockets: each kind, reproducibility, schedules, filters and the F20 preset."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections import Counter

import pytest
import requests
from canary_scan import APP_BEARER, PIPELINES_AUTH, TRACK_AUTH
from relaykit.sandbox import Sandbox
from relaykit.sandbox.faults import FaultInjector, load_spec

AUTH = TRACK_AUTH


def event(sandbox, n, timeout=5, **kw):
    return requests.post(
        f"{sandbox.base_urls['customerio-track']['us']}/v1/customers/u/events",
        json={"name": "e", "id": f"ev-{n}"},
        auth=AUTH,
        timeout=timeout,
        **kw,
    )


def committed(sandbox):
    return [e["dedupe_id"] for e in sandbox.state()["events"]]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_status_fault_answers_in_api_shape_and_commits_nothing(sandbox, status):
    sandbox.set_faults({"schedule": [{"kind": "status", "status": status}]})
    r = event(sandbox, 1)
    assert r.status_code == status and r.json()["meta"]["error"]
    assert committed(sandbox) == []
    entry = sandbox.journal()[-1]
    assert (entry["status"], entry["fault"], entry["outcome"]) == (status, "status", "fault")
    assert event(sandbox, 1).status_code == 200  # schedule exhausted: normal service
    assert sandbox.stats()["faults"] == {"status": 1}


@pytest.mark.parametrize("value", [None, "0", "1.5", "-1", "abc", "Wed, 21 Oct 2015 07:28:00 GMT", "999999999"])
def test_429_with_raw_retry_after_values(sandbox, value):
    sandbox.set_faults({"schedule": [{"kind": "429", "retry_after": value}]})
    r = event(sandbox, 1)
    assert r.status_code == 429
    assert r.headers.get("Retry-After") == value
    assert committed(sandbox) == []


def test_reset_before_commits_nothing(sandbox):
    sandbox.set_faults({"schedule": ["reset_before"]})
    with pytest.raises(requests.ConnectionError):
        event(sandbox, 1)
    assert committed(sandbox) == []
    entry = sandbox.journal()[-1]
    assert (entry["status"], entry["fault"], entry["committed"]) == (None, "reset_before", False)


def test_reset_after_commits_then_retry_is_a_duplicate(sandbox):
    sandbox.set_faults({"schedule": ["reset_after"]})
    with pytest.raises(requests.ConnectionError):
        event(sandbox, 1)
    assert committed(sandbox) == ["ev-1"]
    assert sandbox.journal()[-1]["committed"] is True and sandbox.journal()[-1]["outcome"] == "ok"
    assert event(sandbox, 1).status_code == 200
    assert committed(sandbox) == ["ev-1"]
    assert sandbox.stats()["duplicates"]["customerio-track"] == 1


def test_reset_is_a_tcp_rst(sandbox):
    sandbox.set_faults({"schedule": ["reset_before"]})
    sock = socket.create_connection(("127.0.0.1", sandbox.port), timeout=5)
    sock.sendall(b"GET /customerio-track/us/api/v1/accounts/region HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(ConnectionResetError):
        sock.recv(100)
    sock.close()


def test_stall_past_the_read_timeout_commits_nothing(sandbox):
    sandbox.set_faults({"stall_seconds": 0.5, "schedule": ["stall"]})
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        event(sandbox, 1, timeout=0.2)
    assert time.monotonic() - started < 0.45
    assert committed(sandbox) == []
    assert sandbox.journal()[-1]["fault"] == "stall"


def test_truncated_body_after_commit(sandbox):
    sandbox.set_faults({"schedule": ["truncated"]})
    conn = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=5)
    conn.request("GET", "/customerio-app/us/v1/segments", headers={"Authorization": APP_BEARER})
    response = conn.getresponse()
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    sandbox.set_faults({"schedule": ["truncated"]})
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        event(sandbox, 2)
    assert committed(sandbox) == ["ev-2"]


def test_drip_sends_one_byte_per_interval(sandbox):
    sandbox.set_faults({"drip_interval": 0.002, "schedule": ["drip"]})
    started = time.monotonic()
    r = event(sandbox, 1)
    elapsed = time.monotonic() - started
    assert r.status_code == 200 and r.json() == {}
    assert elapsed >= 0.002 * 100  # the head alone is over 100 bytes
    assert committed(sandbox) == ["ev-1"]


def test_redirect_and_body_faults(sandbox):
    sandbox.set_faults(
        {
            "schedule": [
                {"kind": "redirect", "status": 307, "location": "http://127.0.0.2:9/steal"},
                {"kind": "body", "status": 200, "body": "<html>maintenance</html>", "content_type": "text/html"},
                {"kind": "body", "status": 200, "body": "x", "size": 3_000_000},
                {"kind": "body", "status": 200, "body": "0", "size": 5_000_000, "gzip": True},
                {"kind": "raw", "data": "HTTP/1.1 200 OK\r\nContent-Le", "then": "reset"},
            ]
        }
    )
    r = event(sandbox, 1, allow_redirects=False)
    assert r.status_code == 307 and r.headers["Location"] == "http://127.0.0.2:9/steal"
    r = event(sandbox, 2)
    assert r.status_code == 200 and r.text == "<html>maintenance</html>"
    r = event(sandbox, 3, stream=True)
    assert int(r.headers["Content-Length"]) == 3_000_000 and len(r.content) == 3_000_000
    r = event(sandbox, 4, stream=True)
    assert r.headers["Content-Encoding"] == "gzip" and int(r.headers["Content-Length"]) < 100_000
    assert len(r.raw.read(decode_content=False)) == int(r.headers["Content-Length"])
    with pytest.raises(requests.ConnectionError):
        event(sandbox, 5)
    assert committed(sandbox) == []


def test_faults_apply_only_to_the_chosen_apis_and_never_to_inspection(sandbox):
    sandbox.set_faults({"rate": 1.0, "mix": {"503": 1}, "apis": ["customerio-app"]})
    assert event(sandbox, 1).status_code == 200
    assert requests.get(sandbox.url + "/_sandbox/stats", timeout=5).status_code == 200
    r = requests.get(
        sandbox.base_urls["customerio-app"]["us"] + "/segments",
        headers={"Authorization": APP_BEARER},
        timeout=5,
    )
    assert r.status_code == 503 and r.json()["errors"][0]["status"] == "503"


def test_per_api_schedule(sandbox):
    sandbox.set_faults({"schedule": {"customerio-pipelines": ["500", None, "500"]}})
    url = sandbox.base_urls["customerio-pipelines"]["us"] + "/v1/track"
    codes = [
        requests.post(
            url, json={"userId": "u", "event": "e"}, auth=PIPELINES_AUTH, timeout=5
        ).status_code
        for _ in range(4)
    ]
    assert codes == [500, 200, 500, 200]
    assert event(sandbox, 1).status_code == 200


def test_seeded_draws_are_reproducible_and_reset_rearms():
    picks = []
    for _ in range(2):
        injector = FaultInjector("F20", default_seed=7)
        picks.append([(f or {}).get("name") for f in (injector.pick("customerio-track") for _ in range(500))])
    assert picks[0] == picks[1]
    injector = FaultInjector({"seed": 3, "rate": 0.5, "mix": {"500": 1, "reset_after": 1}})
    first = [injector.pick("customerio-track") for _ in range(50)]
    injector.rearm()
    assert [injector.pick("customerio-track") for _ in range(50)] == first


def test_f20_mix_matches_the_reliability_goal():
    injector = FaultInjector("F20", default_seed=1)
    counts = Counter((f or {}).get("name") for f in (injector.pick("customerio-track") for _ in range(20_000)))
    total = 20_000
    assert abs(sum(v for k, v in counts.items() if k) / total - 0.20) < 0.015
    assert abs(sum(counts[s] for s in ("500", "502", "503", "504")) / total - 0.08) < 0.01
    assert abs((counts["429"] + counts["429_retry_after"]) / total - 0.05) < 0.008
    assert abs(counts["reset_after"] / total - 0.03) < 0.006
    assert abs(counts["reset_before"] / total - 0.02) < 0.005
    assert abs(counts["stall"] / total - 0.01) < 0.004
    assert abs(counts["truncated"] / total - 0.01) < 0.004


def test_f20_over_http_is_reproducible(make_sandbox):
    outcomes = []
    for _ in range(2):
        sb = make_sandbox(seed=11, faults={"preset": "F20", "stall_seconds": 0.05})
        session = requests.Session()
        for n in range(120):
            try:
                session.post(
                    f"{sb.base_urls['customerio-track']['us']}/v1/customers/u/events",
                    json={"name": "e", "id": f"ev-{n}"},
                    auth=AUTH,
                    timeout=0.03,
                )
            except requests.RequestException:
                session = requests.Session()
        outcomes.append([(e["fault"], e["status"]) for e in sb.journal()])
        sb.stop()
    assert outcomes[0] == outcomes[1]
    assert any(fault for fault, _ in outcomes[0])


def test_spec_parsing(tmp_path):
    assert load_spec("F20")["mix"]["reset_after"] == 0.03
    assert load_spec(None) is None and load_spec("none") is None
    assert load_spec('{"rate": 0.1}') == {"rate": 0.1}
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"schedule": ["stall"], "stall_seconds": 1}))
    assert load_spec(f"@{path}")["schedule"] == ["stall"]
    assert load_spec({"preset": "F20", "seed": 5})["seed"] == 5
    for bad in (
        "F99",
        '{"kind": 1}',
        '{"mix": {"nope": 1}}',
        '{"rate": 2}',
        '{"schedule": [{"kind": "x"}]}',
        '{"mix": {"500": 0.7, "502": 0.7}}',
        '{"apis": ["nope"]}',
        "[1]",
    ):
        with pytest.raises(ValueError):
            FaultInjector(bad)


def test_stop_does_not_hang_on_stalled_or_dripping_handlers():
    sb = Sandbox(faults={"stall_seconds": 30, "drip_interval": 5, "schedule": ["stall", "drip"]}).start()
    socks = []
    for _ in range(2):
        sock = socket.create_connection(("127.0.0.1", sb.port), timeout=5)
        sock.sendall(b"GET /customerio-track/us/api/v1/accounts/region HTTP/1.1\r\nHost: x\r\n\r\n")
        socks.append(sock)
    time.sleep(0.2)
    started = time.monotonic()
    sb.stop()
    assert time.monotonic() - started < 3
    for sock in socks:
        sock.close()
