"""Issue 12, items 1 and 2: what relaykit's own connections check and switch off before a request is written.

* A connection to a host that claims loopback must be connected to a loopback peer. A hostile
  resolver is played by replacing `socket.getaddrinfo` (the system resolver, below urllib3): it
  answers with a Unix socket standing for "another address", so nothing leaves loopback. relaykit's
  connection closes that socket before writing a byte; a stock urllib3 connection sends the whole
  request, `Authorization` included, which shows the hazard is real.
* `http.client` debug printing stays off on relaykit's connections whatever class attribute is set.
"""

from __future__ import annotations

import http.client
import socket

import pytest
import requests
import urllib3.connection
from credential_adversary import UnixRecorder, hostile_getaddrinfo
from relaykit import Runtime, TransportError
from relaykit.transport.adapter import _HTTPConnection
from relaykit.transport.loopback import NotLoopbackPeer, peer_is_loopback

EVENT = ("customerio-track.track_event", {"identifier": "c1", "name": "wire"})


@pytest.fixture
def hostile(tmp_path, monkeypatch):
    """Every name (and literal) resolves to the recorder's Unix socket, as a hostile resolver would."""
    recorder = UnixRecorder(str(tmp_path / "elsewhere.sock"))
    monkeypatch.setattr(socket, "getaddrinfo", hostile_getaddrinfo(recorder.path))
    yield recorder
    recorder.close()


def _no_tcp_options(session: requests.Session) -> None:
    # urllib3 sets TCP_NODELAY on every new socket, which a Unix socket refuses; the hostile answer
    # must get as far as a connected socket for the peer check to be what stops it
    for prefix in ("http://", "https://"):
        session.get_adapter(prefix).poolmanager.connection_pool_kw["socket_options"] = []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost.", "127.0.0.2.", "LocalHost.", "::1%25lo", "app.localhost",
                                  "localhost6", "ip6-localhost"])  # the last two: found by the adversary run
def test_a_loopback_host_connected_elsewhere_is_closed_before_a_byte_is_written(hostile, host):
    conn = _HTTPConnection(host, 8080, socket_options=[])
    with pytest.raises(NotLoopbackPeer, match="not a loopback address"):
        conn.request("GET", "/", headers={"Authorization": "Basic c2l0ZTprZXk="})
    hostile.settle()
    assert hostile.connections == 1  # the hostile answer was used...
    assert hostile.received == b""  # ...and nothing reached it


def test_a_stock_connection_sends_the_credential_to_whatever_the_resolver_said(hostile):
    conn = urllib3.connection.HTTPConnection("localhost.", 8080, socket_options=[])
    conn.request("GET", "/", headers={"Authorization": "Basic c2l0ZTprZXk="})
    conn.close()
    hostile.settle()
    assert b"Authorization: Basic c2l0ZTprZXk=" in hostile.received


def test_the_runtime_refuses_a_non_loopback_peer_for_a_sandbox_call_without_retrying(hostile, sandbox):
    rt = Runtime(sleep=lambda s: None)
    try:
        _no_tcp_options(rt.transport.session)
        with pytest.raises(TransportError) as info:
            rt.run(*EVENT, sandbox.connection("customerio-track"))
    finally:
        rt.close()
    hostile.settle()
    assert "not a loopback address" in str(info.value)
    assert info.value.retryable is False and info.value.attempts == 1
    assert hostile.connections == 1 and hostile.received == b""
    assert sandbox.journal() == []


def test_an_embedders_session_is_not_guarded_which_is_why_relaykits_own_is(hostile, sandbox):
    session = requests.Session()
    _no_tcp_options(session)
    rt = Runtime(session=session, sleep=lambda s: None)
    try:
        rt.run(*EVENT, sandbox.connection("customerio-track"))
    except Exception:  # the recorder's reply is not the API's; only what reached it matters here
        pass
    finally:
        rt.close()
    hostile.settle()
    assert b"\r\nAuthorization: Basic " in hostile.received


def test_peer_is_loopback_on_real_sockets(tmp_path):
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    left, right = socket.socketpair()
    try:
        assert peer_is_loopback(client)
        assert not peer_is_loopback(left)  # a Unix socket has no IP peer
        unconnected = socket.socket()
        assert not peer_is_loopback(unconnected)
        unconnected.close()
    finally:
        for s in (server, client, left, right):
            s.close()


# -- item 2: http.client debug printing ----------------------------------------------------------
DEBUG_CLASSES = {
    "http.client.HTTPConnection": http.client.HTTPConnection,
    "urllib3.connection.HTTPConnection": urllib3.connection.HTTPConnection,
    "relaykit's connection class": _HTTPConnection,
}


@pytest.mark.parametrize("names", [[name] for name in DEBUG_CLASSES] + [list(DEBUG_CLASSES)],
                         ids=lambda names: "+".join(names))
def test_debug_printing_stays_off_whatever_class_has_a_debuglevel(names, sandbox, capfd, monkeypatch):
    for name in names:
        monkeypatch.setattr(DEBUG_CLASSES[name], "debuglevel", 1, raising=False)
    rt = Runtime(sleep=lambda s: None)
    try:
        for _ in range(2):  # a fresh connection, then a pooled one
            rt.run(*EVENT, sandbox.connection("customerio-track"))
        rt.run("customerio-app.raw_http_request", {"method": "GET", "endpoint": "/customers/c1/attributes",
                                                   "fail_on_http_error": False}, sandbox.connection("customerio-app"))
    finally:
        rt.close()
    out, err = capfd.readouterr()
    for text in (out, err):
        assert "send:" not in text and "reply:" not in text and "header:" not in text
        assert "Authorization" not in text


def test_the_debuglevel_knob_is_live_here(sandbox, capfd, monkeypatch):
    """Without relaykit's connection, `urllib3.connection.HTTPConnection.debuglevel = 1` does print."""
    monkeypatch.setattr(urllib3.connection.HTTPConnection, "debuglevel", 1)
    pool = urllib3.PoolManager()
    pool.request("GET", sandbox.url + "/_sandbox/info", headers={"X-Probe": "debug-print"})
    pool.clear()
    out, _ = capfd.readouterr()
    assert "send:" in out and "X-Probe: debug-print" in out
