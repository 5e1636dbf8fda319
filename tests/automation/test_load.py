"""Loading automations: every listed mistake is a SpecError located at file:line, found before running.

Each case is a whole automation with `# <-` marking the line the problem must point at.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from relaykit.automation import check_automation, load_automation, parse_automation
from relaykit.errors import SpecError

HEAD = """\
spec_version: 1
name: t
inputs:
  type: object
  required: [user_id]
  properties:
    user_id: {type: string}
    email: {type: string}
    events: {type: array}
    count: {type: integer}
connections:
  cio: {connector: customerio-track, ref: cio-prod}
  app: {connector: customerio-app}
steps:
"""

CASES = [
    pytest.param("""
  - id: a
    uses: customerio-track.track_evnt  # <-
    with: {identifier: x, name: y}
""", "unknown operation 'customerio-track.track_evnt'", "did you mean 'customerio-track.track_event'",
        id="unknown-operation-with-suggestion"),
    pytest.param("""
  - id: a
    uses: customerio-trak.track_event  # <-
    with: {identifier: x, name: y}
""", "unknown connector 'customerio-trak'", "customerio-track", id="unknown-connector-in-uses"),
    pytest.param("""
  - id: a
    uses: webhok  # <-
    with: {url: "http://x"}
""", "unknown step type 'webhok'", "did you mean 'webhook'", id="unknown-builtin"),
    pytest.param("""
  - id: a
    uses: customerio-track.track_event
    connection: app  # <-
    with: {identifier: x, name: y}
""", "connection 'app' is a customerio-app connection, but customerio-track.track_event needs customerio-track",
        None, id="connection-for-another-connector"),
    pytest.param("""
  - id: a
    uses: customerio-track.track_event
    connection: cioo  # <-
    with: {identifier: x, name: y}
""", "unknown connection 'cioo'", "did you mean 'cio'", id="unknown-connection"),
    pytest.param("""
  - id: a  # <-
    uses: customerio-pipelines.track
    with: {userId: x, event: y}
""", "customerio-pipelines.track needs a customerio-pipelines connection", "declare one", id="missing-connection"),
    pytest.param("""
  - id: a
    uses: customerio-track.track_event
    with:
      identifier: "{{ steps.later.output.id }}"  # <-
      name: y
  - id: later
    uses: set
    with: {id: 1}
""", "step 'later' runs later", None, id="reference-to-later-step"),
    pytest.param("""
  - id: a
    uses: set
    with:
      x: "{{ steps.nope.output }}"  # <-
""", "unknown step 'nope'", None, id="reference-to-unknown-step"),
    pytest.param("""
  - id: first
    uses: set
    with: {x: 1}
  - id: a
    uses: set
    with:
      x: "{{ steps.frist.output.x }}"  # <-
""", "unknown step 'frist'", "did you mean 'first'", id="reference-typo-suggestion"),
    pytest.param("""
  - id: a
    uses: set
    with:
      x: "{{ steps.a.output }}"  # <-
""", "cannot read its own result", None, id="reference-to-itself"),
    pytest.param("""
  - id: first
    uses: set
    with: {x: 1}
  - id: a
    uses: set
    with:
      x: "{{ steps.first.outptu }}"  # <-
""", "steps.first has no field 'outptu'", "did you mean 'output'", id="unknown-result-field"),
    pytest.param("""
  - id: loop
    uses: set
    for_each: [1, 2]
    with: {x: "{{ item }}"}
  - id: a
    uses: set
    with:
      x: "{{ steps.loop.output }}"  # <-
""", "steps.loop is a list of results", None, id="loop-result-read-as-single"),
    pytest.param("""
  - id: a
    if: steps.later.ok  # <-
    uses: set
    with: {x: 1}
  - id: later
    uses: set
    with: {x: 1}
""", "step 'later' runs later", None, id="condition-reads-later-step"),
    pytest.param("""
  - id: a
    uses: customerio-track.track_event
    with:
      identifier: "{{ inputs.user_id }}"
      name: 12  # <-
