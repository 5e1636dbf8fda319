"""`relaykit run` / `relaykit serve` entry points, and the end-to-end path sandbox -> receiver -> automation."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from canary_scan import leaks
from relaykit import Runtime
from relaykit.automation import AutomationInputError, load_automation
from relaykit.cli.args import UsageError
from relaykit.cli.automations import (
    add_run_arguments,
    add_serve_arguments,
    build_receiver,
    run_command,
    serve_command,
)
from relaykit.errors import SpecError
from relaykit.sandbox import Sandbox

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KEY = "sandbox-webhook-key-01"


def parser():
    root = argparse.ArgumentParser(prog="relaykit")
    sub = root.add_subparsers(dest="command")
    for name, add, func in (("run", add_run_arguments, run_command), ("serve", add_serve_arguments, serve_command)):
        p = sub.add_parser(name)
        p.add_argument("--json", action="store_true")
        add(p)
        p.set_defaults(func=func)
    return root


def cli(capsys, *argv):
    args = parser().parse_args(argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_run_prints_one_line_per_step(capsys):
    code, out, _ = cli(capsys, "run", str(EXAMPLES / "onboard_user.yaml"), "--sandbox",
                       "--input", '{"user_id": "ada", "email": "ada@example.com"}')
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("automation onboard_user: ok in ")
    assert lines[1].split()[:3] == ["ok", "upsert", "customerio-track.create_or_update_customer"]
    assert "status 200" in lines[1] and "1 attempt(s)" in lines[1] and " ms" in lines[1]
    assert lines[3].split()[:2] == ["ok", "welcome"]
    assert "outputs:" in out and '"person": "ada"' in out


def test_run_json_report(capsys, sandbox, tmp_path):
    connections = tmp_path / "connections.yaml"
    connections.write_text(json.dumps({"track": sandbox.connection("customerio-track")}), encoding="utf-8")
    inputs = tmp_path / "events.json"
    events = [{"person": "p", "name": f"e{i}", "event_id": f"01HQ0000000000000000000{i:03d}"} for i in range(3)]
    inputs.write_text(json.dumps({"events": events}), encoding="utf-8")
    code, out, _ = cli(capsys, "run", str(EXAMPLES / "backfill_events.yaml"), "--input", f"@{inputs}",
                       "--connections", f"@{connections}", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["ok"] is True and data["outputs"] == {"total": 3}
    replay = data["steps"][0]
    assert replay["id"] == "replay" and replay["counts"] == {"ok": 3, "failed": 0, "skipped": 0}
    assert [item["input"]["name"] for item in replay["items"]] == ["e0", "e1", "e2"]
    assert leaks(out) == []


def test_run_loop_line_shows_counts(capsys, sandbox, tmp_path):
    connections = tmp_path / "c.json"
    connections.write_text(json.dumps({"track": sandbox.connection("customerio-track")}))
    events = [{"person": "p", "name": "ok", "event_id": "01HQ0000000000000000000001"},
              {"person": "p", "name": "x" * 150, "event_id": "01HQ0000000000000000000002"}]
    code, out, _ = cli(capsys, "run", str(EXAMPLES / "backfill_events.yaml"), "--input",
                       json.dumps({"events": events}), "--connections", f"@{connections}")
    assert code == 0  # on_error: continue
    assert "1 step(s) failed and continued" in out.splitlines()[0]
    replay = next(line for line in out.splitlines() if "replay" in line)
    assert replay.split()[0] == "failed" and "2 item(s): 1 ok, 1 failed" in replay
    assert "error: customerio-track.track_event: invalid input" in out


def test_run_exit_1_when_a_step_fails(capsys, tmp_path, echo_server):
    echo_server.status = 500
    path = tmp_path / "a.yaml"
    path.write_text(f"""\
spec_version: 1
name: notify
steps:
  - id: call
    uses: webhook
    with: {{url: "{echo_server.url}/x", json: {{a: 1}}}}
  - id: after
    uses: set
    with: {{x: 1}}
