"""R3 and R8: the published retry table (docs/reliability.md, relaykit.retry), cell by cell.

Each cell runs one call whose every attempt meets the failure, over real loopback HTTP, and
counts the attempts the sandbox journal recorded (or, for failures before a connection exists,
the attempts the error reports and the connections the listener saw). A count above the table's
promise would also reveal a hidden retry layer underneath (R8: the adapter has max_retries=0).
"""

from __future__ import annotations

import json
import socket

import pytest
from relaykit import (
    ClientError,
    ConflictError,
    NotFoundError,
    RateLimitError,
    RedirectError,
    RequestTimeoutError,
    ServerError,
    TransportError,
)
from relaykit.errors import CallError
from transport_helpers import make_runtime

MAX = 3
COLUMNS = {
    "GET-safe": ("customerio-track.raw_http_request", {"method": "GET", "endpoint": "/v1/accounts/region"}),
    "PUT-safe": ("customerio-track.create_or_update_customer", {"identifier": "p1", "attributes": {"a": "b"}}),
    "DELETE-safe": ("customerio-track.delete_customer", {"identifier": "p1"}),
    "POST-keyed": ("customerio-track.track_event", {"identifier": "p1", "name": "e"}),
    "POST-keyed-pipelines": ("customerio-pipelines.track", {"userId": "p1", "event": "e"}),
    "POST-unsafe": ("customerio-app.trigger_broadcast", {"broadcast_id": 8}),
    "POST-unsafe-raw": ("customerio-app.raw_http_request",
                        {"method": "POST", "endpoint": "/send/email",
                         "body": {"json": {"transactional_message_id": 1, "to": "a@example.com",
                                           "identifiers": {"id": "p1"}}}}),
}
IDEMPOTENCY = {name: name.split("-")[1] for name in COLUMNS}

# failure -> (fault, attempts for safe, keyed, unsafe, the error raised)
ALL, NOT_UNSAFE, ONCE = (MAX, MAX, MAX), (MAX, MAX, 1), (1, 1, 1)
ROWS = {
    "408": ({"kind": "status", "status": 408}, ALL, ClientError),
    "409": ({"kind": "status", "status": 409}, ONCE, ConflictError),
    "429-no-retry-after": ({"kind": "429"}, ALL, RateLimitError),
    "429-retry-after-0": ({"kind": "429", "retry_after": "0"}, ALL, RateLimitError),
    "500": ({"kind": "status", "status": 500}, NOT_UNSAFE, ServerError),
    "502": ({"kind": "status", "status": 502}, NOT_UNSAFE, ServerError),
    "503": ({"kind": "status", "status": 503}, NOT_UNSAFE, ServerError),
    "504": ({"kind": "status", "status": 504}, NOT_UNSAFE, ServerError),
    "520": ({"kind": "status", "status": 520}, NOT_UNSAFE, ServerError),
    "501": ({"kind": "status", "status": 501}, ONCE, ServerError),
    "400": ({"kind": "status", "status": 400}, ONCE, ClientError),
    "404": ({"kind": "status", "status": 404}, ONCE, NotFoundError),
    "422": ({"kind": "status", "status": 422}, ONCE, ClientError),
    "301": ({"kind": "redirect", "status": 301, "location": "http://127.0.0.2:9/x"}, ONCE, RedirectError),
    "302": ({"kind": "redirect", "status": 302, "location": "/elsewhere"}, ONCE, RedirectError),
    "307": ({"kind": "redirect", "status": 307, "location": "https://example.com/"}, ONCE, RedirectError),
    "308": ({"kind": "redirect", "status": 308, "location": "/"}, ONCE, RedirectError),
    "reset-before-processing": ({"kind": "reset_before"}, NOT_UNSAFE, TransportError),
    "reset-after-commit": ({"kind": "reset_after"}, NOT_UNSAFE, TransportError),
    "read-timeout": ({"kind": "stall", "seconds": 0.4}, NOT_UNSAFE, RequestTimeoutError),
    "truncated-body": ({"kind": "truncated"}, NOT_UNSAFE, TransportError),
    "malformed-status-line": ({"kind": "raw", "data": "HTTX/9 nonsense\r\n\r\n", "then": "close"}, NOT_UNSAFE,
                              TransportError),
}
COLUMN_INDEX = {"safe": 0, "keyed": 1, "unsafe": 2}