""", "expected a string", None, id="literal-input-wrong-type"),
    pytest.param("""
  - id: a
    uses: customerio-track.track_event
    with:
      identifier: "{{ inputs.user_id }}"
      name: signed_up
      colour: blue  # <-
""", "is not an allowed field", None, id="literal-input-unknown-field"),
    pytest.param("""
  - id: a
    uses: customerio-track.track_event
    with:
      identifier: "{{ inputs.user_id }}"  # <-
""", "/steps/0/with/name: is required", None, id="literal-input-missing-required"),
    pytest.param("""
  - id: a
    uses: customerio-app.trigger_broadcast
    with:
      broadcast_id: 0  # <-
""", "must be at least 1", None, id="literal-input-out-of-range"),
    pytest.param("""
  - id: a
    uses: set
    for_each: inputs.events  # <-
    with: {x: "{{ item }}"}
""", "for_each must be a list or one expression", None, id="for-each-bare-path"),
    pytest.param("""
  - id: a
    uses: set
    for_each: "{{ inputs.user_id }}"  # <-
    with: {x: "{{ item }}"}
""", "for_each must give a list, but inputs.user_id is a string", None, id="for-each-not-a-list-input"),
    pytest.param("""
  - id: first
    uses: set
    with: {x: 1}
  - id: a
    uses: set
    for_each: "{{ steps.first.ok }}"  # <-
    with: {x: "{{ item }}"}
""", "for_each must give a list, but steps.first.ok is true or false", None, id="for-each-not-a-list-step"),
    pytest.param("""
  - id: a
    uses: set
    for_each: "events: {{ inputs.events }}"  # <-
    with: {x: "{{ item }}"}
""", "for_each must be a list or one expression", None, id="for-each-interpolated"),
    pytest.param("""
  - id: a
    uses: set
    with:
      x: "{{ item }}"  # <-
""", "unknown variable 'item'", "only in a for_each step", id="item-outside-loop"),
    pytest.param("""
  - id: a
    uses: set
    with:
      x: "{{ env.HOME }}"  # <-
""", "unknown variable 'env'", "cannot read the environment", id="env-is-not-a-root"),
    pytest.param("""
  - id: a
    uses: set
    with:
      x: "{{ inputs.emial }}"  # <-
""", "unknown input 'emial'", "did you mean 'email'", id="unknown-input"),
    pytest.param("""
  - id: a
    uses: set
    with:
      x: "{{ inputs.user_id | uper }}"  # <-
""", "unknown filter 'uper'", "did you mean 'upper'", id="unknown-filter"),
    pytest.param("""
  - id: a
    uses: set
    with:
      x: "{{ inputs.user_id "  # <-
""", "template syntax error", None, id="template-syntax"),
    pytest.param("""
  - id: a
    uses: set
    if: inputs.count = 1  # <-
    with: {x: 1}
""", "use '=='", None, id="condition-syntax"),
    pytest.param("""
  - id: a
    uses: set
    with: {x: 1}
  - id: a  # <-
    uses: set
    with: {x: 2}
""", "duplicate step id 'a'", None, id="duplicate-step-id"),
    pytest.param("""
  - id: Bad-Id  # <-
    uses: set
    with: {x: 1}
""", "does not have the expected form", None, id="step-id-not-snake-case"),
    pytest.param("""
  - id: a
    uses: set
    on_eror: continue  # <-
    with: {x: 1}
""", "is not an allowed field", "did you mean 'on_error'", id="unknown-step-key"),
    pytest.param("""
  - id: a
    uses: set
    on_error: ignore  # <-
    with: {x: 1}
""", "must be one of: fail, continue", None, id="bad-on-error"),
    pytest.param("""
  - id: a
    uses: set
    max_parallel: 4  # <-
    with: {x: 1}
""", "max_parallel applies only to a for_each step", None, id="max-parallel-without-loop"),
    pytest.param("""
  - id: a
    uses: webhook
    connection: cio  # <-
    with: {url: "http://127.0.0.1:9"}