""")
    code, out, _ = cli(capsys, "run", str(path))
    assert code == 1
    assert "failed at step 'call'" in out.splitlines()[0]
    assert "not_run  after" in out and "error: webhook.call POST" in out and "HTTP 500" in out


def test_run_dry_run_sends_nothing_and_masks_credentials(capsys, sandbox, tmp_path):
    connections = tmp_path / "c.json"
    connections.write_text(json.dumps({"track": sandbox.connection("customerio-track"),
                                       "app": sandbox.connection("customerio-app")}))
    code, out, _ = cli(capsys, "run", str(EXAMPLES / "onboard_user.yaml"), "--dry-run", "--connections",
                       f"@{connections}", "--input", '{"user_id": "u1", "email": "u1@example.com"}')
    assert code == 0
    assert out.startswith("automation onboard_user: dry run ok")
    assert "would send: PUT http://127.0.0.1:" in out and "would send: POST" in out
    assert leaks(out) == []
    assert sandbox.journal() == []


def test_run_usage_and_spec_errors_raise_for_the_cli_handler(capsys, tmp_path):
    with pytest.raises(UsageError, match="file not found"):
        cli(capsys, "run", str(tmp_path / "missing.yaml"))
    with pytest.raises(UsageError, match="not valid JSON"):
        cli(capsys, "run", str(EXAMPLES / "onboard_user.yaml"), "--input", "{nope")
    with pytest.raises(AutomationInputError, match="invalid inputs"):
        cli(capsys, "run", str(EXAMPLES / "onboard_user.yaml"), "--input", '{"user_id": "u1"}', "--sandbox")
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec_version: 1\nname: t\nsteps:\n  - {id: a, uses: nope.op}\n")
    with pytest.raises(SpecError) as info:
        cli(capsys, "run", str(bad))
    assert info.value.problems[0].line == 4


def test_serve_refuses_to_start_without_signing_keys(capsys, monkeypatch):
    monkeypatch.delenv("RELAYKIT_WEBHOOK_SIGNING_KEYS", raising=False)
    with pytest.raises(UsageError, match="no webhook signing key"):
        cli(capsys, "serve", str(EXAMPLES / "email_bounce.yaml"))
    monkeypatch.setenv("RELAYKIT_WEBHOOK_SIGNING_KEYS", " , ")
    with pytest.raises(UsageError, match="no webhook signing key"):
        cli(capsys, "serve", str(EXAMPLES / "email_bounce.yaml"))


def test_serve_checks_the_automation_and_connections_before_listening(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("RELAYKIT_WEBHOOK_SIGNING_KEYS", KEY)
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec_version: 1\nname: t\nsteps:\n  - {id: a, uses: nope.op}\n")
    with pytest.raises(SpecError):
        cli(capsys, "serve", str(bad), "--port", "0")
    from relaykit.errors import ConnectionConfigError

    with pytest.raises(ConnectionConfigError):  # no RELAYKIT_CIO_TRACK_* variables: fail now, not per event
        cli(capsys, "serve", str(EXAMPLES / "email_bounce.yaml"), "--port", "0")


def test_serve_arguments_default_to_loopback():
    args = parser().parse_args(["serve", "x.yaml"])
    assert (args.host, args.port, args.tolerance) == ("127.0.0.1", 8787, 300.0)


# -- end to end ------------------------------------------------------------------------------------------


def test_sandbox_webhooks_drive_the_bounce_automation_once_per_event():
    """The sandbox delivers emails and posts signed reporting webhooks; the receiver runs the automation."""
    connections: dict = {}
    with Runtime() as rt:
        automation = load_automation(rt, EXAMPLES / "email_bounce.yaml")
        with build_receiver(rt, automation, [KEY], connections=connections, poll_interval=0.01) as receiver, \
                Sandbox(processing_delay=0.0, webhook_url=receiver.url, webhook_signing_key=KEY) as sb:
            connections["track"] = track = sb.connection("customerio-track")
            app = sb.connection("customerio-app")
            rt.run("customerio-track.create_or_update_customer",
                   {"identifier": "gone", "email": "gone@example.com", "attributes": {"unsubscribed": True}}, track)
            rt.run("customerio-track.create_or_update_customer", {"identifier": "here", "email": "here@example.com"},
                   track)
            for person in ("gone", "here"):
                rt.run("customerio-app.raw_http_request", {"method": "POST", "endpoint": "/send/email", "body": {
                    "json": {"transactional_message_id": 1, "to": f"{person}@example.com",
                             "identifiers": {"id": person}, "send_to_unsubscribed": False}}}, app)
            posted = sb.webhook_results(wait=5)
            assert [(r["metric"], r["status"]) for r in posted] == [("failed", 200), ("sent", 200),
                                                                    ("delivered", 200)]
            assert receiver.wait_idle(10)
            state = sb.state()
        stats = receiver.stats()
    assert stats["accepted"] == 3 and stats["processed"] == 3 and stats.get("failed", 0) == 0
    people = {p["id"]: p["attributes"] for p in state["people"]}
    assert people["gone"]["email_bounced"] in (True, "true")
    assert people["gone"]["email_bounce_reason"] == "person is unsubscribed"
    assert "email_bounced" not in people["here"]
    bounce_events = [e for e in state["events"] if e["name"] == "email_bounced"]
    assert [(e["customer_id"], e["data"]["metric"]) for e in bounce_events] == [("gone", "failed")]
