"""Atheris fuzz target for the webhook receiver (S5): signature verification and event parsing.

Each input becomes one POST handed to `WebhookReceiver.handle` (what the HTTP handler calls for every
request): a request target, a header block parsed by `http.client.parse_headers` (the parser
`http.server` uses), and the bytes on the wire after the headers. Inputs come in three shapes:
garbage (every byte fuzzed), signed-then-tampered (a correct signature over a fuzzed body and
timestamp, then one fuzzed edit of the body, timestamp, signature, key or headers), and correctly
signed fuzzed bodies (the JSON event parser).

Property, per input:
  * `handle` returns; any exception is a finding (the HTTP handler would turn it into a generic
    400, but an exception there is a path nobody designed);
  * the status is 200, 400, 401, 404 or 503;
  * a request that is not authentic (by this file's own oracle: one plain Content-Length framing
    the body, exactly one timestamp and one signature header, a fresh 1-12 digit timestamp, and
    the lowercase hex HMAC-SHA256 of `v0:{timestamp}:{body}` under one of the configured keys) is
    refused with 400 or 401 (404 off the receiver's path), never 200 or 503;
  * an authentic request to the receiver's path is 200 when its body is a JSON object with a
    usable `event_id`, 400 otherwise.

Run (from the repository root; see fuzz/README.md):
    .venv/bin/python fuzz/fuzz_webhook.py -runs=1000000 -max_total_time=600 -seed=1 -artifact_prefix=/tmp/
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import io
import json
import os
import sys
from typing import Any

if os.environ.get("PYTHONHASHSEED") != "0":  # the same -seed must replay the same run: fix str hashing too
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import atheris

with atheris.instrument_imports(include=["relaykit.webhooks"]):
    from relaykit.webhooks.receiver import WebhookReceiver

NOW = 1_700_000_000
TOLERANCE = 300
KEYS = ["whsec_CANARY_current_0123", "whsec_CANARY_previous_4567"]
WRONG_KEY = "whsec_CANARY_other_89ab"
PATH = "/hooks/cio"
MAX_BODY = 4096
NAMES = ["X-CIO-Signature", "X-CIO-Timestamp", "Content-Length", "Transfer-Encoding", "x-cio-signature",
         "X-CIO-TIMESTAMP", "Content-Type", "Content-Encoding", "Connection", "X-Other"]
PATHS = [PATH, PATH + "?x=1", PATH + "/", "/", "//[", "//a\uff03b/", "/hooks/cio#f", "http://h" + PATH, "*", ""]
EVENT_IDS = ["01HZY7K8Q4W9X2M5N6P3R1T0VM", "", "x" * 257, "a\nb", "\u202e", 7, None, ["x"]]

RECEIVER = WebhookReceiver(lambda event: None, KEYS, path=PATH, tolerance=TOLERANCE, clock=lambda: NOW,
                           max_body_bytes=MAX_BODY, queue_size=1000)


class Finding(AssertionError):
    """The receiver's property does not hold for this input."""


class FakeRequest:
    """What `WebhookReceiver.handle` reads from `http.server`'s handler: path, headers, rfile, close_connection."""

    def __init__(self, path: str, head: bytes, rest: bytes) -> None:
        self.path = path
        self.headers = http.client.parse_headers(io.BytesIO(head))
        self.rfile = io.BytesIO(rest)
        self.close_connection = False


def sign(key: str, timestamp: str, body: bytes) -> str:
    """Customer.io's signature, computed here (not with relaykit.webhooks.sign)."""
    return hmac.new(key.encode(), b"v0:" + timestamp.encode("latin-1") + b":" + body, hashlib.sha256).hexdigest()


def oracle_authentic(headers: Any, body: bytes) -> bool:
    """Authentic and fresh, by the spec (not by calling the code under test)."""
    signatures, timestamps = headers.get_all("X-CIO-Signature") or [], headers.get_all("X-CIO-Timestamp") or []
    if len(signatures) != 1 or len(timestamps) != 1:
        return False
    timestamp, signature = timestamps[0].strip(), signatures[0].strip()
    if not (timestamp.isascii() and timestamp.isdigit() and 1 <= len(timestamp) <= 12):
        return False
    if abs(NOW - int(timestamp)) > TOLERANCE:
        return False
    return any(hmac.compare_digest(sign(key, timestamp, body), signature.lower()) for key in KEYS)


