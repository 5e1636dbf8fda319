"""The webhook receiver: verification, replay and duplicate handling, and never a 5xx for bad input."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from urllib.parse import urlsplit

import pytest
from relaykit.webhooks.receiver import EventStore, Verifier, WebhookReceiver, parse_signing_keys, sign

NOW = 1_700_000_000
KEY, OLD_KEY = "whsec-current-0001", "whsec-previous-0002"


def event(event_id="01EVT0000000000000000001", metric="bounced", **extra):
    return {"event_id": event_id, "object_type": "email", "metric": metric, "timestamp": NOW,
            "data": {"identifiers": {"id": "ada"}}, **extra}


def encode(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def signed_headers(body, key=KEY, ts=NOW):
    return {"X-CIO-Timestamp": str(ts), "X-CIO-Signature": sign(key, str(ts), body),
            "Content-Type": "application/json"}


def post(url, body=b"", headers=None, *, method="POST", path=None, length=True, raw_headers=()):
    """Send with full control over headers (duplicates, no Content-Length); returns (status, json)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        conn.putrequest(method, path or parts.path or "/", skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        for name, value in raw_headers:
            conn.putheader(name, value)
        if length:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data else None)
    finally:
        conn.close()


class Recorder:
    def __init__(self):
        self.events = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, evt):
        self.entered.set()
        self.gate.wait(10)
        self.events.append(evt)
        if evt.get("metric") == "explode":
            raise RuntimeError("handler bug")
        return evt.get("metric") != "fail"


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def receiver(recorder):
    with WebhookReceiver(recorder, [KEY, OLD_KEY], tolerance=300, max_body_bytes=4096, clock=lambda: NOW,
                         poll_interval=0.01) as rec:
        yield rec


# -- the table ------------------------------------------------------------------------------------------


def _valid(body):
    return body, signed_headers(body)


def _case(name, status, build, **kw):
    return pytest.param(build, status, kw, id=name)


BODY = encode(event())

CASES = [
    _case("valid", 200, lambda: _valid(BODY)),
    _case("old-key-after-rotation", 200, lambda: (BODY, signed_headers(BODY, key=OLD_KEY))),
    _case("uppercase-hex", 200, lambda: (BODY, {**signed_headers(BODY),
                                                "X-CIO-Signature": sign(KEY, str(NOW), BODY).upper()})),
    _case("header-name-case", 200, lambda: (BODY, {"x-cio-timestamp": str(NOW),
                                                   "x-cio-signature": sign(KEY, str(NOW), BODY)})),
    _case("just-inside-window-past", 200, lambda: (BODY, signed_headers(BODY, ts=NOW - 300))),
    _case("just-inside-window-future", 200, lambda: (BODY, signed_headers(BODY, ts=NOW + 300))),
    _case("wrong-key", 401, lambda: (BODY, signed_headers(BODY, key="someone-else-key"))),
    _case("tampered-body", 401, lambda: (encode(event(metric="delivered")), signed_headers(BODY))),
    _case("reserialised-body", 401, lambda: (json.dumps(event()).encode(), signed_headers(BODY))),
    _case("tampered-timestamp", 401, lambda: (BODY, {**signed_headers(BODY), "X-CIO-Timestamp": str(NOW + 1)})),
    _case("stale", 401, lambda: (BODY, signed_headers(BODY, ts=NOW - 301))),
    _case("future", 401, lambda: (BODY, signed_headers(BODY, ts=NOW + 301))),
    _case("far-future", 401, lambda: (BODY, signed_headers(BODY, ts=99_999_999_999))),
    _case("milliseconds-timestamp", 400, lambda: (BODY, signed_headers(BODY, ts=NOW * 1000))),
    _case("missing-signature", 400, lambda: (BODY, {"X-CIO-Timestamp": str(NOW)})),
    _case("missing-timestamp", 400, lambda: (BODY, {"X-CIO-Signature": sign(KEY, str(NOW), BODY)})),
    _case("missing-both", 400, lambda: (BODY, {})),
    _case("empty-signature", 400, lambda: (BODY, {**signed_headers(BODY), "X-CIO-Signature": ""})),
    _case("non-hex-signature", 400, lambda: (BODY, {**signed_headers(BODY), "X-CIO-Signature": "z" * 64})),
    _case("short-signature", 400, lambda: (BODY, {**signed_headers(BODY),
                                                  "X-CIO-Signature": sign(KEY, str(NOW), BODY)[:-1]})),
    _case("long-signature", 400, lambda: (BODY, {**signed_headers(BODY),
                                                 "X-CIO-Signature": sign(KEY, str(NOW), BODY) + "0"})),
    _case("prefixed-signature", 400, lambda: (BODY, {**signed_headers(BODY),
                                                     "X-CIO-Signature": "v0=" + sign(KEY, str(NOW), BODY)})),
    _case("non-numeric-timestamp", 400, lambda: (BODY, {**signed_headers(BODY), "X-CIO-Timestamp": "abc"})),
    _case("float-timestamp", 400, lambda: (BODY, signed_headers(BODY, ts=f"{NOW}.5"))),
    _case("negative-timestamp", 400, lambda: (BODY, signed_headers(BODY, ts=-5))),
    _case("non-utf8-body", 400, lambda: _valid(b'{"event_id": "\xff\xfe"}')),
    _case("bom-body", 400, lambda: _valid(b"\xef\xbb\xbf" + BODY)),
    _case("empty-body", 400, lambda: _valid(b"")),
    _case("not-json", 400, lambda: _valid(b"event_id=1")),
    _case("json-array", 400, lambda: _valid(b"[1, 2]")),
    _case("nan", 400, lambda: _valid(b'{"event_id": "e", "x": NaN}')),
    _case("missing-event-id", 400, lambda: _valid(encode({"metric": "sent"}))),
    _case("numeric-event-id", 400, lambda: _valid(encode({"event_id": 12}))),
    _case("deep-nesting", 400, lambda: _valid(b'{"event_id": "e", "x": ' + b"[" * 3000 + b"]" * 3000 + b"}")),
    _case("oversized", 400, lambda: _valid(encode(event(pad="x" * 5000)))),
    _case("duplicated-signature-header", 400, lambda: (BODY, signed_headers(BODY)),
          raw_headers=(("X-CIO-Signature", "0" * 64),)),
    _case("no-content-length", 400, lambda: (b"", signed_headers(b"")), length=False),
    _case("chunked", 400, lambda: (b"", signed_headers(b"")), length=False,
          raw_headers=(("Transfer-Encoding", "chunked"),)),
    _case("wrong-path", 404, lambda: _valid(BODY), path="/other"),
    _case("unparsable-target", 404, lambda: _valid(BODY), path="//["),  # fuzz finding W1
    _case("superscript-length", 400, lambda: (BODY, signed_headers(BODY)), length=False,  # fuzz finding W2
          raw_headers=(("Content-Length", "\u00b2"),)),
    _case("5000-digit-length", 400, lambda: (BODY, signed_headers(BODY)), length=False,
          raw_headers=(("Content-Length", "9" * 5000),)),
    _case("get", 405, lambda: (b"", {}), method="GET"),
    _case("unknown-method", 405, lambda: (b"", {}), method="BREW"),
]


