"""S3 and S4: canary credentials and a canary email never appear in anything relaykit emits.

Canary credentials for all four connectors run through successes, every error path, retries,
dry runs, observers, reprs, the CLI and DEBUG logging on every logger (urllib3 included, and
pluggy's hook tracing). Every captured text is scanned for each secret in every form it can take
(tests/canary_scan.py): raw, repr, Basic base64 (`site:key` and `key:`), URL-encoded, JSON-escaped.
That plugin applies the same scan to every test of the suite; this test drives the paths on purpose.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import traceback
from urllib.parse import quote

import pytest
from canary_scan import FORMS, SPARE_CREDENTIALS, leaks, mask
from relaykit import ConnectionConfigError, Runtime, Secret, hookimpl
from relaykit.cli import main as cli_main
from relaykit.sandbox import Sandbox

# A second canary set (the session sandbox already runs on the first, see tests/canary_scan.py), so the
# same calls against the session sandbox exercise the 401 paths. The scanner looks for both sets.
SITE = SPARE_CREDENTIALS["site_id"]
KEYS = {"track": SPARE_CREDENTIALS["track_api_key"], "app": SPARE_CREDENTIALS["app_api_key"],
        "pipelines": SPARE_CREDENTIALS["pipelines_api_key"]}
EMAIL = "canary.person+pii@example.org"


@pytest.fixture(scope="module")
def canary_sandbox():
    with Sandbox(seed=1, processing_delay=0.0, site_id=SITE, track_api_key=KEYS["track"],
                 app_api_key=KEYS["app"], pipelines_api_key=KEYS["pipelines"]) as sb:
        yield sb


@pytest.fixture
def debug_logs():
    """DEBUG on every logger that exists (and the root), captured as formatted text."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in list(logging.root.manager.loggerDict)}
    saved_root = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in ("urllib3", "urllib3.connectionpool", "urllib3.connection", "urllib3.response", "requests",
                 "relaykit", *saved):
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(saved_root)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