def oracle_event(body: bytes) -> bool:
    """A JSON object (no NaN/Infinity) whose `event_id` is a printable string of 1-256 characters."""
    try:
        event = json.loads(body.decode("utf-8"), parse_constant=lambda name: 1 / 0)
    except (UnicodeDecodeError, ValueError, ZeroDivisionError, RecursionError):
        return False
    event_id = event.get("event_id") if isinstance(event, dict) else None
    return isinstance(event_id, str) and 0 < len(event_id) <= 256 and event_id.isprintable()


def header_block(pairs: list[tuple[str, str]]) -> bytes:
    """The header lines as they arrive on the wire, ending with the blank line."""
    return b"".join(f"{name}: {value}\r\n".encode("latin-1", "replace") for name, value in pairs) + b"\r\n"


def event_body(fdp: atheris.FuzzedDataProvider) -> bytes:
    """Raw bytes, or a JSON event with a listed or fuzzed `event_id`, maybe with fuzz spliced into the text."""
    kind = fdp.ConsumeIntInRange(0, 3)
    if kind == 0:
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 256))
    event: dict[str, Any] = {"event_id": fdp.PickValueInList(EVENT_IDS) if kind == 1 else
                             fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 40)),
                             "metric": fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 16))}
    text = json.dumps(event, ensure_ascii=fdp.ConsumeBool())
    if kind == 3:  # splice fuzz into the JSON text
        at = fdp.ConsumeIntInRange(0, len(text))
        text = text[:at] + fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 16)) + text[at:]
    return text.encode("utf-8", "surrogatepass")


def tamper(fdp: atheris.FuzzedDataProvider, timestamp: str, signature: str, body: bytes,
           extra: list[tuple[str, str]]) -> tuple[str, str, bytes, list[tuple[str, str]]]:
    """One fuzzed edit of a correctly signed request."""
    edit = fdp.ConsumeIntInRange(0, 9)
    if edit == 0 and body:  # flip one body byte
        at = fdp.ConsumeIntInRange(0, len(body) - 1)
        body = body[:at] + bytes([body[at] ^ (fdp.ConsumeIntInRange(1, 255))]) + body[at + 1:]
    elif edit == 1:  # append or truncate the body
        body = body + fdp.ConsumeBytes(4) if fdp.ConsumeBool() else body[: fdp.ConsumeIntInRange(0, len(body))]
    elif edit == 2:  # another timestamp (same signature)
        timestamp = str(int(timestamp) + fdp.ConsumeIntInRange(-1000, 1000))
    elif edit == 3:  # one hex digit of the signature
        at = fdp.ConsumeIntInRange(0, len(signature) - 1)
        signature = signature[:at] + fdp.PickValueInList(list("0123456789abcdefABCDEF")) + signature[at + 1:]
    elif edit == 4:  # signed with a key the receiver does not hold
        signature = sign(WRONG_KEY, timestamp, body)
    elif edit == 5:  # signature shape: cut, padded, prefixed
        signature = fdp.PickValueInList([signature[:-1], signature + "0", "sha256=" + signature, signature * 2,
                                         " " + signature.upper() + " ", signature + "\x00"])
    elif edit == 6:  # timestamp shape
        timestamp = fdp.PickValueInList([timestamp + ".0", "+" + timestamp, "0" + timestamp, timestamp + "\xa0",
                                         "\u0661" + timestamp[1:], "-" + timestamp, timestamp * 2, ""])
    elif edit == 7:  # a second signature or timestamp header
        extra.append((fdp.PickValueInList(["X-CIO-Signature", "x-cio-timestamp"]),
                      fdp.PickValueInList([signature, timestamp, ""])))
    elif edit == 8:  # a stale or future but correctly signed timestamp
        timestamp = str(NOW + fdp.PickValueInList([-TOLERANCE - 1, TOLERANCE + 1, -10**9, 10**11]))
        signature = sign(fdp.PickValueInList(KEYS), timestamp, body)
    else:  # arbitrary extra headers
        extra.append((fdp.PickValueInList(NAMES), fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 24))))
    return timestamp, signature, body, extra