@pytest.mark.parametrize(("build", "status", "options"), CASES)
def test_receiver_answers(receiver, recorder, build, status, options):
    body, headers = build()
    got, answer = post(receiver.url, body, headers, **options)
    assert got == status
    assert receiver.wait_idle()
    assert len(recorder.events) == (1 if status == 200 else 0)
    if status == 200:
        assert answer == {"ok": True, "result": "accepted"}
    # whatever was refused, the server is still healthy
    assert post(receiver.url, *_valid(encode(event(event_id="01EVTHEALTH"))))[0] == 200


def test_never_a_server_error_for_random_garbage(receiver, recorder):
    rng = random.Random(1234)
    statuses = set()
    for _ in range(150):
        body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 300)))
        if rng.random() < 0.3:
            body = encode({"event_id": "".join(rng.choice("abc\x00\u2028é") for _ in range(8))})
        ts = rng.choice([str(NOW), str(rng.randrange(-10**6, 10**13)), "", " ", "1e9", "\uff10"])
        sig = rng.choice([sign(KEY, ts, body) if ts.isascii() else "", "", "g" * 64, "a" * rng.randrange(0, 130)])
        headers = {"X-CIO-Timestamp": ts, "X-CIO-Signature": sig}
        try:
            status, _ = post(receiver.url, body, headers)
        except (http.client.HTTPException, UnicodeEncodeError):
            continue  # the client library refused to send it
        statuses.add(status)
        assert status in (200, 400, 401), status
    assert 400 in statuses


def test_duplicates_are_acknowledged_and_run_once(receiver, recorder):
    body = encode(event(event_id="01DUP"))
    assert post(receiver.url, *_valid(body)) == (200, {"ok": True, "result": "accepted"})
    assert post(receiver.url, *_valid(body)) == (200, {"ok": True, "result": "duplicate"})
    # a legitimate redelivery: same body, fresh timestamp and signature
    assert post(receiver.url, body, signed_headers(body, ts=NOW + 60))[1]["result"] == "duplicate"
    assert receiver.wait_idle()
    assert [e["event_id"] for e in recorder.events] == ["01DUP"]
    assert receiver.stats()["duplicate"] == 2


