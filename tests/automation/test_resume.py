"""Issue 14 section 2: a journaled automation run SIGKILLed mid-step resumes at its first unfinished step.

A real child process runs `ONBOARD` against the sandbox with a run journal; the sandbox's `drip`
fault commits one chosen call and then answers one byte at a time, so the child is killed (SIGKILL)
with that call on the wire and already landed. A second child runs the same `run_id`: finished steps
are not sent again (the sandbox journal counts every request), the interrupted keyed event is resent
with its recorded dedupe id (absorbed: one event, one duplicate counted), and an interrupted unsafe
send is never sent again: the run fails at that step with `MaybeSentError`.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from relaykit.automation import run_automation

CHILD = str(Path(__file__).with_name("resume_child.py"))

ONBOARD = """\
spec_version: 1
name: resume_onboard
inputs:
  type: object
  required: [user_id]
  properties:
    user_id: {type: string}
connections:
  track: {connector: customerio-track, ref: cio-track}
  app: {connector: customerio-app, ref: cio-app}
steps:
  - id: upsert
    uses: customerio-track.create_or_update_customer
    with: {identifier: "{{ inputs.user_id }}", email: "resume@example.com"}
  - id: signup
    uses: customerio-track.track_event
    with: {identifier: "{{ inputs.user_id }}", name: signed_up}
  - id: mail
    uses: customerio-app.raw_http_request
    with:
      method: POST
      endpoint: /send/email
      body:
        json: {to: resume@example.com, from: relay@example.com, subject: "welcome {{ inputs.user_id }}", body: hi}
  - id: after
    uses: customerio-track.track_event
    with: {identifier: "{{ inputs.user_id }}", name: mailed}
