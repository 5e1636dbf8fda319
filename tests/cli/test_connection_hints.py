"""A missing connection field's hint names the variables that would really supply it (issue 10, item 2)."""

from __future__ import annotations

import json

import pytest
from canary_scan import SITE_ID, leaks
from relaykit import Runtime
from relaykit.automation import load_automation, run_automation
from relaykit.cli import main
from relaykit.errors import ConnectionConfigError

AUTOMATION = """\
spec_version: 1
name: t
connections:
  track: {connector: customerio-track, ref: cio-track}
steps:
  - id: gone
    uses: customerio-track.delete_customer
    with: {identifier: "x"}
"""


def missing_hints(exc: ConnectionConfigError) -> dict[str, str | None]:
    return {p.pointer: p.hint for p in exc.problems}


@pytest.fixture
def no_env(monkeypatch):
    for prefix in ("RELAYKIT_CUSTOMERIO_TRACK_", "RELAYKIT_PROD_", "RELAYKIT_CIO_TRACK_"):
        for field in ("SITE_ID", "API_KEY", "REGION", "SANDBOX_URL"):
            monkeypatch.delenv(prefix + field, raising=False)
    return monkeypatch


def test_a_reference_names_its_own_variables():
    rt = Runtime(environ={"RELAYKIT_PROD_SITE_ID": SITE_ID})
    with pytest.raises(ConnectionConfigError) as info:
        rt.resolve_connection("customerio-track", "prod")
    assert missing_hints(info.value) == {"/api_key": "or set RELAYKIT_PROD_API_KEY"}
    assert "RELAYKIT_CUSTOMERIO_TRACK" not in str(info.value)


def test_no_connection_names_the_connectors_variables():
    with pytest.raises(ConnectionConfigError) as info:
        Runtime(environ={}).resolve_connection("customerio-track", None)
    assert missing_hints(info.value) == {"/site_id": "or set RELAYKIT_CUSTOMERIO_TRACK_SITE_ID",
                                         "/api_key": "or set RELAYKIT_CUSTOMERIO_TRACK_API_KEY"}


def test_a_given_mapping_gets_no_variable_hint():
    # The environment is not read for a mapping, so pointing at a variable would mislead.
    with pytest.raises(ConnectionConfigError) as info:
        Runtime(environ={}).resolve_connection("customerio-track", {"site_id": SITE_ID})
    assert missing_hints(info.value) == {"/api_key": None}
    assert "RELAYKIT_" not in str(info.value)


def test_cli_ref_connection_hint(capsys, no_env):
    no_env.setenv("RELAYKIT_PROD_SITE_ID", SITE_ID)
    code = main(["call", "customerio-track.delete_customer", "--input", '{"identifier": "x"}',
                 "--connection", "ref:prod", "--dry-run"])
    _, err = capsys.readouterr()
    assert code == 2 and "/api_key" in err and "RELAYKIT_PROD_API_KEY" in err
    assert "RELAYKIT_CUSTOMERIO_TRACK" not in err and "Traceback" not in err and leaks(err) == []


def test_automation_reference_hint(tmp_path, no_env):
    path = tmp_path / "a.yaml"
    path.write_text(AUTOMATION, encoding="utf-8")
    rt = Runtime(environ={})
    automation = load_automation(rt, path)
    for supplied, prefix in (({}, "RELAYKIT_CIO_TRACK_"), ({"track": "other"}, "RELAYKIT_OTHER_")):
        with pytest.raises(ConnectionConfigError) as info:
            run_automation(rt, automation, {}, supplied)
        text = str(info.value) + json.dumps(info.value.to_dict())
        assert f"{prefix}SITE_ID" in text and f"{prefix}API_KEY" in text
        assert "RELAYKIT_CUSTOMERIO_TRACK" not in text and "connection 'track'" in text
