"""The README's demo: every step succeeds against the embedded sandbox and the refusals happen."""

from __future__ import annotations

import json

from relaykit.cli import main


def test_demo_runs_every_step_and_refuses_the_bad_calls(capsys):
    assert main(["demo", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [s["status"] for s in report["steps"]] == [200] * 7
    assert report["automation"]["ok"] is True
    assert len(report["refused"]) == 2
    assert "region 'us'" in report["refused"][1]
    assert report["requests_received"] >= 10


def test_demo_text_keeps_one_persona_explains_the_skip_and_renders_every_line(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "grace" not in out.lower() and '"person": "ada"' in out
    skipped = [line for line in out.splitlines() if "skipped" in line and "welcome" in line]
    assert skipped and "send_welcome" in skipped[0]
    assert "skipped on purpose" in out and "not a failure" in out
    refusals = out.split("relaykit refused", 1)[1]
    assert "region 'us'" in refusals and "{" not in refusals.split("the sandbox received")[0]
