"""`validate` catches at load what `run` would fail on in an automation's `inputs` schema (issue 12, item 9)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from relaykit.automation import load_automation
from relaykit.automation.model import AutomationInputError
from relaykit.cli.app import main
from relaykit.errors import SpecError

TEMPLATE = """\
spec_version: 1
name: checks
inputs:
  type: object
  properties:
    x: {schema}
steps:
  - id: s
    uses: set
    with: {{v: "{{{{ inputs.x }}}}"}}
"""


@pytest.mark.parametrize("schema, pointer, words", [
    ("{type: string, pattern: '(?=a)b'}", "/inputs/properties/x/pattern", "lookahead"),
    ("{type: string, pattern: '('}", "/inputs/properties/x/pattern", "not a valid regular expression"),
    ("{type: object, patternProperties: {'(a)\\1': {}}}", "/inputs/properties/x/patternProperties", "backreference"),
    ("{$ref: 'http://127.0.0.1:9/schema.json'}", "/inputs/properties/x/$ref", "may only point"),
    ("{$ref: 'file:///etc/passwd'}", "/inputs/properties/x/$ref", "may only point"),
    ("{$ref: '#/properties/x'}", "/inputs/properties/x/$ref", "refers back to itself"),
    ("{allOf: [{$ref: '#/properties/x/allOf/0'}]}", "/inputs/properties/x/allOf/0/$ref", "refers back to itself"),
    ("{$ref: '#/$defs/none'}", "/inputs/properties/x/$ref", "points nowhere"),
    ("{$ref: 'https://schemas.relaykit.invalid/common/none.json'}", "/inputs/properties/x/$ref", "cannot be resolved"),
])
def test_what_run_would_fail_on_is_refused_at_load(rt, tmp_path, capsys, schema, pointer, words):
    path = tmp_path / "a.yaml"
    path.write_text(TEMPLATE.format(schema=schema), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_automation(rt, path)
    assert any(p.pointer.startswith(pointer) and words in p.message and p.line for p in info.value.problems)
    assert main(["validate", str(path)]) == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize("schema", [
    "{$ref: '#'}",  # descends into the data: finite
    "{$ref: 'https://schemas.relaykit.invalid/common/customerio.json#/$defs/identifier'}",
    "{type: string, pattern: '^[a-z]+$'}",
])
def test_usable_schemas_still_load(rt, tmp_path, schema):
    path = tmp_path / "a.yaml"
    path.write_text(TEMPLATE.format(schema=schema), encoding="utf-8")
    load_automation(rt, path)


def test_a_catastrophic_pattern_runs_in_bounded_time(rt, tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(TEMPLATE.format(schema="{type: string, pattern: '^(a+)+$'}"), encoding="utf-8")
    automation = load_automation(rt, path)
    started = time.thread_time()
    with pytest.raises(AutomationInputError):
        rt.run_automation(automation, {"x": "a" * 100_000 + "!"}, dry_run=True)
    assert rt.run_automation(automation, {"x": "a" * 100_000}, dry_run=True).ok
    assert time.thread_time() - started < 5.0


def test_relaykit_run_with_a_catastrophic_pattern_finishes(tmp_path):
    """In a real process with a timeout: before the fix, N=32 ran past 120 s (holding the GIL)."""
    path = tmp_path / "a.yaml"
    path.write_text(TEMPLATE.format(schema="{type: string, pattern: '^(a+)+$'}"), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "relaykit.cli.app", "run", str(path), "--dry-run", "--input",
                           json.dumps({"x": "a" * 32 + "!"})], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "/x: does not have the expected form" in done.stderr
