"""The S3 canary scanner (tests/canary_scan.py) really fails a test that leaks, and never prints the secret.

A scanner that cannot fail is worthless: an inner pytest session (pytester) runs tests that leak
a canary through each channel the scanner watches, and must fail each one by label and place.
"""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import urlencode

import canary_scan
import pytest
from canary_scan import APP_KEY, CREDENTIALS, FORMS, PIPELINES_KEY, SITE_ID, TRACK_KEY, leaks, mask
from relaykit.sandbox import Sandbox

pytest_plugins = ["pytester"]

INNER = '''
import logging
import warnings

import canary_scan as c
import pytest
from relaykit.errors import CallError


@pytest.fixture
def noisy():
    print("token", c.FORMS["track-url"])
    yield


def test_clean(capsys):
    print("nothing to see")
    logging.getLogger("relaykit.transport").debug("attempt 1: POST /v1/x")
    assert capsys.readouterr().out


def test_stdout():
    print("body:", c.FORMS["track-json"])


def test_debug_log():
    logging.getLogger("relaykit.selftest").debug("Authorization: Basic %s", c.FORMS["track-basic-std"])


def test_caught_error_chain():
    try:
        try:
            raise ValueError("upstream said " + c.FORMS["app-url"])
        except ValueError as cause:
            raise CallError("failed") from cause
    except CallError:
        pass


def test_read_back(capsys):
    print(c.FORMS["pipelines-repr"])
    assert capsys.readouterr().out


def test_failure_report():
    assert {"api_key": c.APP_KEY} == {}


def test_setup(noisy):
    pass


def test_dry_run_output(monkeypatch):
    from relaykit import Runtime
    from relaykit.models import HttpRequest

    monkeypatch.setattr(HttpRequest, "to_curl", lambda self: "curl -H 'Authorization: Bearer " + c.APP_KEY + "'")
    with Runtime() as rt:
        rt.dry_run("customerio-app.get_broadcast_trigger_status", {"broadcast_id": 1, "trigger_id": 2},
                   {"api_key": c.APP_KEY})


def test_warning():
    warnings.warn("key " + c.TRACK_KEY, UserWarning, stacklevel=1)


@pytest.mark.prints_secrets
def test_marked():
    print(c.TRACK_KEY)


def test_instrumented():
    from relaykit.sandbox import Sandbox

    assert Sandbox().credentials == c.CREDENTIALS
    assert logging.getLogger("urllib3.connectionpool").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("relaykit.transport").isEnabledFor(logging.DEBUG)
    assert logging.getLogger().isEnabledFor(logging.DEBUG)
'''


def test_scanner_fails_every_leak_by_label_and_place_without_printing_it(pytester):
    pytester.makeconftest('pytest_plugins = ["canary_scan"]\n')
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_inprocess("-rA", "-p", "no:cacheprovider")
    reports = {(r.nodeid.split("::")[-1], r.when): r for r in result.reprec.getreports("pytest_runtest_logreport")}
    failed = {name: r.longreprtext for (name, when), r in reports.items() if r.failed}

    expected = {
        "test_stdout": ("track-json", "Captured stdout call"),
        "test_debug_log": ("track-basic-std", "a DEBUG record of logger 'relaykit.selftest'"),
        "test_caught_error_chain": ("app-url", "CallError created during call (str/repr/to_dict/traceback)"),
        "test_read_back": ("pipelines-repr", "stdout read back through capsys/capfd (call)"),
        "test_failure_report": ("app-repr", "the failure report"),
        "test_setup": ("track-url", "Captured stdout setup"),
        "test_dry_run_output": ("app-raw", "a dry run's repr/to_dict/to_curl"),
    }
    assert set(failed) == set(expected), failed
    for name, (label, place) in expected.items():
        assert "S3 canary scan: a secret was disclosed" in failed[name]
        assert f"{label} in {place}" in failed[name], failed[name]
    assert reports[("test_failure_report", "call")].longreprtext.count("<canary:app-repr>") >= 1
    assert reports[("test_clean", "call")].passed and reports[("test_instrumented", "call")].passed
    marked = reports[("test_marked", "call")]
    assert marked.passed and any("prints_secrets" in title for title, _ in marked.sections)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "track-raw in a warning" in out and "8 leak(s)" in out  # seven tests and the warning
    assert leaks(out + result.stderr.str()) == []  # the report of a leak shows only labels
    assert "<canary:track-json>" in out  # the captured output is shown, masked


@pytest.mark.parametrize(("text", "label"), [
    pytest.param(TRACK_KEY, "track-raw", id="raw"),
    pytest.param(json.dumps({"k": APP_KEY}), "app-json", id="json"),
    pytest.param(repr({"k": APP_KEY}), "app-repr", id="dict-repr"),
    pytest.param(repr(APP_KEY.encode()), "app-repr", id="bytes-repr"),
    pytest.param(urlencode({"k": TRACK_KEY}), "track-url", id="query-string"),  # no space: same as quote_plus
    pytest.param("/customers/" + FORMS["track-url"], "track-url", id="path-segment"),
    pytest.param(json.dumps(json.dumps({"k": PIPELINES_KEY})), "pipelines-any-encoding", id="double-json"),
    pytest.param("Basic " + base64.b64encode(f"{SITE_ID}:{TRACK_KEY}".encode()).decode(), "track-basic-std",
                 id="basic-site-key"),
    pytest.param("Basic " + base64.urlsafe_b64encode(f"{PIPELINES_KEY}:".encode()).decode(),
                 "pipelines-basic-urlsafe", id="basic-key-blank-urlsafe"),
    pytest.param("Basic " + base64.b64encode(f"{SITE_ID}:{TRACK_KEY}".encode()).decode()[:44] + "...",
                 "track-basic-std-prefix", id="basic-truncated"),
    pytest.param(f"Bearer {APP_KEY[:16]}...", "app-any-encoding", id="bearer-truncated"),
])
def test_every_form_is_found_and_masked(text, label):
    assert leaks(text) == [label]
    assert leaks(mask(text)) == [] and f"<canary:{label}>" in mask(text)


def test_each_form_really_differs_and_nothing_else_matches():
    for name, key in (("track", TRACK_KEY), ("app", APP_KEY), ("pipelines", PIPELINES_KEY)):
        encoded = {FORMS[f"{name}-{v}"] for v in ("raw", "repr", "json", "url", "url-path", "url-requote")}
        assert len(encoded) == 6, f"{name}: some encoding leaves the canary unchanged"
        assert base64.b64encode(key.encode()).decode() != base64.urlsafe_b64encode(key.encode()).decode()
    assert leaks("sandbox-track-key canary Y2FuYXJ5 canary.person+pii@example.org Secret('***')") == []


def test_session_sandbox_and_every_new_sandbox_use_the_canaries(sandbox):
    assert sandbox.credentials == CREDENTIALS
    assert Sandbox().credentials == CREDENTIALS  # `relaykit call --sandbox`, `relaykit demo`, ...
    assert sandbox.connection("customerio-track")["api_key"] == TRACK_KEY


def test_loud_loggers_are_at_debug_during_tests():
    for name in ("relaykit", "relaykit.transport", "urllib3", "urllib3.connectionpool", "requests", ""):
        assert logging.getLogger(name).isEnabledFor(logging.DEBUG), name
    assert canary_scan.PATCHES.depth >= 1