def test_concurrent_duplicates_run_once(receiver, recorder):
    body = encode(event(event_id="01RACE"))
    statuses = []

    def send():
        statuses.append(post(receiver.url, *_valid(body))[0])

    threads = [threading.Thread(target=send) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 12
    assert receiver.wait_idle()
    assert len(recorder.events) == 1


def test_every_valid_event_runs_once_in_order(receiver, recorder):
    ids = [f"01ORDER{i:04d}" for i in range(40)]
    for event_id in ids:
        assert post(receiver.url, *_valid(encode(event(event_id=event_id))))[0] == 200
    assert receiver.wait_idle()
    assert [e["event_id"] for e in recorder.events] == ids
    assert receiver.stats()["accepted"] == 40 and receiver.stats()["processed"] == 40


def test_acknowledges_before_the_automation_runs(receiver, recorder):
    recorder.gate.clear()  # the worker blocks as if the automation were slow
    started = time.monotonic()
    for i in range(3):
        assert post(receiver.url, *_valid(encode(event(event_id=f"01SLOW{i}"))))[0] == 200
    assert time.monotonic() - started < 1.0  # far inside Customer.io's 4 s
    assert recorder.events == []
    recorder.gate.set()
    assert receiver.wait_idle()
    assert len(recorder.events) == 3


def test_a_failing_handler_is_counted_and_the_receiver_goes_on(receiver, recorder):
    for event_id, metric in (("01A", "explode"), ("01B", "fail"), ("01C", "sent")):
        assert post(receiver.url, *_valid(encode(event(event_id=event_id, metric=metric))))[0] == 200
    assert receiver.wait_idle()
    assert len(recorder.events) == 3
    stats = receiver.stats()
    assert (stats["failed"], stats["processed"]) == (2, 1)


def test_a_full_queue_asks_for_a_retry_and_forgets_the_id(recorder):
    recorder.gate.clear()
    with WebhookReceiver(recorder, [KEY], queue_size=1, clock=lambda: NOW, poll_interval=0.01) as rec:
        assert post(rec.url, *_valid(encode(event(event_id="01Q0"))))[0] == 200
        assert recorder.entered.wait(5)  # the worker holds the first event
        statuses = [post(rec.url, *_valid(encode(event(event_id=f"01Q{i}"))))[0] for i in (1, 2, 3)]
        assert statuses == [200, 503, 503]  # one queued, then full
        recorder.gate.set()
        assert rec.wait_idle()
        assert post(rec.url, *_valid(encode(event(event_id="01Q3"))))[1]["result"] == "accepted"


def test_tolerance_zero_disables_the_window(recorder):
    with WebhookReceiver(recorder, [KEY], tolerance=0, clock=lambda: NOW, poll_interval=0.01) as rec:
        assert post(rec.url, *_valid(BODY))[0] == 200
        assert post(rec.url, encode(event(event_id="01OLD")), signed_headers(encode(event(event_id="01OLD")),
                                                                              ts=1))[0] == 200


def test_binds_loopback_by_default_and_serves_a_path(recorder):
    with WebhookReceiver(recorder, [KEY], path="hooks/cio", clock=lambda: NOW, poll_interval=0.01) as rec:
        assert rec.url.startswith("http://127.0.0.1:") and rec.url.endswith("/hooks/cio")
        assert post(rec.url, *_valid(BODY))[0] == 200
        assert post(rec.url, *_valid(BODY), path="/")[0] == 404


# -- parts ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("keys", [[], [""], ["  "], ["ok", ""]])
def test_an_empty_key_list_refuses_to_start(keys):
    with pytest.raises(ValueError):
        Verifier(keys)
    with pytest.raises(ValueError):
        WebhookReceiver(lambda e: None, keys)


def test_parse_signing_keys():
    assert parse_signing_keys(" a, b ,,c ") == ["a", "b", "c"]
    assert parse_signing_keys("") == [] and parse_signing_keys(None) == []


def test_sign_matches_the_documented_recipe():
    import hashlib
    import hmac

    body = b'{"event_id":"x"}'
    expected = hmac.new(b"k", b"v0:123:" + body, hashlib.sha256).hexdigest()
    assert sign("k", "123", body) == expected and len(expected) == 64


def test_event_store_ttl_and_bound():
    now = [0.0]
    store = EventStore(ttl=10, max_size=3, clock=lambda: now[0])
    assert store.add("a") and not store.add("a")
    now[0] = 11
    assert store.add("a")  # expired, so new again
    for name in "bcd":
        assert store.add(name)
    assert len(store) == 3 and store.add("a")  # the oldest was evicted
    store.discard("a")
    assert store.add("a")


def test_repr_never_shows_keys():
    assert KEY not in repr(Verifier([KEY]))
