"""S1 and S2 over the wire: hostile endpoint suffixes and path parameters are SENT through
`Runtime.run`; each is either refused before any byte leaves or lands on the sandbox under the
connector's base path. A canary listener on a second loopback address (127.0.0.2) stands for
"any other host" and must never see a connection.
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relaykit import InputValidationError, RedirectError, RegionMismatchError, RenderError, Runtime

CONNECTORS = ("customerio-track", "customerio-app", "customerio-beta", "customerio-pipelines")
BASE_PATHS = {"customerio-track": "/customerio-track/us/api", "customerio-app": "/customerio-app/us/v1",
              "customerio-beta": "/customerio-beta/us/v1/api", "customerio-pipelines": "/customerio-pipelines/us"}


class Canary:
    """A listener on 127.0.0.2 that counts (and drops) every connection it gets."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.2", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(1)
        self.sock.close()


@pytest.fixture(scope="module")
def canary():
    try:
        listener = Canary()
    except OSError:  # pragma: no cover - loopback aliases are standard on Linux
        pytest.skip("127.0.0.2 is not available")
    # the listener really is reachable: a naive client would have leaked here
    socket.create_connection(("127.0.0.2", listener.port), timeout=1).close()
    deadline = threading.Event()
    while listener.connections == 0 and not deadline.wait(0.01):
        pass
    listener.connections = 0
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def rt_s1():
    runtime = Runtime(sleep=lambda s: None, retry={"max_attempts": 1})
    yield runtime
    runtime.close()


def curated(evil: str) -> list[str]:
    """Section 9's endpoint catalogue, aimed at the canary (`evil` is `127.0.0.2:PORT`)."""
    return [
        "", "/", "customers", f"//{evil}/x", f"///{evil}", f"http://{evil}/x", f"https://{evil}/x",
        "http://127.0.0.1/customers", f"@{evil}/x", f".{evil}/x", f":1@{evil}/", f"\\{evil}", f"/\\{evil}",
        f"/\\\\{evil}/x", f"/%2F%2F{evil}", "/..", "/../v2/x", "/customers/../../x", "/customers/%2e%2e/x",
        "/customers/%2E%2E%2Fx", "/customers/.%2e/x", "/customers/./x", "/customers/x?api_key=1",
        "/customers/x#frag", "/customers/x\r\nHost: evil", "/customers/x%0d%0aHost:%20evil", "/customers/\x00",
        "/customers/\tx", " /customers/x", "/customers/x ", "/customers/\u202ex", "/" + "a" * 100_000,
        "/{{ input.x }}", f"/@{evil}", f"/:@{evil}", f"/%40{evil}", f"/customers/%252e%252e/{evil}",
        f"/..%2f..%2f{evil}", f"/%2e%2e/%2e%2e/{evil}", f"/x/..\\..\\{evil}", f"/{evil}", "/%", "/%zz",
        f"/customers/x/../../../{evil}", f"/;@{evil}", "/customers/%E2%80%AE", "/é", f"/\u3002{evil}",
        f"/customers%2f..%2f..%2f{evil}", f"/.{evil}", f"/:{evil.split(':')[1]}", "/./", "/.%2E/x",
    ]


def check_journal(sandbox, connector: str, since: int) -> list[dict]:
    entries = [e for e in sandbox.journal() if e["seq"] > since]
    for entry in entries:
        assert entry["connector"] == connector
        assert entry["target"].startswith(BASE_PATHS[connector] + "/"), entry["target"]
    return entries


def last_seq(sandbox) -> int:
    journal = sandbox.journal()
    return journal[-1]["seq"] if journal else 0


def send_raw(rt, sandbox, connector: str, endpoint: str, method: str = "GET") -> bool:
    """True when the request went out (and stayed on the base), False when refused before sending."""
    since = last_seq(sandbox)
    try:
        rt.run(f"{connector}.raw_http_request", {"method": method, "endpoint": endpoint,
                                                  "fail_on_http_error": False}, sandbox.connection(connector))
    except (InputValidationError, RenderError):
        assert check_journal(sandbox, connector, since) == []  # refused: nothing reached any server
        return False
    except RedirectError:
        pass
    assert len(check_journal(sandbox, connector, since)) == 1
    return True


@pytest.mark.parametrize("connector", CONNECTORS)
def test_curated_hostile_suffixes_never_reach_another_host(rt_s1, sandbox, canary, connector):
    evil = f"127.0.0.2:{canary.port}"
    outcomes = {endpoint: send_raw(rt_s1, sandbox, connector, endpoint) for endpoint in curated(evil)}
    assert canary.connections == 0
    assert sum(outcomes.values()) >= 2  # some plain ones (e.g. "/customers/./x" is not) do go out
    url_like = [e for e in outcomes if "//" in e or "://" in e or "\\" in e or e[:1] in ("@", ".", ":")]
    assert url_like and not any(outcomes[e] for e in url_like)  # URL-shaped suffixes are refused outright


PATH_PARAMS = ["..", ".", "a/b", "a?b", "a#b", "%2e%2e", "%2F", "", " ", "x" * 10_000, "\U0001f600", "a\x00b",
               "a\r\nb", 0, "0", "ada+1@example.com", "ada/1@example.com", "cio_03000001", 2**53 + 1,
               "@127.0.0.2", "//127.0.0.2", "..%2f..", "\\..\\", "a;b", "%00"]


