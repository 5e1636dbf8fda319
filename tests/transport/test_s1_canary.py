"""S1 and S2 over the wire: hostile endpoint suffixes and path parameters are SENT through
`Runtime.run`; each is either refused before any byte leaves or lands on the sandbox under the
connector's base path. A canary listener on a second loopback address (127.0.0.2) stands for
"any other host" and must never see a connection.

Every sent input is checked on its own: a refused one left the sandbox's journal and its
connection counter where they were (no request, no socket); an accepted one added exactly one
journal entry, whose request target (what the sandbox received) is the base path plus the suffix.

Generated suffixes come from one grammar (`suffix_grammar`) with two drivers. Hypothesis drives it
for a few hundred edge-biased, shrinkable examples per connector; a seeded `random.Random` drives
the same function for 10,000 distinct suffixes per connector in a plain loop. Hypothesis costs
~3 ms an example on the CI machine (40,000 would be two minutes of generation alone), the seeded
draw ~6 µs; a refused suffix then costs microseconds and an accepted one a keep-alive round trip.
"""

from __future__ import annotations

import random
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relaykit import InputValidationError, RedirectError, RegionMismatchError, RenderError
from transport_helpers import make_runtime

CONNECTORS = ("customerio-track", "customerio-app", "customerio-beta", "customerio-pipelines")
BASE_PATHS = {"customerio-track": "/customerio-track/us/api", "customerio-app": "/customerio-app/us/v1",
              "customerio-beta": "/customerio-beta/us/v1/api", "customerio-pipelines": "/customerio-pipelines/us"}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
DRAWN_PER_CONNECTOR = 10_000
RESET_EVERY = 1_000  # keeps the journal (and with it `Sandbox.stats()`, which counts it) small


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

    def settled(self) -> int:
        """Connections so far, once the accept loop had a moment to count any still in the backlog."""
        time.sleep(0.05)
        return self.connections

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
    """One keep-alive runtime for the module: one attempt per call, and a warped clock whose sleeps
    only move it on, so the connectors' client-side rate limits (10/s for the App API) cost no real time."""
    runtime = make_runtime(retry={"max_attempts": 1})
    yield runtime
    runtime.close()


_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def _upper_escapes(text: str) -> str:
    return _ESCAPE.sub(lambda m: m.group(0).upper(), text)


def check_landed(entry: dict[str, Any], connector: str, endpoint: str | None, host: str) -> None:
    """One journal entry: on the pinned host, under the base path, the suffix as sent, one credential."""
    base = BASE_PATHS[connector]
    path = entry["target"].partition("?")[0]
    assert entry["connector"] == connector, entry["target"]
    assert entry["headers"].get("Host") == host, entry["headers"]
    assert path.startswith(base + "/"), entry["target"]
    assert not any(unquote(segment) in (".", "..") for segment in path.split("/")), entry["target"]
    if endpoint is not None:  # urllib3 upper-cases percent-escapes; nothing else may change
        assert _upper_escapes(path) == _upper_escapes(base + endpoint), (endpoint, entry["target"])
    assert entry["headers"].get("Authorization") in ("Basic ***", "Bearer ***"), entry["headers"]


class Wire:
    """Sends one connector's raw requests through `Runtime.run` and checks every input on its own.

    Refused (InputValidationError / RenderError): the sandbox's journal and its count of accepted
    connections did not move, so no byte left and no socket was opened. Sent: exactly one new journal
    entry, which `check_landed` checks.
    """

    def __init__(self, rt, sandbox, connector: str) -> None:
        self.rt, self.sandbox, self.connector = rt, sandbox, connector
        self.connection = sandbox.connection(connector)
        self.host = f"127.0.0.1:{sandbox.port}"
        self.sent = self.refused = 0
        self._snapshot()

    def _snapshot(self) -> None:
        journal = self.sandbox.journal()
        self.seq = journal[-1]["seq"] if journal else 0
        self.sockets = self.sandbox.stats()["connections_accepted"]

    def reset(self) -> None:
        """Start the sandbox afresh (state, journal, counters) so per-call checks stay O(1)."""
        self.sandbox.reset()
        self._snapshot()

    def send(self, endpoint: str, method: str = "GET", query: dict[str, str] | None = None) -> bool:
        """True when the request went out (and landed under the base), False when refused before sending."""
        data: dict[str, Any] = {"method": method, "endpoint": endpoint, "fail_on_http_error": False}
        if query is not None:
            data["query"] = query
        try:
            self.rt.run(f"{self.connector}.raw_http_request", data, self.connection)
            refused = False
        except (InputValidationError, RenderError):
            refused = True
        except RedirectError:  # never followed (S2); where the request went is what matters here
            refused = False
        new = self.sandbox.journal(since=self.seq)
        sockets = self.sandbox.stats()["connections_accepted"]
        if refused:
            assert new == [] and sockets == self.sockets, (endpoint, new, sockets - self.sockets)
            self.refused += 1
            return False
        assert len(new) == 1, (endpoint, new)
        check_landed(new[0], self.connector, endpoint, self.host)
        self.seq, self.sockets = new[0]["seq"], sockets
        self.sent += 1
        return True


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