""", "takes no connection", None, id="builtin-with-connection"),
    pytest.param("""
  - id: a
    uses: webhook
    with:
      url: "http://127.0.0.1:9"
      headers:
        Authorization: Bearer abc123  # <-
""", "a credential must not be written in an automation", None, id="webhook-literal-credential"),
    pytest.param("""
  - id: a
    uses: webhook
    with:
      url: "http://127.0.0.1:9"
      headers:
        Host: example.com  # <-
""", "is set by the transport", None, id="webhook-forbidden-header"),
    pytest.param("""
  - id: a
    uses: webhook
    with:
      url: ftp://example.com/x  # <-
""", "does not have the expected form", None, id="webhook-bad-scheme"),
    pytest.param("""
  - id: a
    uses: webhook
    with:
      url: "http://127.0.0.1:9"
      json: {a: 1}
      body: text  # <-
""", "give only one of json, form and body", None, id="webhook-two-bodies"),
    pytest.param("""
  - id: a
    uses: set
    with: [1, 2]  # <-
""", "a set step's `with` must be a mapping", None, id="set-with-not-mapping"),
    pytest.param("""
  - id: a
    uses: set
    retry: {max_attempts: 2}  # <-
    with: {x: 1}
""", "nothing to retry", None, id="retry-on-set"),
]


@pytest.mark.parametrize(("steps", "message", "hint"), CASES)
def test_load_errors_point_at_the_line(rt, tmp_path, steps, message, hint):
    text = HEAD + steps.lstrip("\n")
    path = tmp_path / "auto.yaml"
    path.write_text(text, encoding="utf-8")
    expected_line = next(i for i, line in enumerate(text.splitlines(), 1) if "# <-" in line)
    with pytest.raises(SpecError) as info:
        load_automation(rt, path)
    matching = [p for p in info.value.problems if message in str(p)]
    assert matching, f"no problem mentions {message!r}: {[str(p) for p in info.value.problems]}"
    problem = matching[0]
    assert problem.file == str(path)
    assert problem.line == expected_line, str(problem)
    if hint:
        assert hint in (problem.hint or ""), str(problem)
    assert f"{path}:{expected_line}:" in str(problem)


TOP_CASES = [
    pytest.param("""\
spec_version: 1
name: t
connections:
  cio:
    connector: customerio-track
    fields:
      api_key: abc  # <-
steps:
  - {id: a, uses: set, with: {x: 1}}
""", "'api_key' is a secret; secrets never go in an automation", id="secret-field-inline"),
    pytest.param("""\
spec_version: 1
name: t
connections:
  cio:
    connector: customerio-track
    fields:
      regoin: eu  # <-
steps:
  - {id: a, uses: set, with: {x: 1}}
""", "customerio-track connections have no field 'regoin'", id="unknown-connection-field"),
    pytest.param("""\
spec_version: 1
name: t
connections:
  cio:
    connector: customerio-track
    fields:
      region: mars  # <-
steps:
  - {id: a, uses: set, with: {x: 1}}
""", "must be one of: us, eu", id="bad-connection-field-value"),
    pytest.param("""\
spec_version: 1
name: t
connections:
  cio:
    connector: customerio-trak  # <-
steps:
  - {id: a, uses: set, with: {x: 1}}
""", "unknown connector 'customerio-trak'", id="unknown-connector"),
    pytest.param("""\
spec_version: 1
name: t
connections:
  cio:
    connector: customerio-track
    password: hunter2  # <-
steps:
  - {id: a, uses: set, with: {x: 1}}
""", "is not an allowed field", id="inline-secret-key"),
    pytest.param("""\
spec_version: 1
name: t
inputs:
  type: array  # <-
steps:
  - {id: a, uses: set, with: {x: 1}}
""", "the inputs (the trigger payload) must be an object", id="inputs-not-object"),
    pytest.param("""\
spec_version: 1
name: t
inputs:
  type: object
  properties:
    a: {type: strnig}  # <-
steps:
  - {id: a, uses: set, with: {x: 1}}
""", "is not valid JSON Schema", id="inputs-bad-schema"),
    pytest.param("""\
