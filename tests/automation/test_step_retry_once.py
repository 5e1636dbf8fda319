"""A step `retry:` never sends a logical call twice: the sandbox journal is the proof (issue 10, item 1)."""

from __future__ import annotations

import json

from relaykit.automation import run_automation

TRACK_AND_APP_HEAD = """\
spec_version: 1
name: t
connections:
  track: {connector: customerio-track, ref: cio-prod}
  app: {connector: customerio-app, ref: cio-app}
steps:
"""


def posts(sandbox, connector):
    return [e for e in sandbox.journal() if e["connector"] == connector and e["method"] == "POST"]


def test_a_5xx_to_an_unsafe_step_is_not_retried_by_the_step(fast_rt, load, sandbox, conns):
    sandbox.set_faults({"apis": ["customerio-app"], "schedule": ["503", None, None]})
    automation = load(fast_rt, TRACK_AND_APP_HEAD + """\
  - id: blast
    uses: customerio-app.trigger_broadcast
    retry: {max_attempts: 3, delay: 1}
    with: {broadcast_id: 8}
""")
    sleeps: list[float] = []
    result = run_automation(fast_rt, automation, {}, conns, sleep=sleeps.append)
    step = result.steps["blast"].result
    assert not result.ok and (step.tries, step.attempts, step.status) == (1, 1, 503)
    assert step.error["retryable"] is False and "not retried" in step.error["message"]
    assert sleeps == []
    assert len(posts(sandbox, "customerio-app")) == 1  # the broadcast was triggered at most once


def test_a_webhook_post_answered_5xx_is_not_retried_by_the_step(fast_rt, load, echo_server):
    echo_server.status = 502
    automation = load(fast_rt, """\
        spec_version: 1
        name: t
        steps:
          - id: notify
            uses: webhook
            retry: {max_attempts: 3, delay: 0}
            with: {url: "{{ inputs.url }}", json: {hello: 1}}
    """)
    result = run_automation(fast_rt, automation, {"url": echo_server.url}, {}, sleep=lambda s: None)
    step = result.steps["notify"].result
    assert (step.tries, step.error["retryable"]) == (1, False)
    assert len(echo_server.requests) == 1


def test_a_step_retry_reuses_the_generated_event_id(fast_rt, load, sandbox, conns):
    # Every transport attempt of the first try commits, then loses its connection: the try fails
    # after 4 attempts with the event stored once. The step's second try must carry the same id.
    sandbox.set_faults({"apis": ["customerio-track"], "schedule": ["reset_after"] * 4 + [None]})
    automation = load(fast_rt, TRACK_AND_APP_HEAD + """\
  - id: event
    uses: customerio-track.track_event
    retry: {max_attempts: 2, delay: 1}
    with: {identifier: "u1", name: "signed_up"}
""")
    result = run_automation(fast_rt, automation, {}, conns, sleep=lambda s: None)
    assert result.ok, result.error
    step = result.steps["event"].result
    assert (step.tries, step.attempts) == (2, 5)
    sent = {json.loads(e["body"])["id"] for e in posts(sandbox, "customerio-track")}
    assert len(posts(sandbox, "customerio-track")) == 5 and len(sent) == 1
    events = sandbox.state()["events"]
    assert [e["id"] for e in events] == list(sent)  # stored once
    assert step.output["event_id"] in sent


def test_each_loop_item_gets_its_own_id_fixed_across_tries(fast_rt, load, sandbox, conns):
    sandbox.set_faults({"apis": ["customerio-track"],
                        "schedule": ["reset_after"] * 4 + [None] + ["reset_after"] * 4 + [None]})
    automation = load(fast_rt, TRACK_AND_APP_HEAD + """\
  - id: events
    uses: customerio-track.track_event
    for_each: "{{ inputs.names }}"
    retry: {max_attempts: 2, delay: 1}
    with: {identifier: "u1", name: "{{ item }}"}
""")
    result = run_automation(fast_rt, automation, {"names": ["a", "b"]}, conns, sleep=lambda s: None)
    assert result.ok, result.error
    events = sandbox.state()["events"]
    assert sorted(e["name"] for e in events) == ["a", "b"] and len({e["id"] for e in events}) == 2


def test_a_raw_pipelines_post_keeps_its_message_id_across_tries(fast_rt, load, sandbox):
    sandbox.set_faults({"apis": ["customerio-pipelines"], "schedule": ["reset_after"] * 4 + [None]})
    automation = load(fast_rt, """\
        spec_version: 1
        name: t
        connections:
          cdp: {connector: customerio-pipelines, ref: cio-cdp}
        steps:
          - id: track
            uses: customerio-pipelines.raw_http_request
            retry: {max_attempts: 2, delay: 1}
            with:
              method: POST
              endpoint: /v1/track
              body: {json: {userId: "u1", event: "signed_up"}}
    """)
    connections = {"cdp": sandbox.connection("customerio-pipelines")}
    result = run_automation(fast_rt, automation, {}, connections, sleep=lambda s: None)
    assert result.ok, result.error
    sent = [json.loads(e["body"])["messageId"] for e in posts(sandbox, "customerio-pipelines")]
    assert len(sent) == 5 and len(set(sent)) == 1