def last_seq(sandbox) -> int:
    journal = sandbox.journal()
    return journal[-1]["seq"] if journal else 0


def check_journal(sandbox, connector: str, since: int) -> list[dict]:
    entries = sandbox.journal(since=since)
    for entry in entries:
        assert entry["connector"] == connector
        assert entry["target"].startswith(BASE_PATHS[connector] + "/"), entry["target"]
    return entries


@pytest.mark.parametrize("connector", CONNECTORS)
def test_curated_hostile_suffixes_never_reach_another_host(rt_s1, sandbox, canary, connector):
    evil = f"127.0.0.2:{canary.port}"
    wire = Wire(rt_s1, sandbox, connector)
    outcomes = {endpoint: wire.send(endpoint) for endpoint in curated(evil)}
    assert canary.settled() == 0
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


# ---------------------------------------------------------------------------------------------
# Generated suffixes: one grammar, two drivers

ALPHABET = [*"/.%@\\:?#~;ab12eEfF", "%2e", "%2E", "%2f", "%2F", "%25", "%5c", "%40", "%00", "%0a", "..", "//", "@",
            "127.0.0.2", ":1@", "\r", "\n", "\x00", " ", "\u202e", "{{"]


def suffix_grammar(pick: Callable[[Sequence[str]], str], count: Callable[[int, int], int], port: int) -> str:
    """One suffix: free-form runs of risky tokens, or (two in three) plausible paths mixing in the same tokens.

    `pick(options)` chooses one option and `count(lo, hi)` an integer in [lo, hi]; hypothesis and a
    seeded `random.Random` both supply them, so both drivers walk exactly this grammar.
    """
    token = [*ALPHABET, f"127.0.0.2:{port}", f"@127.0.0.2:{port}", f"//127.0.0.2:{port}"]
    plain = ["customers", "v1", "x1", "a-b", f"127.0.0.2:{port}", f"@127.0.0.2:{port}", "%40", "e.x", "~u",
             "%2e%2e", "..", ".", ":1@127.0.0.2", "%2F"]
    if count(0, 2) == 0:  # one in three: free-form
        return "".join(pick(token) for _ in range(count(0, 10)))
    parts = []
    for _ in range(count(1, 5)):
        if count(0, 1) == 0:
            parts.append(pick(plain))
        else:  # a segment of 1-3 pieces, one piece in four a risky token
            parts.append("".join(pick(token) if count(0, 3) == 0 else pick(plain) for _ in range(count(1, 3))))
    return "/" + "/".join(parts)


@st.composite
def hostile(draw, port: int) -> str:
    """The grammar driven by hypothesis: edge-biased draws that shrink to a minimal failing suffix."""
    return suffix_grammar(lambda options: draw(st.sampled_from(options)), lambda lo, hi: draw(st.integers(lo, hi)),
                          port)


def drawn(connector: str, port: int, n: int = DRAWN_PER_CONNECTOR) -> list[tuple[str, str, dict[str, str] | None]]:
    """`n` distinct (method, suffix, query) triples from the grammar, driven by a random.Random seeded per connector."""
    rng = random.Random(f"relaykit-s1/{connector}")
    out: dict[str, tuple[str, str, dict[str, str] | None]] = {}
    while len(out) < n:
        endpoint = suffix_grammar(rng.choice, rng.randint, port)
        if endpoint not in out:
            query = {"q": suffix_grammar(rng.choice, rng.randint, port)} if rng.random() < 0.25 else None
            out[endpoint] = (rng.choice(METHODS), endpoint, query)
    return list(out.values())


@pytest.mark.slow
@pytest.mark.parametrize("connector", CONNECTORS)
def test_10k_drawn_suffixes_sent_never_leave_the_base(rt_s1, sandbox, canary, connector):
    """S1 property, over the wire: 10,000 distinct generated suffixes per connector, every one sent
    through `Runtime.run` and checked (refused with no socket, or landed under the base path)."""
    assert sandbox.rate_limits_config()["enabled"] is False  # the sandbox never answers 429 here
    cases = drawn(connector, canary.port)
    assert len({endpoint for _, endpoint, _ in cases}) == DRAWN_PER_CONNECTOR
    wire = Wire(rt_s1, sandbox, connector)
    for i, (method, endpoint, query) in enumerate(cases):
        if i and i % RESET_EVERY == 0:
            wire.reset()
        wire.send(endpoint, method, query)
    assert canary.settled() == 0
    assert wire.sent + wire.refused == DRAWN_PER_CONNECTOR
    assert wire.sent >= 1_000 and wire.refused >= 1_000  # both outcomes, plenty of each


@pytest.mark.slow
@pytest.mark.parametrize("connector", CONNECTORS)
def test_generated_suffixes_sent_never_leave_the_base(rt_s1, sandbox, canary, connector):
    """The same grammar driven by hypothesis (edge-biased, shrinking), 300 examples per connector."""
    wire = Wire(rt_s1, sandbox, connector)

    @given(endpoint=hostile(canary.port), method=st.sampled_from(METHODS))
    @settings(max_examples=300, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    def prop(endpoint, method):
        wire.send(endpoint, method)

    prop()
    assert canary.settled() == 0
    assert wire.sent >= 30 and wire.refused >= 30  # both outcomes


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
