"""R4, R5, R7 and the stale pool: every call is bounded in time and memory, over real loopback HTTP.

The deadline tests use real time (a dripping server can only be observed in real time); each
is kept to about a second.
"""

from __future__ import annotations

import gc
import resource
import socket
import threading
import time
import tracemalloc
from email.utils import formatdate

import pytest
from relaykit import RateLimitError, RequestTimeoutError, Runtime, TransportError

CAP = 10 * 1024 * 1024  # the default response cap (Settings.max_response_bytes)
KEYED = ("customerio-track.track_event", {"identifier": "slow", "name": "e"})
UNSAFE = ("customerio-app.trigger_broadcast", {"broadcast_id": 8})


def run(rt, sandbox, op=KEYED):
    name, data = op
    return rt.run(name, data, sandbox.connection(name.split(".")[0]))


@pytest.mark.parametrize("fault", [
    pytest.param({"kind": "drip", "interval": 0.05}, id="drip-1-byte-per-50ms"),
    pytest.param({"kind": "drip", "interval": 0.3}, id="drip-1-byte-per-300ms"),
    pytest.param({"kind": "stall", "seconds": 5}, id="accept-then-silence"),
])
def test_slow_server_fails_within_the_total_deadline(sandbox, fault):
    """R7: requests' per-read timeout never trips on a drip; the watchdog bounds the whole attempt."""
    sandbox.set_faults({"schedule": [fault] * 5})
    rt = Runtime(sleep=lambda s: None, timeouts={"total": 1.0})
    started = time.monotonic()
    try:
        with pytest.raises(RequestTimeoutError):
            run(rt, sandbox)
    finally:
        rt.close()
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 1.5, elapsed
    assert len(sandbox.journal()) == 1  # the deadline was spent; no second attempt started


def test_drip_is_bounded_per_attempt_by_connect_plus_read(sandbox):
    """An attempt may not outlast connect + read timeouts even when the call's deadline is far away."""
    sandbox.set_faults({"schedule": [{"kind": "drip", "interval": 0.05}], "drip_interval": 0.05})
    waits = []
    rt = Runtime(sleep=waits.append, timeouts={"connect": 0.3, "read": 0.4, "total": 30})
    started = time.monotonic()
    try:
        result = run(rt, sandbox)
    finally:
        rt.close()
    assert result.attempts == 2 and time.monotonic() - started < 1.5  # abandoned at 0.7 s, then retried
    assert len(sandbox.journal()) == 2 and sandbox.stats()["duplicates"]["customerio-track"] == 1


def test_failing_call_wall_time_is_at_most_deadline_plus_one_request_timeout(sandbox):
    """R4 with real sleeping: retries stop when the next wait or attempt would overrun the deadline."""
    sandbox.set_faults({"schedule": [{"kind": "stall", "seconds": 0.5}] * 50})
    rt = Runtime(timeouts={"read": 0.2, "total": 1.0}, retry={"max_attempts": 50, "initial": 0.05, "max": 0.1})
    started = time.monotonic()
    try:
        with pytest.raises(RequestTimeoutError) as info:
            run(rt, sandbox)
    finally:
        rt.close()
    assert time.monotonic() - started <= 1.0 + 0.2 + 0.15
    assert info.value.attempts >= 3


def _traced_peak(fn):
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        try:
            fn()
        finally:
            peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) * 1024
    return peak, rss_growth


@pytest.mark.parametrize("fault", [
    pytest.param({"kind": "body", "size": 100_000_000, "body": "x" * 100}, id="100MB-declared"),
    pytest.param({"kind": "body", "size": 100_000_000, "gzip": True}, id="gzip-bomb-100MB"),
])
def test_oversized_response_aborts_at_the_cap_with_bounded_memory(sandbox, fault, figures):
    """R7: the cap counts decoded bytes; memory stays under 2x the cap; a keyed call does not resend."""
    sandbox.set_faults({"schedule": [fault] * 3})
    rt = Runtime(sleep=lambda s: None)
    errors = []

    def call():
        try:
            run(rt, sandbox)
        except TransportError as exc:
            errors.append(exc)

    try:
        peak, rss_growth = _traced_peak(call)
    finally:
        rt.close()
    assert errors and "cap" in str(errors[0]) and errors[0].retryable is False
    assert errors[0].attempts == 1 and len(sandbox.journal()) == 1
    assert peak < 2 * CAP and rss_growth < 2 * CAP
    figures.add("R7", f"{'gzip bomb' if fault.get('gzip') else 'plain'}: traced peak {peak / 2**20:.1f} MiB, "
              f"max-RSS growth {rss_growth / 2**20:.1f} MiB (cap {CAP / 2**20:.0f} MiB)")


KEEP_ALIVE_THEN_CLOSE = {
    "kind": "raw", "then": "close",
    "data": "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
}


@pytest.mark.parametrize("op", [pytest.param(KEYED, id="keyed"), pytest.param(UNSAFE, id="unsafe")])
def test_pooled_connection_closed_by_the_server_is_replaced_before_sending(sandbox, op):
    """A kept-alive connection the server has since closed is detected by urllib3 before any byte is
    written (it polls the idle socket) and replaced: even an unsafe call goes out once, not as a failure."""
    sandbox.set_faults({"schedule": [KEEP_ALIVE_THEN_CLOSE]})
    rt = Runtime(sleep=lambda s: None)
    try:
        first = run(rt, sandbox, op)  # answered as keep-alive, then the server hangs up
        time.sleep(0.05)
        second = run(rt, sandbox, op)
    finally:
        rt.close()
    assert first.attempts == 1 and second.attempts == 1
    assert len(sandbox.journal()) == 2 and sandbox.stats()["connections_accepted"] == 2