class Spy:
    """An observer plugin that keeps the repr of everything it is shown."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl
    def on_request(self, request, context):
        self.seen.append(repr(request) + repr(request.to_dict()) + request.to_curl() + repr(context))

    @hookimpl
    def on_response(self, response, context):
        self.seen.append(repr(response) + repr(context))


def describe_error(exc: BaseException, with_locals: bool = True) -> str:
    """str, repr, to_dict, and the formatted traceback with chained causes (and every frame's locals).

    Locals are for secrets only: a caller's own payload sits in its frames' locals by nature.
    """
    parts = [str(exc), repr(exc)]
    if hasattr(exc, "to_dict"):
        parts.append(json.dumps(exc.to_dict(), ensure_ascii=False))
    parts += traceback.format_exception(exc)
    if with_locals:
        below_test = exc.__traceback__.tb_next if exc.__traceback__ else None  # skip the test's own frame
        parts += list(traceback.TracebackException(type(exc), exc, below_test, capture_locals=True).format())
    return "\n".join(parts)


def locals_showing_secrets(exc: BaseException) -> set[str]:
    """`file:function:local` for each frame local (below the test's own frame) whose repr shows a canary."""
    below_test = exc.__traceback__.tb_next if exc.__traceback__ else None
    found, todo = set(), [traceback.TracebackException(type(exc), exc, below_test, capture_locals=True)]
    while todo:
        te = todo.pop()
        for frame in te.stack:
            if frame.filename.endswith("canary_scan.py"):  # the scanner's own wrappers around Runtime methods
                continue
            found |= {f"{frame.filename.rsplit('/', 1)[-1]}:{frame.name}:{name}"
                      for name, value in (frame.locals or {}).items() if leaks(value)}
        todo += [t for t in (te.__cause__, te.__context__) if t is not None]
    return found


# Where a traceback rendered with locals (pytest -l, Sentry's frame variables, rich's show_locals) shows a key
# that the caller passed in a plain dict: that dict itself, and relaykit's copies of it while resolving. A caller
# who wants clean locals passes `relaykit.Secret` values (see the next test). Any other local fails.
CALLERS_PLAIN_DICT = {"runtime.py:run:connection", "runtime.py:dry_run:connection", "runtime.py:prepare:connection",
                      "runtime.py:resolve_connection:connection", "connection.py:resolve:config",
                      "connection.py:resolve:key", "connection.py:_resolve:config"}


def test_canary_credentials_never_disclosed(canary_sandbox, sandbox, debug_logs, capfd, tmp_path, monkeypatch):
    sb = canary_sandbox
    monkeypatch.setenv("RELAYKIT_TRACE_PLUGINS", "1")  # pluggy logs every hook call with its arguments' reprs
    spy = Spy()
    waits: list[float] = []
    rt = Runtime(plugins=[spy], sleep=waits.append)
    captured: list[str] = [repr(rt)]
    conns = {c: sb.connection(c) for c in ("customerio-track", "customerio-app", "customerio-beta",
                                           "customerio-pipelines")}
    assert conns["customerio-track"]["api_key"] == KEYS["track"]

    secret_locals: set[str] = set()

    def attempt(name, data, connection):
        try:
            result = rt.run(name, data, connection)
            captured.append(repr(result) + json.dumps(result.to_dict(), ensure_ascii=False, default=str))
        except Exception as exc:
            captured.append(describe_error(exc, with_locals=False))
            secret_locals.update(locals_showing_secrets(exc))

    track_event = ("customerio-track.track_event", {"identifier": EMAIL, "name": "canary", "data": {"e": EMAIL}})
    calls = [
        track_event,
        ("customerio-track.create_or_update_customer", {"identifier": "c1", "email": EMAIL}),
        ("customerio-app.trigger_broadcast", {"broadcast_id": 8, "emails": [EMAIL], "email_ignore_missing": True}),
        ("customerio-beta.get_broadcast_trigger_status", {"broadcast_id": 8, "trigger_id": 1}),
        ("customerio-pipelines.identify", {"userId": "c1", "traits": {"email": EMAIL}}),
        ("customerio-app.raw_http_request", {"method": "GET", "endpoint": "/customers/c1/attributes"}),
    ]
    for name, data in calls:  # successes and ordinary API errors
        attempt(name, data, conns[name.split(".")[0]])
        captured.append(repr(rt.resolve_connection(name.split(".")[0], conns[name.split(".")[0]])))
        request = rt.dry_run(name, data, conns[name.split(".")[0]])
        captured += [repr(request), json.dumps(request.to_dict(), ensure_ascii=False), request.to_curl()]

    # retries: 429 and 5xx until exhausted, then resets and truncation
    for fault in ({"kind": "429"}, {"kind": "status", "status": 503}, {"kind": "reset_after"},
                  {"kind": "truncated"}, {"kind": "redirect", "status": 302, "location": "http://127.0.0.2:9/"}):
        sb.set_faults({"schedule": [fault] * 4})
        attempt(*track_event, conns["customerio-track"])
        attempt("customerio-app.trigger_broadcast", {"broadcast_id": 8}, conns["customerio-app"])
        sb.set_faults(None)
    # 401: canary credentials against the default sandbox, which expects other keys
    for connector in conns:
        attempt(calls[0][0] if connector == "customerio-track" else calls[2][0] if connector != "customerio-pipelines"
                else calls[4][0], calls[0][1] if connector == "customerio-track" else calls[2][1]
                if connector != "customerio-pipelines" else calls[4][1],
                {**conns[connector], "sandbox_url": sandbox.url})
    # wrong region, connection refused, invalid input, http.client debug printing
    attempt(*track_event, {**conns["customerio-track"], "region": "eu"})
    attempt(*track_event, {**conns["customerio-track"], "sandbox_url": "http://127.0.0.1:9"})
    attempt("customerio-track.track_event", {"identifier": "..", "name": EMAIL, "timestamp": 1700000000000},
            conns["customerio-track"])
    http.client.HTTPConnection.debuglevel = 1  # would print() the Authorization header
    try:
        attempt(*track_event, conns["customerio-track"])
    finally:
        http.client.HTTPConnection.debuglevel = 0
    # credentials with stray whitespace are refused without being echoed
    for bad in (KEYS["track"] + "\n", " " + KEYS["track"], KEYS["track"] + " "):
        with pytest.raises(ConnectionConfigError) as info:
            rt.run(*track_event, {**conns["customerio-track"], "api_key": bad})
        captured.append(describe_error(info.value, with_locals=False))
        secret_locals.update(locals_showing_secrets(info.value))
    rt.close()
    captured += spy.seen
    assert len(spy.seen) > 20

    # the CLI, in-process: a failing call with --debug tracebacks, a JSON error, a dry run and curl
    track_conn = json.dumps(conns["customerio-track"])
    wrong = json.dumps({**conns["customerio-track"], "sandbox_url": sandbox.url})
    data = json.dumps(track_event[1])
    codes = [
        cli_main(["call", track_event[0], "-i", data, "-c", wrong, "--debug"]),
        cli_main(["call", track_event[0], "-i", data, "-c", wrong, "--json"]),
        cli_main(["call", track_event[0], "-i", data, "-c", track_conn, "--dry-run"]),
        cli_main(["call", track_event[0], "-i", data, "-c", track_conn, "--curl"]),
        cli_main(["call", track_event[0], "-i", data, "-c", json.dumps({**conns["customerio-track"],
                                                                         "api_key": KEYS["track"] + " "})]),
        cli_main(["call", track_event[0], "-i", data, "-c", json.dumps({**conns["customerio-track"], "region": "eu"}),
                  "--debug"]),
    ]
    assert codes == [1, 1, 0, 0, 2, 1]

    out, err = capfd.readouterr()
    everything = {"logs": debug_logs.getvalue(), "stdout": out, "stderr": err, **{
        f"captured[{i}]": text for i, text in enumerate(captured)}}
    assert "DEBUG" in everything["logs"] and "urllib3" in everything["logs"]  # DEBUG logging really was on
    assert "relaykit.plugins" in everything["logs"]  # and so was hook tracing
    found = {where: leaks(text) for where, text in everything.items() if leaks(text)}
    if found:
        _debug_show(everything[next(iter(found))])
    assert found == {}, found
    assert secret_locals <= CALLERS_PLAIN_DICT, sorted(secret_locals - CALLERS_PLAIN_DICT)


@pytest.mark.parametrize("config", [
    pytest.param({"region": "mars"}, id="unknown-region"),
    pytest.param({"api_key": Secret(KEYS["track"] + " ")}, id="whitespace"),
    pytest.param({"sandbox_url": "http://example.org"}, id="remote-sandbox-url"),
])
def test_secret_wrapped_credentials_stay_out_of_traceback_locals(config):
    """Keys passed as `relaykit.Secret` appear in no frame's locals when the connection is refused."""
    rt = Runtime(sleep=lambda s: None)
    try:
        with pytest.raises(ConnectionConfigError) as info:
            rt.dry_run("customerio-track.track_event", {"identifier": "a", "name": "n"},
                       {"site_id": SITE, "api_key": Secret(KEYS["track"]), **config})
    finally:
        rt.close()
    assert locals_showing_secrets(info.value) == set()


def test_payload_values_stay_out_of_errors_by_default(canary_sandbox, sandbox):
    """S4: a canary email planted in payloads appears in no error message, even when the API echoes it."""
    sb = canary_sandbox
    rt = Runtime(sleep=lambda s: None)
    texts = []
    cases = [
        ("customerio-track.track_event", {"identifier": EMAIL, "name": "x" * 200}, "customerio-track"),
        ("customerio-track.create_or_update_customer",
         {"identifier": EMAIL, "attributes": {"email": EMAIL, "bio": "x" * 2000}}, "customerio-track"),
        ("customerio-app.raw_http_request", {"method": "POST", "endpoint": "/send/email",
                                             "body": {"json": {"to": EMAIL, "identifiers": {"email": EMAIL}}}},
         "customerio-app"),
        ("customerio-app.raw_http_request", {"method": "GET", "endpoint": "/customers/" + quote(EMAIL, safe="")
                                             + "/attributes"}, "customerio-app"),
        ("customerio-pipelines.identify", {"userId": EMAIL, "traits": {"email": EMAIL, "bad": float("inf")}},
         "customerio-pipelines"),
        ("customerio-pipelines.raw_http_request", {"method": "POST", "endpoint": "/v1/identify",
                                                   "body": {"json": {"traits": {"email": EMAIL}}}},
         "customerio-pipelines"),
    ]
    try:
        for name, data, connector in cases:
            for connection in (sb.connection(connector), {**sb.connection(connector), "sandbox_url": sandbox.url}):
                try:
                    rt.run(name, data, connection)
                except Exception as exc:
                    texts.append(describe_error(exc, with_locals=False))
        echo = {"kind": "body", "status": 400, "content_type": "application/json",
                "body": {"meta": {"error": f"identifier {EMAIL} and email {EMAIL.upper()} rejected"}}}
        for fault in ({"kind": "status", "status": 500}, echo):
            sb.set_faults({"schedule": [fault] * 4})
            try:
                rt.run("customerio-track.track_event", {"identifier": EMAIL, "name": "n", "data": {"e": EMAIL}},
                       sb.connection("customerio-track"))
            except Exception as exc:
                texts.append(describe_error(exc, with_locals=False))
        assert "HTTP 400: identifier *** and email *** rejected" in texts[-1]  # the API's text, minus the payload
    finally:
        sb.set_faults(None)
        rt.close()
    assert len(texts) >= 8
    bodies = [e["body"] for e in sb.journal() if e.get("body")]
    assert any(EMAIL in b for b in bodies)  # the canary really was sent
    assert [t for t in texts if EMAIL.lower() in t.lower() or quote(EMAIL, safe="") in t] == []


def _debug_show(text):  # pragma: no cover - debugging aid: where each form sits, the canary itself masked
    for label, form in FORMS.items():
        i = text.find(form)
        if i >= 0:
            print(label, repr(mask(text[max(0, i - 300): i + len(form) + 60])))
