"""`relaykit serve --register-with`: the receiver subscribes itself to the sandbox's reporting webhooks.

End to end over real HTTP: the sandbox runs; `relaykit serve` runs as its own process with an
automation that listens to `email_sent` and `--register-with`; `customerio-app.send_email` is called;
the sandbox posts the signed webhook to serve; the automation's Track event lands in the sandbox;
SIGTERM makes serve delete its webhook. A webhook left behind by an earlier run is reused, not
duplicated. Bad options are exit 2 before anything listens; an App refusal is exit 1; never a traceback.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from canary_scan import leaks
from relaykit import Runtime
from relaykit.cli.app import main
from relaykit.sandbox import Sandbox
from relaykit.webhooks.defaults import SIGNING_KEYS_ENV

KEY = "whsec-register-0001"
RELAYKIT = str(Path(sys.executable).with_name("relaykit"))
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AUTOMATION = """\
spec_version: 1
name: note_sent
inputs:
  type: object
  required: [event_id, object_type, metric, data]
  properties:
    event_id: {type: string}
    object_type: {const: email}
    metric: {enum: [sent]}
    data: {type: object}
connections:
  track: {connector: customerio-track, ref: cio-track}
steps:
  - id: note
    uses: customerio-track.track_event
    with:
      identifier: "{{ inputs.data.identifiers.id }}"
      name: email_sent_seen
      data: {delivery_id: "{{ inputs.data.delivery_id }}"}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def setup(tmp_path):
    with Sandbox(processing_delay=0.0, webhook_signing_key=KEY, webhook_retry_delays=(0.1, 0.2)) as sb:
        (tmp_path / "note.yaml").write_text(AUTOMATION, encoding="utf-8")
        (tmp_path / "connections.json").write_text(json.dumps({"track": sb.connection("customerio-track")}))
        (tmp_path / "app.json").write_text(json.dumps(sb.connection("customerio-app")))
        yield sb, tmp_path


def test_serve_registers_runs_the_automation_per_signed_webhook_and_deletes_the_hook_on_sigterm(setup):
    sb, tmp_path = setup
    port = free_port()
    public = f"http://127.0.0.1:{port}/"
    app = sb.connection("customerio-app")
    with Runtime() as rt:  # a webhook a crashed earlier run left behind (other events, disabled): reused
        rt.run("customerio-app.create_reporting_webhook", {"name": "relaykit serve note_sent", "endpoint": public,
                                                           "events": ["email_delivered"], "disabled": True}, app)
        proc = subprocess.Popen(
            [RELAYKIT, "serve", str(tmp_path / "note.yaml"), "--port", str(port), "--connections",
             f"@{tmp_path / 'connections.json'}", "--register-with", f"@{tmp_path / 'app.json'}",
             "--public-url", public],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, SIGNING_KEYS_ENV: KEY})
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
        reader.start()
        try:
            end = time.monotonic() + 30
            while not any("reporting webhook" in line for line in lines) and time.monotonic() < end:
                assert proc.poll() is None, lines
                time.sleep(0.02)
            assert any(f"reusing reporting webhook 1 for {public} (email_sent)" in line for line in lines), lines
            [hook] = sb.state()["reporting_webhooks"]
            assert (hook["endpoint"], hook["events"], hook["disabled"]) == (public, ["email_sent"], False)

            sent = rt.run("customerio-app.send_email", {"transactional_message_id": 1, "to": "ada@example.com",
                                                        "identifiers": {"id": "ada"}}, app)
            delivery = sent.output["delivery_id"]
            end = time.monotonic() + 30
            seen: list[dict] = []
            while not seen and time.monotonic() < end:
                seen = [e for e in sb.state()["events"] if e["name"] == "email_sent_seen"]
                time.sleep(0.05)
            [result] = sb.webhook_results()
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(30)
            reader.join(10)
    assert [(e["customer_id"], e["data"]["delivery_id"]) for e in seen] == [("ada", delivery)]
    assert (result["event"], result["state"], result["status"]) == ("email_sent", "delivered", 200)
    assert code == 0, lines
    assert any("deleted reporting webhook 1" in line for line in lines), lines
    assert sb.state()["reporting_webhooks"] == []
    text = "".join(lines)
    assert "Traceback" not in text and not leaks(text) and app["api_key"] not in text and KEY not in text