spec_version: 2  # <-
name: t
steps:
  - {id: a, uses: set, with: {x: 1}}
""", "must be 1", id="spec-version"),
    pytest.param("""\
spec_version: 1
name: t
steps:
  - {id: a, uses: set, with: {x: 1}}
outputs:
  y: "{{ steps.b.output }}"  # <-
""", "unknown step 'b'", id="output-unknown-step"),
    pytest.param("""\
spec_version: 1
name: t
steps: []  # <-
""", "must have at least 1 item", id="no-steps"),
    pytest.param("""\
spec_version: 1
name: t
steps:
  - {id: a, uses: set, with: {x: 1}}
  - {id: b, uses: set, with: {x: 1}}
  - {id: a, uses: set, with: {x: 1}}  # <-
on: push
""", "is not an allowed field", id="unknown-top-level-key"),
]


@pytest.mark.parametrize(("text", "message"), TOP_CASES)
def test_top_level_errors_point_at_the_line(rt, tmp_path, text, message):
    path = tmp_path / "auto.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_automation(rt, path)
    matching = [p for p in info.value.problems if message in str(p)]
    assert matching, [str(p) for p in info.value.problems]
    if "on: push" not in text:
        expected_line = next(i for i, line in enumerate(text.splitlines(), 1) if "# <-" in line)
        assert matching[0].line == expected_line, str(matching[0])


def test_secret_value_never_appears_in_messages(rt, tmp_path):
    path = tmp_path / "auto.yaml"
    path.write_text(TOP_CASES[0].values[0].replace("abc", "sekret-value-123"), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_automation(rt, path)
    assert "sekret-value-123" not in str(info.value)
    assert "sekret-value-123" not in json.dumps(info.value.to_dict())


def test_every_problem_is_reported_at_once(rt, tmp_path):
    path = tmp_path / "auto.yaml"
    path.write_text(HEAD + """\
  - id: a
    uses: customerio-track.track_evnt
  - id: b
    uses: set
    with: {x: "{{ steps.zz.output }}"}
  - id: c
    uses: set
    if: inputs.count = 1
""", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_automation(rt, path)
    assert len(info.value.problems) == 3
    assert [p.line for p in info.value.problems] == [16, 19, 22]


def test_templated_values_are_not_checked_statically(rt):
    automation = parse_automation(rt, HEAD + """\
  - id: a
    uses: customerio-track.track_event
    with:
      identifier: "{{ inputs.user_id }}"
      name: "{{ inputs.email }}"
      timestamp: "{{ inputs.count }}"
      data: "{{ inputs.events }}"
  - id: b
    uses: customerio-app.trigger_broadcast
    with: "{{ steps.a.input }}"
""", "inline.yaml")
    assert [s.id for s in automation.steps] == ["a", "b"]
    assert automation.step("a").connection == "cio"  # the only customerio-track connection


def test_yaml_level_problems_are_located(rt, tmp_path):
    path = tmp_path / "auto.yaml"
    path.write_text("spec_version: 1\nname: t\nname: u\nsteps: []\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_automation(rt, path)
    assert info.value.problems[0].line == 3


def test_check_automation_returns_problems(rt, tmp_path):
    path = tmp_path / "auto.yaml"
    path.write_text(HEAD + "  - {id: a, uses: nope}\n", encoding="utf-8")
    problems = check_automation(rt, path)
    assert len(problems) == 1 and problems[0].line == 15
    assert check_automation(rt, Path(__file__).resolve().parents[2] / "examples" / "onboard_user.yaml") == []


def test_meta_schema_is_valid_and_accepts_the_examples():
    root = Path(__file__).resolve().parents[2]
    schema = json.loads((root / "schemas" / "automation.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    from relaykit.specs.documents import load_yaml_file

    validator = Draft202012Validator(schema)
    examples = sorted((root / "examples").glob("*.yaml"))
    assert len(examples) >= 3
    for path in examples:
        assert list(validator.iter_errors(load_yaml_file(path).data)) == [], path