@pytest.mark.parametrize("value", [pytest.param(v, id=repr(v)[:30]) for v in PATH_PARAMS])
def test_path_parameters_stay_one_segment_under_the_base(rt_s1, sandbox, canary, value):
    connection = sandbox.connection("customerio-track")
    since = last_seq(sandbox)
    try:
        rt_s1.run("customerio-track.delete_customer", {"identifier": value}, connection)
    except (InputValidationError, RenderError):
        assert check_journal(sandbox, "customerio-track", since) == []
        return
    except Exception:  # the API may refuse it (404, 400); where it went is what matters
        pass
    (entry,) = check_journal(sandbox, "customerio-track", since)
    prefix = BASE_PATHS["customerio-track"] + "/v1/customers/"
    assert entry["target"].startswith(prefix)
    segment = entry["target"][len(prefix):]
    assert "/" not in segment and "?" not in segment and unquote(segment) == str(value)
    assert canary.connections == 0


ALPHABET = [*"/.%@\\:?#~;ab12eEfF", "%2e", "%2E", "%2f", "%2F", "%25", "%5c", "%40", "%00", "%0a", "..", "//", "@",
            "127.0.0.2", ":1@", "\r", "\n", "\x00", " ", "\u202e", "{{"]


def hostile(port: int):
    """Free-form strings of risky tokens, and plausible paths whose segments mix in the same tokens."""
    token = st.sampled_from([*ALPHABET, f"127.0.0.2:{port}", f"@127.0.0.2:{port}", f"//127.0.0.2:{port}"])
    free = st.lists(token, max_size=10).map("".join)
    plain = st.sampled_from(["customers", "v1", "x1", "a-b", f"127.0.0.2:{port}", f"@127.0.0.2:{port}", "%40",
                             "e.x", "~u", "%2e%2e", "..", ".", ":1@127.0.0.2", "%2F"])
    segment = st.lists(plain | token, min_size=1, max_size=3).map("".join)
    plausible = st.lists(plain | segment, min_size=1, max_size=5).map(lambda parts: "/" + "/".join(parts))
    return st.one_of(free, plausible)


@pytest.mark.slow
@pytest.mark.parametrize("connector", CONNECTORS)
def test_generated_suffixes_sent_never_leave_the_base(rt_s1, sandbox, canary, connector):
    """S1 property, over the wire: 1,000 generated suffixes per connector (the 10,000-per-connector
    dry-run property lives in tests/runtime/test_render.py)."""
    sent = []

    @given(endpoint=hostile(canary.port))
    @settings(max_examples=1000, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    def prop(endpoint):
        sent.append(send_raw(rt_s1, sandbox, connector, endpoint))

    prop()
    assert canary.connections == 0
    assert len(sent) >= 900 and sum(sent) >= 100 and not all(sent)  # both outcomes, plenty of each


@pytest.mark.slow
@given(value=st.text(min_size=0, max_size=40) | st.sampled_from(PATH_PARAMS[:12]).map(str))
@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_generated_path_parameters_round_trip_on_the_wire(rt_s1, sandbox, canary, value):
    since = last_seq(sandbox)
    try:
        rt_s1.run("customerio-track.track_event", {"identifier": value, "name": "e"},
                  sandbox.connection("customerio-track"))
    except (InputValidationError, RenderError):
        assert check_journal(sandbox, "customerio-track", since) == []
        return
    except Exception:
        pass
    (entry,) = check_journal(sandbox, "customerio-track", since)
    prefix, suffix = BASE_PATHS["customerio-track"] + "/v1/customers/", "/events"
    assert entry["target"].startswith(prefix) and entry["target"].endswith(suffix)
    assert unquote(entry["target"][len(prefix):-len(suffix)]) == value
    assert canary.connections == 0


def test_redirects_are_never_followed_and_credentials_never_reach_the_target(rt_s1, sandbox, canary):
    """S2: a 3xx to another host (the canary), to the same host, or the sibling region."""
    evil = f"http://127.0.0.2:{canary.port}/steal"
    conn = sandbox.connection("customerio-track")
    for status in (301, 302, 303, 307, 308):
        for location in (evil, "/customerio-track/us/api/v1/customers/x", f"//127.0.0.2:{canary.port}/x"):
            sandbox.set_faults({"schedule": [{"kind": "redirect", "status": status, "location": location}]})
            with pytest.raises(RedirectError) as info:
                rt_s1.run("customerio-track.delete_customer", {"identifier": "x"}, conn)
            assert info.value.status == status and not isinstance(info.value, RegionMismatchError)
    sandbox.set_faults(None)
    with pytest.raises(RegionMismatchError) as info:
        rt_s1.run("customerio-track.delete_customer", {"identifier": "x"}, {**conn, "region": "eu"})
    assert info.value.region == "us" and "'us'" in str(info.value)
    assert canary.connections == 0
    assert len(sandbox.journal()) == 16  # one request per redirect, none followed


def test_sandbox_url_cannot_point_a_credential_elsewhere(rt_s1, sandbox, canary):
    from relaykit import ConnectionConfigError

    conn = sandbox.connection("customerio-track")
    for url in (f"http://127.0.0.2@example.com:{canary.port}", "http://10.0.0.1:80", "http://example.com",
                f"http://127.0.0.1:{canary.port}/path", f"http://127.0.0.1:{canary.port}?x=1", "file:///etc/passwd",
                "http://[::ffff:10.0.0.1]/", "http://0x7f.1/", f"http://user:pw@127.0.0.2:{canary.port}"):
        with pytest.raises(ConnectionConfigError):
            rt_s1.run("customerio-track.delete_customer", {"identifier": "x"}, {**conn, "sandbox_url": url})
    assert canary.connections == 0 and sandbox.journal() == []
