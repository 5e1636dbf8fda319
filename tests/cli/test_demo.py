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