@pytest.fixture(scope="module")
def rt3():
    runtime = make_runtime(speed=1000.0, timeouts={"connect": 0.25, "read": 0.15, "total": 1e6},
                           retry={"max_attempts": MAX})
    yield runtime
    runtime.close()


def _call(rt, sandbox, column, connection=None):
    name, data = COLUMNS[column]
    connector = name.split(".")[0]
    return rt.run(name, data, connection or sandbox.connection(connector))


@pytest.mark.parametrize("column", list(COLUMNS))
@pytest.mark.parametrize("row", list(ROWS))
def test_retry_table_cell(rt3, sandbox, row, column):
    fault, expected, error_type = ROWS[row]
    attempts = expected[COLUMN_INDEX[IDEMPOTENCY[column]]]
    sandbox.set_faults({"schedule": [fault] * MAX})
    with pytest.raises(CallError) as info:
        _call(rt3, sandbox, column)
    assert isinstance(info.value, error_type), repr(info.value)
    journal = sandbox.journal()
    assert len(journal) == attempts, [e["fault"] for e in journal]
    assert info.value.attempts == attempts
    if IDEMPOTENCY[column] == "keyed":
        ids = {json.dumps(json.loads(e["body"]).get("id") or json.loads(e["body"]).get("messageId"))
               for e in journal}
        assert len(ids) == 1  # one dedupe id, reused on every attempt
    if IDEMPOTENCY[column] == "unsafe" and attempts == 1 and error_type in (TransportError, RequestTimeoutError):
        assert info.value.retryable is False and "not retried" in str(info.value)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def full_backlog():
    """A listener whose accept queue is full: the kernel drops new SYNs, so connecting times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(c)
    yield port
    for c in fillers:
        c.close()
    listener.close()


@pytest.mark.parametrize("column", list(COLUMNS))
def test_connect_refused_is_retried_for_every_mode(rt3, sandbox, column):
    connector = COLUMNS[column][0].split(".")[0]
    conn = {**sandbox.connection(connector), "sandbox_url": f"http://127.0.0.1:{_closed_port()}"}
    with pytest.raises(TransportError) as info:
        _call(rt3, sandbox, column, conn)
    assert info.value.attempts == MAX and "could not connect" in str(info.value)
    assert info.value.retryable


@pytest.mark.parametrize("column", ["PUT-safe", "POST-keyed", "POST-unsafe"])
def test_connect_timeout_is_retried_for_every_mode(rt3, sandbox, column, full_backlog):
    connector = COLUMNS[column][0].split(".")[0]
    conn = {**sandbox.connection(connector), "sandbox_url": f"http://127.0.0.1:{full_backlog}"}
    with pytest.raises(RequestTimeoutError) as info:
        _call(rt3, sandbox, column, conn)
    assert info.value.attempts == MAX and "connect timeout" in str(info.value)


@pytest.mark.parametrize("column", ["PUT-safe", "POST-keyed", "POST-unsafe"])
def test_tls_handshake_failure_is_retried_and_sends_nothing(rt3, sandbox, column):
    connector = COLUMNS[column][0].split(".")[0]
    conn = dict(sandbox.connection(connector))
    conn["sandbox_url"] = conn["sandbox_url"].replace("http://", "https://")
    before = sandbox.stats()["connections_accepted"]
    with pytest.raises(TransportError) as info:
        _call(rt3, sandbox, column, conn)
    assert info.value.attempts == MAX and "TLS" in str(info.value)
    assert sandbox.journal() == []  # no request ever got through
    assert sandbox.stats()["connections_accepted"] - before == MAX


def test_retry_after_within_budget_is_waited_then_succeeds(rt3, sandbox):
    sandbox.set_faults({"schedule": [{"kind": "429", "retry_after": "2"}]})
    before = len(rt3.waits)
    result = _call(rt3, sandbox, "POST-unsafe")
    assert result.attempts == 2 and len(sandbox.journal()) == 2
    assert any(w >= 2 for w in rt3.waits[before:])


def test_one_retry_layer_urllib3_never_retries(rt3):
    """R8: the adapter relaykit mounts has urllib3 retries switched off entirely."""
    for prefix in ("http://", "https://"):
        adapter = rt3._transport.session.get_adapter(prefix + "127.0.0.1/")
        retries = adapter.max_retries
        assert retries.total == 0 and retries.read is False and retries.redirect in (0, None, False)
    assert rt3._transport.session.trust_env is False
