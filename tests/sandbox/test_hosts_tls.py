"""The real-path listeners (one port per API and region), HTTPS with a generated CA, and malformed requests."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time

import pytest
import requests
from canary_scan import APP_BEARER, CREDENTIALS, PIPELINES_AUTH, TRACK_AUTH, leaks
from relaykit.sandbox import BASE_PATHS, CONNECTORS, REGIONS, Sandbox

CANARY_ARGS = [f"--{name.replace('_', '-')}={value}" for name, value in CREDENTIALS.items()]


@pytest.fixture(scope="module")
def tls_sandbox():
    with Sandbox(tls=True, processing_delay=0.0) as sb:
        yield sb


@pytest.fixture
def tsb(tls_sandbox):
    tls_sandbox.reset()
    return tls_sandbox


def _session(sb: Sandbox) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment overrides `verify`
    session.verify = sb.ca_bundle
    return session


def test_info_names_every_api_and_region_with_host_port_and_ca(tsb):
    info = tsb.info()
    assert os.path.isfile(info["ca_bundle"]) and info["ca_bundle"] == tsb.ca_bundle
    ports = set()
    for connector in CONNECTORS:
        for region in REGIONS:
            entry = info["hosts"][connector][region]
            assert entry["host"] == "127.0.0.1" and entry["tls"] is True
            assert entry["url"] == f"https://127.0.0.1:{entry['port']}"
            assert entry["base_url"] == entry["url"] + BASE_PATHS[connector]
            ports.add(entry["port"])
    assert len(ports) == 8 and tsb.port not in ports
    assert info["sandbox_url"].startswith("http://")  # the prefix layout stays plain HTTP for relaykit


def test_each_api_answers_at_its_real_paths_from_its_own_root(tsb):
    s = _session(tsb)
    track = tsb.host_url("customerio-track", "us")
    app = tsb.host_url("customerio-app", "us")
    beta = tsb.host_url("customerio-beta", "us")
    pipes = tsb.host_url("customerio-pipelines", "us")
    assert s.put(f"{track}/api/v1/customers/ada", json={"email": "ada@example.com"}, auth=TRACK_AUTH).status_code == 200
    batch = {"batch": [{"type": "person", "action": "event", "identifiers": {"id": "ada"}, "name": "v2_event"}]}
    assert s.post(f"{track}/api/v2/batch", json=batch, auth=TRACK_AUTH).status_code == 200
    r = s.post(f"{pipes}/v1/batch", json={"batch": [{"type": "track", "userId": "ada", "event": "cdp_event"}]},
               auth=PIPELINES_AUTH)
    assert r.status_code == 200
    r = s.get(f"{app}/v1/customers/ada/attributes", headers={"Authorization": APP_BEARER})
    assert r.status_code == 200 and r.json()["customer"]["attributes"]["email"] == "ada@example.com"
    assert s.get(f"{beta}/v1/api/segments", headers={"Authorization": APP_BEARER}).status_code == 200
    names = [e["name"] for e in tsb.state()["events"]]
    assert names == ["v2_event", "cdp_event"]
    targets = [(e["connector"], e["region"], e["target"]) for e in tsb.journal()]
    assert targets[0] == ("customerio-track", "us", "/api/v1/customers/ada")
    assert targets[2] == ("customerio-pipelines", "us", "/v1/batch")


def test_real_path_listener_refuses_the_prefix_layout_in_its_api_shape(tsb):
    s = _session(tsb)
    track = tsb.host_url("customerio-track", "us")
    r = s.put(f"{track}/customerio-track/us/api/v1/customers/ada", json={}, auth=TRACK_AUTH)
    assert r.status_code == 404 and "meta" in r.json()
    assert s.get(f"{track}/_sandbox/stats").json()["requests"] == 1  # inspection answers on every listener


def test_wrong_region_redirects_to_the_home_region_listener(tsb):
    s = _session(tsb)
    eu = tsb.host_url("customerio-track", "eu")
    r = s.put(f"{eu}/api/v1/customers/ada?x=1", json={}, auth=TRACK_AUTH, allow_redirects=False)
    assert r.status_code == 301
    assert r.headers["Location"] == tsb.host_url("customerio-track", "us") + "/api/v1/customers/ada?x=1"
    region = s.get(f"{eu}/api/v1/accounts/region", auth=TRACK_AUTH).json()
    assert region["url"] == tsb.host_url("customerio-track", "us") and region["region"] == "us"


def test_the_certificate_verifies_only_with_the_printed_ca(tsb):
    url = tsb.host_url("customerio-app", "us") + "/v1/segments"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, headers={"Authorization": APP_BEARER}, timeout=5)  # the system store does not know it
    ctx = ssl.create_default_context(cafile=tsb.ca_bundle)
    port = tsb.host_info()["customerio-app"]["us"]["port"]
    for name in ("127.0.0.1", "localhost"):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname=name) as tls:
            assert tls.version() is not None


def test_plain_http_hosts_layout_without_tls(make_sandbox):
    sb = make_sandbox(hosts=True)
    assert sb.ca_bundle is None and "ca_bundle" not in sb.info()
    pipes = sb.host_url("customerio-pipelines", "us")
    assert pipes.startswith("http://")
    r = requests.post(f"{pipes}/v1/identify", json={"userId": "u1", "traits": {"plan": "pro"}},
                      auth=PIPELINES_AUTH, timeout=5)
    assert r.status_code == 200 and sb.state()["people"][0]["attributes"]["plan"] == "pro"


def test_host_url_needs_the_hosts_layout(sandbox):
    with pytest.raises(RuntimeError, match="hosts=True"):
        sandbox.host_url("customerio-track", "us")


def test_ca_bundle_is_removed_on_stop():
    sb = Sandbox(tls=True).start()
    path = sb.ca_bundle
    assert path is not None and os.path.isfile(path)
    sb.stop()
    assert not os.path.exists(path)


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


@pytest.mark.parametrize("line", [b"GARBAGE\r\n\r\n", b"GET /customerio-track/us/api/v1/x\r\n\r\n",
                                  b"PUT /customerio-track/us/api/v1/customers/a HTTP/1.1\r\nbad header\r\n\r\n"])
def test_malformed_requests_get_json_and_are_journaled(sandbox, line):
    reply = _raw(sandbox.port, line)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"application/json" in head and b"Connection: close" in head
    detail = json.loads(body)
    assert "<" not in body.decode()
    entry = sandbox.journal()[-1]
    assert entry["status"] == 400 and entry["outcome"] == "rejected" and entry["committed"] is False
    assert entry["target"] == line.split(b"\r\n")[0].decode()
    if b"customerio-track" in line:
        assert entry["connector"] == "customerio-track" and "meta" in detail  # the Track error shape
    else:
        assert entry["connector"] is None and detail["errors"][0]["status"] == "400"
    assert sandbox.stats()["outcomes"]["rejected"] == 1


def test_malformed_request_on_a_real_path_listener_takes_that_apis_shape(tsb):
    port = tsb.host_info()["customerio-pipelines"]["us"]["port"]
    ctx = ssl.create_default_context(cafile=tsb.ca_bundle)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
        sock.sendall(b"POST /v1/batch\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    body = json.loads(reply.partition(b"\r\n\r\n")[2])
    assert set(body) == {"code", "message"}  # the Pipelines error shape
    assert tsb.journal()[-1]["connector"] == "customerio-pipelines"


def test_cli_tls_prints_hosts_and_ca_and_exits_fast_after_traffic():
    proc = subprocess.Popen(
        [sys.executable, "-m", "relaykit.sandbox", "--tls", "--rate-limits", "off", *CANARY_ARGS],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        info = json.loads(proc.stdout.readline())
        ca = info["ca_bundle"]
        track = info["hosts"]["customerio-track"]["us"]
        session = requests.Session()
        session.trust_env = False
        session.verify = ca
        body = {"name": "e", "data": {"blob": "x" * 200}}
        for i in range(400):
            r = session.post(f"{track['base_url']}/v1/customers/u{i % 50}/events", json=body, auth=TRACK_AUTH)
            assert r.status_code == 200
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 2.0
        err = proc.stderr.read()
        assert ca in err and f"port {track['port']}" in err
        assert leaks(err) == []
        assert not os.path.exists(ca)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _free_port_run(count: int) -> int:
    """A first port such that `count` consecutive ports were free a moment ago."""
    for _ in range(20):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65535:
            continue
        taken = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                taken.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in taken:
                s.close()
    pytest.skip("no run of free ports found")


def test_hosts_port_puts_the_listeners_on_consecutive_ports_in_a_fixed_order(make_sandbox):
    base = _free_port_run(8)
    sb = make_sandbox(hosts=True, hosts_port=base)
    ports = {(c, r): e["port"] for c, regions in sb.host_info().items() for r, e in regions.items()}
    assert ports[("customerio-track", "us")] == base and ports[("customerio-track", "eu")] == base + 1
    assert ports[("customerio-app", "us")] == base + 2 and ports[("customerio-pipelines", "eu")] == base + 7


def test_hosts_port_without_room_is_refused_before_binding():
    with pytest.raises(ValueError, match="hosts_port"):
        Sandbox(hosts=True, hosts_port=65530)


def test_cli_tls_without_the_certificate_library_says_what_to_install(tmp_path):
    fake = tmp_path / "trustme"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('trustme is not installed here')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "relaykit.sandbox", "--tls"], capture_output=True, text=True,
                          timeout=30, env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "relaykit[tls]" in proc.stderr and "Traceback" not in proc.stderr


def test_a_taken_port_fails_start_at_once_and_releases_what_was_bound():
    base = _free_port_run(8)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base + 3))
        squatter.listen()
        sb = Sandbox(tls=True, hosts_port=base)
        started = time.monotonic()
        with pytest.raises(OSError):
            sb.start()
        assert time.monotonic() - started < 5
        assert sb.ca_bundle is None
    with Sandbox(hosts=True, hosts_port=base) as again:  # every port it had bound is free again
        assert again.host_info()["customerio-track"]["us"]["port"] == base


def test_a_tls_handshake_on_the_plain_port_is_refused_and_not_journaled(sandbox):
    ctx = ssl.create_default_context()
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=5) as raw:
        with pytest.raises(ssl.SSLError):
            ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    assert sandbox.journal() == [] and sandbox.stats()["requests"] == 0