def serve(capsys, *argv: str) -> tuple[int, str]:
    code = main(["serve", *argv])
    out, err = capsys.readouterr()
    return code, out + err


@pytest.mark.parametrize("argv, message", [
    (["--register-with", "ref:cio-app"], "--register-with needs --public-url"),
    (["--public-url", "http://127.0.0.1:9/"], "only go with --register-with"),
    (["--register-with", "ref:cio-app", "--public-url", "hooks.example.com/cio"], "absolute http(s) URL"),
    (["--register-with", "ref:cio-app", "--public-url", "https://u:p@hooks.example.com/"], "without credentials"),
    (["--register-with", "ref:cio-app", "--public-url", "https://hooks.example.com/", "--events", "Email-Sent"],
     "'Email-Sent' is not an event name"),
    (["--register-with", "ref:cio-app", "--public-url", "https://hooks.example.com/", "--events", " , "],
     "at least one event"),
    (["--register-with", '{"region": "us"}', "--public-url", "https://hooks.example.com/",
      "--events", "email_sent"], "api_key"),
    (["--register-with", "[1]", "--public-url", "https://hooks.example.com/", "--events", "email_sent"],
     "--register-with must be a JSON object"),
])
def test_bad_registration_options_are_usage_errors_before_anything_listens(setup, capsys, monkeypatch, argv,
                                                                           message):
    sb, tmp_path = setup
    monkeypatch.setenv(SIGNING_KEYS_ENV, KEY)
    code, text = serve(capsys, str(tmp_path / "note.yaml"), "--port", "0", "--connections",
                       f"@{tmp_path / 'connections.json'}", *argv)
    assert code == 2 and message in text and "Traceback" not in text, text
    assert sb.state()["reporting_webhooks"] == []


def test_an_automation_that_does_not_narrow_its_events_needs_events(setup, capsys, monkeypatch):
    sb, tmp_path = setup
    monkeypatch.setenv(SIGNING_KEYS_ENV, KEY)
    monkeypatch.setenv("RELAYKIT_CIO_TRACK_SITE_ID", sb.connection("customerio-track")["site_id"])
    monkeypatch.setenv("RELAYKIT_CIO_TRACK_API_KEY", sb.connection("customerio-track")["api_key"])
    code, text = serve(capsys, str(EXAMPLES / "email_bounce.yaml"), "--port", "0", "--register-with",
                       f"@{tmp_path / 'app.json'}", "--public-url", "https://hooks.example.com/")
    assert code == 2 and "cannot tell which events email_bounce listens to" in text and "--events" in text


def test_an_app_refusal_is_exit_1_and_leaves_nothing_registered(setup, capsys, monkeypatch):
    sb, tmp_path = setup
    monkeypatch.setenv(SIGNING_KEYS_ENV, KEY)
    code, text = serve(capsys, str(tmp_path / "note.yaml"), "--port", "0", "--connections",
                       f"@{tmp_path / 'connections.json'}", "--register-with", f"@{tmp_path / 'app.json'}",
                       "--public-url", "http://127.0.0.1:9/", "--events", "email_teleported")
    assert code == 1 and "customerio-app.create_reporting_webhook" in text and "HTTP 400" in text, text
    assert "Traceback" not in text and sb.connection("customerio-app")["api_key"] not in text
    assert sb.state()["reporting_webhooks"] == []


def test_automation_events_come_from_const_and_enum():
    from relaykit.automation import load_automation
    from relaykit.cli.register import automation_events

    with Runtime() as rt:
        assert automation_events(load_automation(rt, EXAMPLES / "email_bounce.yaml")) == []
    automation = type("A", (), {"inputs_schema": {"properties": {"object_type": {"enum": ["email", "sms"]},
                                                                 "metric": {"const": "failed"}}}})()
    assert automation_events(automation) == ["email_failed", "sms_failed"]