def build(fdp: atheris.FuzzedDataProvider) -> FakeRequest:
    """One request: garbage, signed then tampered, or correctly signed with a fuzzed body."""
    shape = fdp.ConsumeIntInRange(0, 2)
    path = fdp.PickValueInList(PATHS) if fdp.ConsumeIntInRange(0, 7) == 0 else PATH
    if shape == 0:  # garbage: a fuzzed header block and whatever bytes follow it
        head = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 512))
        if fdp.ConsumeBool():
            path = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 32))
        return FakeRequest(path, head.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n", fdp.ConsumeBytes(fdp.remaining_bytes()))
    body = event_body(fdp)
    timestamp = str(NOW + fdp.ConsumeIntInRange(-TOLERANCE, TOLERANCE))
    signature = sign(fdp.PickValueInList(KEYS), timestamp, body)
    extra: list[tuple[str, str]] = []
    if shape == 1:
        timestamp, signature, body, extra = tamper(fdp, timestamp, signature, body, extra)
    length = str(len(body))
    if fdp.ConsumeIntInRange(0, 7) == 0:  # a lying or malformed Content-Length
        length = fdp.PickValueInList([str(len(body) + 1), str(max(len(body) - 1, 0)), "-1", "\xb2", " 1 ", "1e3",
                                      "9" * 5000, str(MAX_BODY + 1), "0x10", ""])
    pairs = [("X-CIO-Timestamp", timestamp), ("X-CIO-Signature", signature), ("Content-Length", length), *extra]
    if fdp.ConsumeBool():
        pairs.reverse()
    return FakeRequest(path, header_block(pairs), body + fdp.ConsumeBytes(8))


def drain() -> None:
    """Empty the receiver's queue (its worker thread is not running here) so accepted events never see 503."""
    while not RECEIVER._queue.empty():
        RECEIVER._queue.get_nowait()
        RECEIVER._queue.task_done()


def TestOneInput(data: bytes) -> None:
    """One request through `WebhookReceiver.handle`; the answer must match the oracle."""
    fdp = atheris.FuzzedDataProvider(data)
    try:
        request = build(fdp)
    except http.client.HTTPException:
        return  # http.server refuses such a header block before the receiver runs
    status, reason = RECEIVER.handle(request)  # an exception here is a finding
    drain()
    if status not in (200, 400, 401, 404, 503):
        raise Finding(f"unexpected status {status} ({reason})")
    lengths = request.headers.get_all("Content-Length") or []
    length = lengths[0].strip() if len(lengths) == 1 else ""
    framed = (request.headers.get("Transfer-Encoding") is None and length.isascii() and length.isdigit()
              and len(length) < 16 and int(length) <= MAX_BODY)
    request.rfile.seek(0)
    body = request.rfile.read(int(length)) if framed else b""
    authentic = framed and len(body) == int(length) and oracle_authentic(request.headers, body)
    if not authentic:
        if status not in (400, 401, 404):
            raise Finding(f"not authentic, yet answered {status} ({reason})")
        return
    if request.path in (PATH, PATH + "?x=1"):  # other targets may or may not name the receiver's path
        expected = 200 if oracle_event(body) else 400
        if status != expected:
            raise Finding(f"authentic request answered {status} ({reason}), expected {expected}")


def main() -> None:
    """Check that a correctly signed event is accepted (so the property is not vacuous), then fuzz."""
    body = b'{"event_id":"01HZY7K8Q4W9X2M5N6P3R1T0VM","metric":"delivered"}'
    head = header_block([("X-CIO-Timestamp", str(NOW)), ("X-CIO-Signature", sign(KEYS[1], str(NOW), body)),
                         ("Content-Length", str(len(body)))])
    assert RECEIVER.handle(FakeRequest(PATH, head, body)) == (200, "accepted")
    RECEIVER.events.discard("01HZY7K8Q4W9X2M5N6P3R1T0VM")
    drain()
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