"""


def requests_by_step(sandbox) -> Counter:
    """API requests the sandbox received, named after the step that sends them."""
    names = Counter()
    for entry in sandbox.journal():
        if entry["method"] == "PUT":
            names["upsert"] += 1
        elif entry["connector"] == "customerio-app":
            names["mail"] += 1
        elif '"signed_up"' in (entry["body"] or ""):
            names["signup"] += 1
        elif '"mailed"' in (entry["body"] or ""):
            names["after"] += 1
    return names


def start(tmp_path, sandbox, conns, run_id: str, text: str = ONBOARD) -> subprocess.Popen:
    automation = tmp_path / "onboard.yaml"
    automation.write_text(text, encoding="utf-8")
    return subprocess.Popen([sys.executable, CHILD, str(automation), str(tmp_path / "runs.db"), run_id,
                             json.dumps(conns), json.dumps({"user_id": "resume-ada"})],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_when(proc: subprocess.Popen, landed) -> None:
    end = time.monotonic() + 30
    while not landed() and time.monotonic() < end and proc.poll() is None:
        time.sleep(0.01)
    assert landed(), proc.stderr.read() if proc.poll() is not None else "the call never landed"
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL


def finish(proc: subprocess.Popen) -> tuple[int, dict]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, json.loads(out.strip().splitlines()[-1]) if out.strip() else {"stderr": err}


def test_killed_in_a_keyed_step_resumes_there_and_resends_it_with_the_same_id(tmp_path, sandbox, conns):
    sandbox.set_faults({"schedule": {"customerio-track": [None, "drip"]}, "drip_interval": 0.2})
    proc = start(tmp_path, sandbox, conns, "run-keyed")
    kill_when(proc, lambda: any(e["name"] == "signed_up" for e in sandbox.state()["events"]))
    assert requests_by_step(sandbox) == Counter({"upsert": 1, "signup": 1})
    sandbox.set_faults(None)

    code, outcome = finish(start(tmp_path, sandbox, conns, "run-keyed"))
    assert code == 0, outcome
    assert outcome["steps"] == {"upsert": "ok", "signup": "ok", "mail": "ok", "after": "ok"}
    assert requests_by_step(sandbox) == Counter({"upsert": 1, "signup": 2, "mail": 1, "after": 1})
    events = Counter(e["name"] for e in sandbox.state()["events"])
    assert events == Counter({"signed_up": 1, "mailed": 1})  # the resend carried the recorded id: absorbed
    assert sandbox.stats()["duplicates"]["customerio-track"] == 1

    code, outcome = finish(start(tmp_path, sandbox, conns, "run-keyed"))  # a finished run: nothing again
    assert code == 0 and outcome["steps"]["after"] == "ok"
    assert requests_by_step(sandbox) == Counter({"upsert": 1, "signup": 2, "mail": 1, "after": 1})


def test_killed_in_an_unsafe_step_never_sends_it_again(tmp_path, sandbox, conns):
    sandbox.set_faults({"schedule": {"customerio-app": ["drip"]}, "drip_interval": 0.2})
    proc = start(tmp_path, sandbox, conns, "run-unsafe")
    kill_when(proc, lambda: len(sandbox.state()["messages"]) == 1)
    sandbox.set_faults(None)

    code, outcome = finish(start(tmp_path, sandbox, conns, "run-unsafe"))
    assert code == 1
    assert outcome["steps"] == {"upsert": "ok", "signup": "ok", "mail": "failed", "after": "not_run"}
    assert outcome["error"]["error"] == "MaybeSentError" and "not sent again" in outcome["error"]["message"]
    assert requests_by_step(sandbox) == Counter({"upsert": 1, "signup": 1, "mail": 1})
    assert [m["subject"] for m in sandbox.state()["messages"]] == ["welcome resume-ada"]  # at most once


def test_a_journaled_run_needs_an_id_and_a_run_id_belongs_to_one_automation(tmp_path, fast_rt, sandbox, conns, write):
    path = write(ONBOARD)
    with pytest.raises(ValueError, match="run_id"):
        run_automation(fast_rt, path, {"user_id": "x"}, conns, journal=tmp_path / "runs.db")
    run = fast_rt.run_automation(path, {"user_id": "x"}, conns, journal=tmp_path / "runs.db", run_id="r1")
    assert run.ok
    sent = len(sandbox.journal())
    again = fast_rt.run_automation(path, {"user_id": "x"}, conns, journal=tmp_path / "runs.db", run_id="r1")
    assert again.ok and len(sandbox.journal()) == sent  # finished: nothing is sent again
    assert again.to_dict()["steps"] == run.to_dict()["steps"]  # the recorded results, as first reported
    other = write(ONBOARD.replace("name: resume_onboard", "name: another"))
    from relaykit.durable import StoreError

    with pytest.raises(StoreError, match="belongs to automation"):
        run_automation(fast_rt, other, {"user_id": "x"}, conns, journal=tmp_path / "runs.db", run_id="r1")


LOOP = """\
spec_version: 1
name: resume_loop
inputs:
  type: object
  properties:
    user_id: {type: string}
connections:
  track: {connector: customerio-track, ref: cio-track}
steps:
  - id: each
    uses: customerio-track.track_event
    for_each: [a, b, c, d]
    with: {identifier: "{{ inputs.user_id }}", name: "loop_{{ item }}"}
"""


def test_killed_inside_a_loop_resumes_at_the_interrupted_item(tmp_path, sandbox, conns):
    sandbox.set_faults({"schedule": {"customerio-track": [None, "drip"]}, "drip_interval": 0.2})
    proc = start(tmp_path, sandbox, conns, "run-loop", LOOP)
    kill_when(proc, lambda: any(e["name"] == "loop_b" for e in sandbox.state()["events"]))
    sandbox.set_faults(None)
    code, outcome = finish(start(tmp_path, sandbox, conns, "run-loop", LOOP))
    assert code == 0 and outcome["steps"] == {"each": "ok"}, outcome
    sent = Counter(json.loads(e["body"])["name"] for e in sandbox.journal())
    assert sent == Counter({"loop_a": 1, "loop_b": 2, "loop_c": 1, "loop_d": 1})  # only b again, with its id
    assert Counter(e["name"] for e in sandbox.state()["events"]) == Counter(
        {"loop_a": 1, "loop_b": 1, "loop_c": 1, "loop_d": 1})
