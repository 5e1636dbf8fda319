"""`region: auto` and `Runtime.check` against a sandbox in the EU region, over loopback HTTP."""

from __future__ import annotations

import pytest
from relaykit import ConnectionConfigError, Runtime
from relaykit.sandbox import Sandbox


@pytest.fixture(scope="module")
def eu():
    with Sandbox(region="eu") as sandbox:
        yield sandbox


def lookups(sandbox):
    return [e for e in sandbox.journal() if e["target"].endswith("/accounts/region")]


def test_auto_asks_once_per_credential_and_sends_to_the_answer(eu):
    conn = {**eu.connection("customerio-track"), "region": "auto"}
    before = len(lookups(eu))
    with Runtime() as rt:
        for _ in range(3):
            result = rt.run("customerio-track.track_event", {"identifier": "ada", "name": "signed_up"}, conn)
        assert result.status == 200
        assert len(lookups(eu)) == before + 1  # cached for the credential
        assert eu.journal()[-1]["target"].startswith("/customerio-track/eu/")
        other = {**conn, "site_id": "another-site"}
        with pytest.raises(ConnectionConfigError, match="refused"):  # another credential asks again, and is refused
            rt.dry_run("customerio-track.track_event", {"identifier": "ada", "name": "x"}, other)
        assert len(lookups(eu)) == before + 2


def test_a_refused_or_failed_lookup_is_never_a_guess(eu):
    conn = {**eu.connection("customerio-track"), "region": "auto", "api_key": "not-the-key-0001"}
    with Runtime() as rt:
        sent = len(eu.journal())
        with pytest.raises(ConnectionConfigError) as info:
            rt.run("customerio-track.track_event", {"identifier": "ada", "name": "x"}, conn)
        assert info.value.problems[0].pointer == "/region" and "not-the-key" not in str(info.value)
        assert len(eu.journal()) == sent + 1  # the lookup alone; the event was not sent
        eu.set_faults({"schedule": [{"kind": "status", "status": 503}] * 8})
        try:
            with pytest.raises(ConnectionConfigError, match="nothing was guessed"):
                Runtime(sleep=lambda s: None).dry_run(
                    "customerio-track.track_event", {"identifier": "a", "name": "x"},
                    {**eu.connection("customerio-track"), "region": "auto"})
        finally:
            eu.set_faults(None)


def test_auto_is_refused_where_a_connector_cannot_ask(eu):
    with Runtime() as rt, pytest.raises(ConnectionConfigError, match="cannot look its region up"):
        rt.dry_run("customerio-app.list_segments", {}, {**eu.connection("customerio-app"), "region": "auto"})
    assert "auto" in Runtime().describe("customerio-track.track_event")["connection_schema"]["properties"]["region"][
        "enum"]


@pytest.mark.parametrize(("connector", "change", "ok", "words"), [
    ("customerio-track", {}, True, "connected"),
    ("customerio-track", {"region": "us"}, False, "lives in region 'eu'"),
    ("customerio-track", {"api_key": "not-the-key-0002"}, False, "refused"),
    ("customerio-track", {"region": "auto"}, True, "region 'eu'"),
    ("customerio-app", {}, True, "connected"),
    ("customerio-app", {"api_key": "not-the-key-0003"}, False, "App API key"),
    ("customerio-pipelines", {}, False, "declares no connection check"),
])
def test_check_says_what_is_wrong(eu, connector, change, ok, words):
    with Runtime() as rt:
        report = rt.check(connector, {**eu.connection(connector), **change})
    assert report.ok is ok and words in report.message
    assert "not-the-key" not in str(report.to_dict())
