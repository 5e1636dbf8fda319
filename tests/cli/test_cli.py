"""The `relaykit` command: output formats, exit codes, and one clear line per problem."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from canary_scan import APP_KEY, SITE_ID, TRACK_KEY, leaks
from relaykit.cli import main

TRACK_CONN = {"site_id": SITE_ID, "api_key": TRACK_KEY}


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_connectors_json_lists_every_connector(capsys):
    code, out, _ = run_cli(capsys, "connectors", "--json")
    assert code == 0
    data = {c["name"]: c for c in json.loads(out)}
    assert set(data) >= {"customerio-track", "customerio-app", "customerio-beta", "customerio-pipelines"}
    track = data["customerio-track"]
    assert track["regions"] == ["us", "eu"] and "track_event" in track["operations"]
    assert track["title"] and track["version"] == "2.0"


def test_operations_and_describe(capsys):
    code, out, _ = run_cli(capsys, "operations", "customerio-app")
    assert code == 0 and "customerio-app.trigger_broadcast" in out
    code, out, _ = run_cli(capsys, "describe", "customerio-app.get_broadcast_trigger_status")
    assert code == 0 and "GET /campaigns/{broadcast_id}/triggers/{trigger_id}" in out
    code, out, _ = run_cli(capsys, "describe", "customerio-track.track_event", "--json")
    assert code == 0 and json.loads(out)["input_schema"]["required"] == ["identifier", "name"]


def test_dry_run_json_is_the_exact_request_with_credentials_masked(capsys):
    code, out, err = run_cli(capsys, "call", "customerio-app.get_broadcast_trigger_status",
                             "--input", '{"broadcast_id": 8, "trigger_id": 1}',
                             "--connection", json.dumps({"api_key": APP_KEY}), "--dry-run", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["method"] == "GET" and data["url"] == "https://api.customer.io/v1/campaigns/8/triggers/1"
    assert data["headers"]["Authorization"] == "***" and data["body"] is None
    assert leaks(out + err) == []


def test_eu_region_and_curl(capsys):
    conn = json.dumps({**TRACK_CONN, "region": "eu"})
    code, out, _ = run_cli(capsys, "call", "customerio-track.delete_customer", "--input", '{"identifier": "a/b"}',
                           "--connection", conn, "--curl")
    assert code == 0
    assert "https://track-eu.customer.io/api/v1/customers/a%2Fb" in out
    assert '-u "${RELAYKIT_CUSTOMERIO_TRACK_SITE_ID}:${RELAYKIT_CUSTOMERIO_TRACK_API_KEY}"' in out
    assert leaks(out) == []


@pytest.mark.parametrize(("argv", "needle"), [
    pytest.param(["call", "customerio-trak.track_event"], "customerio-track", id="unknown-connector"),
    pytest.param(["call", "customerio-track.track_evnt"], "customerio-track.track_event", id="unknown-operation"),
    pytest.param(["call", "customerio-track.track_event", "--input", '{"identifier": "x"}'], "/name: is required",
                 id="missing-input"),
    pytest.param(["call", "customerio-track.track_event", "--input", '{"identifier": 5, "name": "x"}'],
                 "/identifier: expected a string", id="wrong-type"),
    pytest.param(["call", "customerio-track.track_event", "--input", "{nope"], "not valid JSON", id="bad-json"),
    pytest.param(["describe", "customerio-app.trigger_brodcast"], "did you mean", id="describe-suggests"),
])
def test_bad_input_exits_2_with_one_clear_line(capsys, argv, needle):
    argv = [*argv, "--connection", json.dumps(TRACK_CONN)] if argv[0] == "call" else argv
    code, _out, err = run_cli(capsys, *argv, "--dry-run") if argv[0] == "call" else run_cli(capsys, *argv)
    assert code == 2
    assert needle in err
    assert "Traceback" not in err


def test_unknown_region_lists_allowed_and_never_echoes_the_key(capsys):
    conn = json.dumps({**TRACK_CONN, "region": "mars"})
    code, _, err = run_cli(capsys, "call", "customerio-track.delete_customer", "--input", '{"identifier": "x"}',
                           "--connection", conn, "--dry-run")
    assert code == 2 and "us, eu" in err and leaks(err) == []


def test_missing_credential_names_the_field_and_the_environment_variable(capsys, monkeypatch):
    for name in ("SITE_ID", "API_KEY"):
        monkeypatch.delenv(f"RELAYKIT_CUSTOMERIO_TRACK_{name}", raising=False)
    monkeypatch.setenv("RELAYKIT_CUSTOMERIO_TRACK_SITE_ID", "site-from-env")
    code, _, err = run_cli(capsys, "call", "customerio-track.delete_customer", "--input", '{"identifier": "x"}',
                           "--dry-run")
    assert code == 2 and "/api_key" in err and "RELAYKIT_CUSTOMERIO_TRACK_API_KEY" in err


def test_credentials_from_environment(capsys, monkeypatch):
    monkeypatch.setenv("RELAYKIT_CUSTOMERIO_APP_API_KEY", APP_KEY)
    code, out, _ = run_cli(capsys, "call", "customerio-app.get_broadcast_trigger_status", "--input",
                           '{"broadcast_id": 1, "trigger_id": 2}', "--dry-run", "--json")
    assert code == 0 and json.loads(out)["url"].endswith("/campaigns/1/triggers/2")


def test_secret_never_printed_even_with_debug(capsys):
    conn = json.dumps({"site_id": "s", "api_key": " " + TRACK_KEY})
    code, out, err = run_cli(capsys, "--debug", "call", "customerio-track.delete_customer", "--input",
                             '{"identifier": "x"}', "--connection", conn, "--dry-run")
    assert code == 2 and leaks(out + err) == [] and "/api_key" in err


def test_validate_installed_and_files(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "validate")
    assert code == 0 and "ok" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec_version: 1\nconnector: customerio-track\nname: bad\ntitle: Bad\n"
                   "request:\n  method: POST\n  path: /v1/x/{{ inptu.id }}\n")
    code, _, err = run_cli(capsys, "validate", str(bad))
    assert code == 2 and "bad.yaml:7" in err and 'did you mean' in err


def test_plugins_json(capsys):
    code, out, _ = run_cli(capsys, "plugins", "--json")
    names = {p["name"] for p in json.loads(out)}
    assert code == 0 and {"relaykit.builtins", "customerio-track"} <= names


def test_console_script_is_installed():
    exe = os.path.join(os.path.dirname(sys.executable), "relaykit")
    proc = subprocess.run([exe, "connectors", "--json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) >= 4
    proc = subprocess.run([exe, "call", "nope.op", "--dry-run"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.stderr


def test_ci_runs_the_readmes_test_command():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "pytest" in line and line.startswith("python3 -m venv"))
    assert command in (root / ".ci" / "run").read_text()