@pytest.mark.parametrize(("op", "attempts"), [pytest.param(KEYED, 2, id="keyed-resent"),
                                              pytest.param(UNSAFE, 1, id="unsafe-not-resent")])
def test_pooled_connection_lost_after_sending_follows_the_table(sandbox, op, attempts):
    """The race urllib3 cannot see (the server drops the reused connection after our bytes left) is
    'maybe sent': resent for safe and keyed calls, never for unsafe ones."""
    rt = Runtime(sleep=lambda s: None)
    try:
        run(rt, sandbox, op)  # leaves a pooled keep-alive connection
        sandbox.set_faults({"schedule": [{"kind": "reset_before"}]})
        if attempts == 1:
            with pytest.raises(TransportError) as info:
                run(rt, sandbox, op)
            assert info.value.attempts == 1 and not info.value.retryable
        else:
            assert run(rt, sandbox, op).attempts == 2
    finally:
        rt.close()
    # the first attempt reused the pooled connection; only a resend opened a new one
    assert sandbox.stats()["connections_accepted"] == attempts and len(sandbox.journal()) == 1 + attempts



@pytest.mark.parametrize(("header", "outcome"), [
    pytest.param("0", ("wait", 0.0), id="zero"),
    pytest.param("1", ("wait", 1.0), id="one"),
    pytest.param("1.5", ("wait", 1.5), id="fractional"),
    pytest.param("-1", ("backoff", None), id="negative"),
    pytest.param("abc", ("backoff", None), id="garbage"),
    pytest.param("", ("backoff", None), id="empty"),
    pytest.param(None, ("backoff", None), id="absent"),
    pytest.param(-3600, ("wait", 0.0), id="http-date-past"),
    pytest.param(30, ("wait", 28.0), id="http-date-in-30s"),
    pytest.param("61", ("raise", 61.0), id="over-the-60s-ceiling"),
    pytest.param("999999999", ("raise", 999999999.0), id="huge"),
    pytest.param(7 * 86400, ("raise", 7 * 86400 - 5), id="http-date-far-future"),
])
def test_retry_after_forms_against_the_sandbox(sandbox, make_rt, header, outcome):
    """R5: both forms honoured; odd values deterministic; beyond the ceiling -> RateLimitError at once."""
    if isinstance(header, int):  # an HTTP-date this many seconds from now
        header = formatdate(time.time() + header, usegmt=True)
    fault = {"kind": "429"} if header is None else {"kind": "429", "retry_after": header}
    sandbox.set_faults({"schedule": [fault]})
    rt = make_rt()
    kind, value = outcome
    if kind == "raise":
        with pytest.raises(RateLimitError) as info:
            run(rt, sandbox)
        assert info.value.retry_after >= value and rt.waits == []
        assert len(sandbox.journal()) == 1
        return
    assert run(rt, sandbox).attempts == 2
    assert len(rt.waits) == 1
    if kind == "wait":
        assert rt.waits[0] >= value
    else:
        assert 0 <= rt.waits[0] <= 0.5  # first backoff envelope: [0, initial]


def test_retry_after_beyond_the_remaining_deadline_raises_at_once(sandbox, make_rt):
    sandbox.set_faults({"schedule": [{"kind": "429", "retry_after": "20"}]})
    rt = make_rt(timeouts={"total": 10})
    with pytest.raises(RateLimitError) as info:
        run(rt, sandbox)
    assert info.value.retry_after == 20 and rt.waits == []


@pytest.fixture
def tls_drip_server():
    """Accepts TCP, reads the ClientHello, then drips a TLS record header's promised bytes one at a time."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()
    accepted = []

    def drip(conn):
        with conn:
            try:
                conn.recv(65536)  # the ClientHello
                conn.sendall(b"\x16\x03\x03\x40\x00")  # a handshake record of 16 KiB, coming very slowly
                while not stop.wait(0.05):
                    conn.sendall(b"\x02")
            except OSError:
                return

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1], accepted
    stop.set()
    listener.close()


def test_a_dripped_tls_handshake_is_cut_off_at_the_attempt_budget(sandbox, tls_drip_server):
    """Each handshake read returns well within the timeout, yet the handshake as a whole is bounded.

    CPython's ssl module runs `do_handshake` against one deadline of the socket's timeout (not a
    fresh timeout per read), so the connect timeout bounds a dripped handshake; this pins that.
    """
    port, accepted = tls_drip_server
    rt = Runtime(sleep=lambda s: None, timeouts={"connect": 0.5, "read": 0.5, "total": 1.0})
    started = time.monotonic()
    try:
        with pytest.raises((RequestTimeoutError, TransportError)):
            rt.run("customerio-track.delete_customer", {"identifier": "x"},
                   {**sandbox.connection("customerio-track"), "sandbox_url": f"https://127.0.0.1:{port}"})
    finally:
        rt.close()
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, elapsed
    assert len(accepted) >= 1
