"""`relaykit validate` on an automation: every real problem at once, and no false ones."""

from __future__ import annotations

import pytest
from relaykit.cli import main

AUTOMATION = """\
spec_version: 1
name: digest
max_paralel: 2
inputs:
  type: object
  properties:
    people: {type: array, items: {type: string}}
connections:
  track: {connector: customerio-track, ref: cio}
steps:
  - id: lines
    for_each: "{{ inputs.people }}"
    max_paralel: 4
    uses: customerio-track.trak_event
    with: {identifier: "{{ item }}", name: digest_line}
  - id: summary
    uses: customerio-track.track_evnt
    with:
      identifier: "{{ steps.lines[0].input.identifier }}"
      name: digest
  - id: report
    uses: set
    with:
      first: "{{ steps.lines[0].output }}"
      count: "{{ steps.lines | length }}"
      summary_ok: "{{ steps.summary.ok }}"
  - id: report
    uses: set
    with: {again: "{{ steps.report.output.first }}"}
outputs:
  summary: "{{ steps.summary.output }}"
  first: "{{ steps.report.output.first }}"
"""


def problems(capsys, tmp_path, text):
    path = tmp_path / "digest.yaml"
    path.write_text(text)
    code = main(["validate", str(path)])
    err = capsys.readouterr().err
    return code, [line.split(" ", 1)[1] for line in err.splitlines() if line.strip()]


def test_every_real_problem_and_no_false_one(capsys, tmp_path):
    code, found = problems(capsys, tmp_path, AUTOMATION)
    assert code == 2
    assert sorted(found) == sorted([
        "/max_paralel: is not an allowed field",
        "/steps/0/max_paralel: is not an allowed field (did you mean 'max_parallel'?)",
        "/steps/0/uses: unknown operation 'customerio-track.trak_event' "
        "(did you mean 'customerio-track.track_event' or 'customerio-track.track_anonymous_event'?)",
        "/steps/1/uses: unknown operation 'customerio-track.track_evnt' "
        "(did you mean 'customerio-track.track_event' or 'customerio-track.track_anonymous_event'?)",
        "/steps/3/id: duplicate step id 'report' (first used by step 3)",
    ]), found


@pytest.mark.parametrize(("wrong", "right"), [
    ("uses: customerio-track.trak_event", "uses: customerio-track.track_event"),
    ("uses: customerio-track.track_evnt", "uses: customerio-track.track_event"),
])
def test_each_fix_removes_exactly_its_own_problem(capsys, tmp_path, wrong, right):
    _, before = problems(capsys, tmp_path, AUTOMATION)
    _, after = problems(capsys, tmp_path, AUTOMATION.replace(wrong, right, 1))
    assert len(after) == len(before) - 1


def test_a_broken_step_shape_is_reported_with_the_other_problems(capsys, tmp_path):
    text = AUTOMATION.replace("  - id: summary\n    uses: customerio-track.track_evnt\n",
                              "  - id: summary\n    uses: [not, a, string]\n")
    code, found = problems(capsys, tmp_path, text)
    assert code == 2
    assert any(p.startswith("/steps/1/uses") for p in found)
    assert any(p.startswith("/steps/0/uses: unknown operation") for p in found)
    assert not any("unknown step" in p or "runs later" in p or "has no field" in p for p in found), found
