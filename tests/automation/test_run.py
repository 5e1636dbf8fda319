"""Running automations for real: steps against the loopback sandbox, the webhook step against local servers."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from canary_scan import leaks
from relaykit import Runtime, hookimpl
from relaykit.automation import AutomationInputError, run_automation
from relaykit.errors import ConnectionConfigError

TRACK_HEAD = """\
spec_version: 1
name: t
connections:
  track: {connector: customerio-track, ref: cio-prod}
steps:
"""


def run(rt, automation, inputs=None, connections=None, **kw):
    result = run_automation(rt, automation, inputs or {}, connections or {}, **kw)
    json.dumps(result.to_dict())  # always serialisable
    return result


# -- set, if, outputs ----------------------------------------------------------------------------


def test_set_step_outputs_and_result_shape(rt, load):
    automation = load(rt, """\
        spec_version: 1
        name: t
        inputs:
          type: object
          properties:
            name: {type: string}
            plan: {type: string, default: free}
        steps:
          - id: compute
            uses: set
            with:
              greeting: "hello {{ inputs.name }}"
              plan: "{{ inputs.plan | upper }}"
              absent: "{{ inputs.nothing_here }}"
        outputs:
          greeting: "{{ steps.compute.output.greeting }}"
          plan: "{{ steps.compute.output.plan }}"
          ok: "{{ steps.compute.ok }}"
    """.replace("nothing_here", "name | default(null)"))
    result = run(rt, automation, {"name": "Ada"})
    assert result.ok and result.error is None
    assert result.outputs == {"greeting": "hello Ada", "plan": "FREE", "ok": True}
    step = result.results["compute"]
    assert set(step) == {"input", "output", "ok", "status", "error", "outcome"}
    assert step["output"] == {"greeting": "hello Ada", "plan": "FREE", "absent": "Ada"}
    assert step["ok"] is True and step["status"] is None and step["error"] is None
    assert result.inputs == {"name": "Ada", "plan": "free"}  # defaults applied


def test_condition_skips_and_later_steps_see_it(rt, load):
    automation = load(rt, """\
        spec_version: 1
        name: t
        inputs: {type: object, properties: {vip: {type: boolean, default: false}}}
        steps:
          - id: gift
            if: inputs.vip
            uses: set
            with: {gift: true}
          - id: after
            if: not steps.gift.ok
            uses: set
            with: {skipped_before: "{{ steps.gift.outcome }}"}
        outputs:
          gift: "{{ steps.gift.output.gift }}"
          after: "{{ steps.after.output.skipped_before }}"
    """)
    result = run(rt, automation, {})
    assert result.steps["gift"].outcome == "skipped" and result.steps["gift"].reason.endswith(" is false")
    assert result.results["gift"] is None
    assert result.steps["after"].outcome == "ok"
    assert result.outputs == {}  # absent values drop their keys; `after` read a skipped step
    result = run(rt, automation, {"vip": True})
    assert result.outputs == {"gift": True}
    assert result.steps["after"].outcome == "skipped"


def test_invalid_inputs_raise_before_anything_runs(rt, load, sandbox, conns):
    automation = load(rt, TRACK_HEAD.replace("steps:", """\
inputs:
  type: object
  required: [user_id]
  properties: {user_id: {type: string, minLength: 1}}
steps:""") + """\
  - id: a
    uses: customerio-track.create_or_update_customer
    with: {identifier: "{{ inputs.user_id }}"}
""")
    with pytest.raises(AutomationInputError) as info:
        run(rt, automation, {"user_id": ""}, conns)
    assert info.value.kind == "input" and "/user_id" in str(info.value)
    with pytest.raises(AutomationInputError):
        run(rt, automation, ["not", "an", "object"], conns)
    assert sandbox.journal() == []


def test_outputs_that_cannot_render_fail_the_run(rt, load):
    automation = load(rt, """\
        spec_version: 1
        name: t
        steps:
          - {id: a, uses: set, with: {x: 1}}
        outputs:
          text: "value {{ steps.a.output.missing }}"
    """)
    result = run(rt, automation)
    assert not result.ok and result.error.step_id == "outputs"
    assert "steps.a.output.missing is absent" in str(result.error)


# -- connector steps against the sandbox --------------------------------------------------------


def test_steps_chain_through_the_sandbox(rt, load, sandbox, conns):
    automation = load(rt, TRACK_HEAD + """\
  - id: upsert
    uses: customerio-track.create_or_update_customer
    with:
      identifier: "{{ inputs.id }}"
      attributes: {plan: pro}
  - id: event
    uses: customerio-track.track_event
    with:
      identifier: "{{ steps.upsert.input.identifier }}"
      name: upgraded
      data: {status: "{{ steps.upsert.status }}"}
outputs:
  event_id: "{{ steps.event.output.event_id }}"
""")
    result = run(rt, automation, {"id": "person/1"}, conns)
    assert result.ok, result.error
    assert result.steps["upsert"].result.status == 200 and result.steps["upsert"].attempts == 1
    state = sandbox.state()
    assert [p["id"] for p in state["people"]] == ["person/1"]
    assert state["people"][0]["attributes"]["plan"] == "pro"
    assert [(e["name"], e["data"], e["id"]) for e in state["events"]] == [
        ("upgraded", {"status": 200}, result.outputs["event_id"])]
    assert leaks(json.dumps(result.to_dict())) == []


def test_for_each_runs_in_order_and_collects_results(rt, load, sandbox, conns):
    automation = load(rt, TRACK_HEAD + """\
  - id: events
    uses: customerio-track.track_event
    for_each: "{{ inputs.names }}"
    with:
      identifier: "p{{ index }}"
      name: "{{ item }}"
  - id: count
    uses: set
    with:
      n: "{{ steps.events | length }}"
      first: "{{ steps.events[0].input.name }}"
outputs:
  n: "{{ steps.count.output.n }}"
  first: "{{ steps.count.output.first }}"
""")
    names = [f"event_{i}" for i in range(6)]
    result = run(rt, automation, {"names": names}, conns)
    assert result.ok
    items = result.steps["events"].items
    assert [r.input["name"] for r in items] == names and all(r.ok for r in items)
    assert result.steps["events"].counts() == {"ok": 6, "failed": 0, "skipped": 0}
    assert result.outputs == {"n": 6, "first": "event_0"}
    assert [e["name"] for e in sandbox.state()["events"]] == names
    assert [e["customer_id"] for e in sandbox.state()["events"]] == [f"p{i}" for i in range(6)]


def test_for_each_with_item_condition_filters_items(rt, load, sandbox, conns):
    automation = load(rt, TRACK_HEAD + """\
  - id: events
    uses: customerio-track.track_event
    for_each: "{{ inputs.rows }}"
    if: item.keep and index != 0
    with: {identifier: "{{ item.who }}", name: row}
""")
    rows = [{"who": "a", "keep": True}, {"who": "b", "keep": False}, {"who": "c", "keep": True}]
    result = run(rt, automation, {"rows": rows}, conns)
    assert [r.outcome for r in result.steps["events"].items] == ["skipped", "skipped", "ok"]
    assert [e["customer_id"] for e in sandbox.state()["events"]] == ["c"]


def test_for_each_of_an_absent_list_runs_no_items_and_a_non_list_fails(rt, load):
    automation = load(rt, """\
        spec_version: 1
        name: t
        steps:
          - id: each
            uses: set
            for_each: "{{ inputs.rows }}"
            with: {x: "{{ item }}"}
    """)
    result = run(rt, automation, {})
    assert result.ok and result.steps["each"].items == ()
    result = run(rt, automation, {"rows": "abc"})
    assert not result.ok and "expected a list, got a string" in str(result.error)


class SlowServer:
    """Answers after a short pause and records how many requests were in flight at once."""

    def __init__(self, delay=0.05):
        self.in_flight = self.peak = 0
        self.paths: list[str] = []
        lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    owner.in_flight += 1
                    owner.peak = max(owner.peak, owner.in_flight)
                    owner.paths.append(self.path)
                time.sleep(delay)
                with lock:
                    owner.in_flight -= 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slow_server():
    server = SlowServer()
    yield server
    server.close()


def test_max_parallel_bounds_concurrency_and_keeps_order(rt, load, slow_server):
    automation = load(rt, """\
        spec_version: 1
        name: t
        steps:
          - id: fan_out
            uses: webhook
            for_each: "{{ inputs.items }}"
            max_parallel: 3
            with:
              url: "{{ inputs.url }}/item/{{ index }}"
              json: {n: "{{ item }}"}
    """)
    items = list(range(9))
    result = run(rt, automation, {"items": items, "url": slow_server.url})
    assert result.ok
    assert [r.output["body"] for r in result.steps["fan_out"].items] == [{"n": i} for i in items]
    assert 2 <= slow_server.peak <= 3
    assert sorted(slow_server.paths) == sorted(f"/item/{i}" for i in items)


def test_parallel_loop_stays_within_the_connector_rate_limit(fast_rt, clock, load, sandbox, conns):
    # customerio-app allows 1 broadcast trigger per 10 s: 3 parallel triggers wait their turn
    automation = load(fast_rt, """\
        spec_version: 1
        name: t
        connections: {app: {connector: customerio-app}}
        steps:
          - id: trigger
            uses: customerio-app.trigger_broadcast
            for_each: [1, 2, 3]
            max_parallel: 3
            with: {broadcast_id: "{{ item }}"}
    """)
    result = run(fast_rt, automation, {}, conns)
    assert result.ok, result.error
    # the 2nd and 3rd trigger waited for the bucket (fake clock): 10 s each, or 10 + 20 s when both
    # reserved before either slept; never less
    assert len(clock.sleeps) >= 2 and sum(clock.sleeps) >= 20.0 - 1e-9
    assert len(sandbox.state()["triggers"]) == 3


# -- failures ------------------------------------------------------------------------------------------


def test_on_error_fail_stops_the_automation(rt, load, echo_server):
    echo_server.status = 400
    automation = load(rt, """\
        spec_version: 1
        name: t
        steps:
          - id: call
            uses: webhook
            with: {url: "{{ inputs.url }}", json: {a: 1}}
          - id: never
            uses: set
            with: {x: 1}
    """)
    result = run(rt, automation, {"url": echo_server.url})
    assert not result.ok
    assert result.error.step_id == "call" and result.error.cause.status == 400
    assert result.steps["call"].outcome == "failed" and result.steps["call"].result.status == 400
    assert result.steps["never"].outcome == "not_run" and "never" not in result.results
    data = result.error.to_dict()
    assert data["error"] == "AutomationError" and data["cause"]["error"] == "ClientError"
    with pytest.raises(Exception) as info:
        result.raise_for_error()
    assert info.value is result.error


def test_on_error_continue_records_the_error_and_goes_on(rt, load, echo_server):
    echo_server.status = 503
    automation = load(rt, """\
        spec_version: 1
        name: t
        steps:
          - id: call
            uses: webhook
            on_error: continue
            with: {url: "{{ inputs.url }}", method: POST, json: {a: 1}}
          - id: fallback
            if: not steps.call.ok
            uses: set
            with: {status: "{{ steps.call.status }}", kind: "{{ steps.call.error.error }}"}
        outputs:
          fallback: "{{ steps.fallback.output }}"
    """)
    result = run(rt, automation, {"url": echo_server.url})
    assert result.ok  # the author chose to continue
    assert result.results["call"]["ok"] is False and result.results["call"]["error"]["status"] == 503
    assert result.outputs == {"fallback": {"status": 503, "kind": "ServerError"}}
    assert len(echo_server.requests) == 1  # a POST is not idempotent: the transport does not repeat it


def test_loop_on_error_fail_stops_starting_items(rt, load, sandbox, conns):
    automation = load(rt, TRACK_HEAD + """\
  - id: each
    uses: customerio-track.track_event
    for_each: "{{ inputs.names }}"
    with: {identifier: "p", name: "{{ item }}"}
""")
    result = run(rt, automation, {"names": ["ok_1", "x" * 200, "ok_3"]}, conns)
    assert not result.ok
    assert [r.outcome for r in result.steps["each"].items] == ["ok", "failed", "not_run"]
    assert result.steps["each"].items[1].error["error"] == "InputValidationError"
    assert [e["name"] for e in sandbox.state()["events"]] == ["ok_1"]


def test_loop_on_error_continue_runs_every_item(rt, load, sandbox, conns):
    automation = load(rt, TRACK_HEAD + """\
  - id: each
    uses: customerio-track.track_event
    for_each: "{{ inputs.names }}"
    max_parallel: 2
    on_error: continue
    with: {identifier: "p", name: "{{ item }}"}
""")
    result = run(rt, automation, {"names": ["ok_1", "x" * 200, "ok_3"]}, conns)
    assert result.ok
    assert [r.outcome for r in result.steps["each"].items] == ["ok", "failed", "ok"]
    assert result.steps["each"].outcome == "failed"
    assert sorted(e["name"] for e in sandbox.state()["events"]) == ["ok_1", "ok_3"]


def test_step_retry_runs_the_step_again_after_transport_retries(fast_rt, load, sandbox, conns):
    sandbox.set_faults({"schedule": ["500", "503", "500", "502", None]})
    automation = load(fast_rt, TRACK_HEAD + """\
  - id: upsert
    uses: customerio-track.create_or_update_customer
    retry: {max_attempts: 2, delay: 7, factor: 3}
    with: {identifier: "u1"}
""")
    sleeps: list[float] = []
    result = run(fast_rt, automation, {}, conns, sleep=sleeps.append)
    assert result.ok, result.error
    step = result.steps["upsert"].result
    assert (step.tries, step.attempts, step.status) == (2, 5, 200)
    assert sleeps == [7]  # the step-level wait; the transport's own backoff used the runtime's sleep
    assert len(sandbox.journal()) == 5


def test_step_retry_gives_up_after_max_attempts(fast_rt, load, sandbox, conns):
    sandbox.set_faults({"schedule": ["500"] * 8})
    automation = load(fast_rt, TRACK_HEAD + """\
  - id: upsert
    uses: customerio-track.create_or_update_customer
    retry: {max_attempts: 2, delay: 1, factor: 2}
    with: {identifier: "u1"}
""")
    sleeps: list[float] = []
    result = run(fast_rt, automation, {}, conns, sleep=sleeps.append)
    assert not result.ok
    step = result.steps["upsert"].result
    assert (step.tries, step.attempts, step.status, step.error["error"]) == (2, 8, 500, "ServerError")
    assert sleeps == [1]


def test_step_retry_skips_errors_that_are_not_retryable(rt, load, echo_server):
    echo_server.status = 422
    automation = load(rt, """\
        spec_version: 1
        name: t
        steps:
          - id: call
            uses: webhook
            retry: {max_attempts: 5, delay: 0}
            with: {url: "{{ inputs.url }}", method: PUT, json: {}}
          - id: call_any
            uses: webhook
            retry: {max_attempts: 3, delay: 0, when: call_error}
            on_error: continue
            with: {url: "{{ inputs.url }}", method: PUT, json: {}}
    """)
    result = run(rt, automation, {"url": echo_server.url}, sleep=lambda s: None)
    assert result.steps["call"].result.tries == 1
    assert len(echo_server.requests) == 1
    automation = load(rt, """\
        spec_version: 1
        name: t
        steps:
          - id: call_any
            uses: webhook
            retry: {max_attempts: 3, delay: 0, when: call_error}
            with: {url: "{{ inputs.url }}", method: PUT, json: {}}
    """)
    result = run(rt, automation, {"url": echo_server.url}, sleep=lambda s: None)
    assert result.steps["call_any"].result.tries == 3 and len(echo_server.requests) == 4


# -- the webhook step --------------------------------------------------------------------------------


def test_webhook_step_sends_what_the_automation_names(rt, load, echo_server):
    automation = load(rt, """\
        spec_version: 1
        name: t
        steps:
          - id: notify
            uses: webhook
            with:
              url: "{{ inputs.url }}/hooks/bounce?src=cio"
              method: POST
              query: {id: "{{ inputs.id }}", flags: [a, b]}
              headers: {X-Source: relaykit, Authorization: "Bearer {{ inputs.token }}"}
              json: {text: "person {{ inputs.id }} bounced", count: 2}
        outputs:
          echoed: "{{ steps.notify.output.body.body }}"
          status: "{{ steps.notify.output.status }}"
    """)
    result = run(rt, automation, {"url": echo_server.url, "id": "a/b", "token": "tok-secret-123456"})
    assert result.ok, result.error
    (request,) = echo_server.requests
    assert request["method"] == "POST"
    assert request["path"] == "/hooks/bounce?src=cio&id=a%2Fb&flags=a&flags=b"
    assert request["headers"]["X-Source"] == "relaykit"
    assert request["headers"]["Authorization"] == "Bearer tok-secret-123456"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["User-Agent"].startswith("relaykit/")
    assert json.loads(request["body"]) == {"text": "person a/b bounced", "count": 2}
    assert result.outputs["status"] == 200
    assert json.loads(result.outputs["echoed"]) == {"text": "person a/b bounced", "count": 2}
    assert result.steps["notify"].result.status == 200


def test_webhook_step_form_and_text_bodies(rt, load, echo_server):
    automation = load(rt, """\
        spec_version: 1
        name: t
        steps:
          - id: form
            uses: webhook
            with: {url: "{{ inputs.url }}", form: {a: "x y", b: 1}}
          - id: text
            uses: webhook
            with: {url: "{{ inputs.url }}", method: PATCH, body: "hello", content_type: text/csv}
    """)
    assert run(rt, automation, {"url": echo_server.url}).ok
    form, text = echo_server.requests
    assert form["body"] == "a=x+y&b=1" and form["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert (text["method"], text["body"], text["headers"]["Content-Type"]) == ("PATCH", "hello", "text/csv")


def test_webhook_step_can_accept_error_statuses_as_data(rt, load, echo_server):
    echo_server.status = 404
    automation = load(rt, """\
        spec_version: 1
        name: t
        steps:
          - id: probe
            uses: webhook
            with: {url: "{{ inputs.url }}", method: GET, fail_on_http_error: false}
    """)
    result = run(rt, automation, {"url": echo_server.url})
    assert result.ok and result.results["probe"]["status"] == 404


@pytest.mark.parametrize(("url", "fragment"), [
    pytest.param("http://user:pw@127.0.0.1:9/x", "user information", id="userinfo"),
    pytest.param("http://127.0.0.1:9/a b", "whitespace", id="space"),
    pytest.param("ftp://127.0.0.1/x", "does not have the expected form", id="scheme"),
])
def test_webhook_step_refuses_bad_rendered_urls(rt, load, url, fragment):
    automation = load(rt, """\
        spec_version: 1
        name: t
        steps:
          - {id: call, uses: webhook, with: {url: "{{ inputs.url }}"}}
    """)
    result = run(rt, automation, {"url": url})
    assert not result.ok and fragment in str(result.error)
    assert "pw@" not in json.dumps(result.error.to_dict())


def test_webhook_step_does_not_follow_redirects(rt, load, echo_server):
    echo_server.status = 302
    echo_server.headers = {"Location": "http://127.0.0.1:9/elsewhere"}
    automation = load(rt, """\
        spec_version: 1
        name: t
        steps:
          - {id: call, uses: webhook, with: {url: "{{ inputs.url }}", method: GET}}
    """)
    result = run(rt, automation, {"url": echo_server.url})
    assert not result.ok and result.error.cause.to_dict()["error"] == "RedirectError"
    assert len(echo_server.requests) == 1


# -- dry run ---------------------------------------------------------------------------------------------


def test_dry_run_renders_every_request_and_sends_nothing(rt, load, sandbox, conns, echo_server):
    automation = load(rt, TRACK_HEAD + """\
  - id: upsert
    uses: customerio-track.create_or_update_customer
    with: {identifier: "{{ inputs.id }}", attributes: {plan: pro}}
  - id: event
    uses: customerio-track.track_event
    for_each: [a, b]
    with: {identifier: "{{ steps.upsert.input.identifier }}", name: "{{ item }}"}
  - id: notify
    uses: webhook
    with:
      url: "{{ inputs.url }}"
      headers: {Authorization: "Bearer {{ inputs.token }}"}
      json: {n: 1}
  - id: uses_output
    uses: customerio-track.track_event
    with: {identifier: "x", name: "e {{ steps.notify.output.status }}"}
""")
    result = run(rt, automation, {"id": "u1", "url": echo_server.url, "token": "tok-secret-987654"}, conns,
                 dry_run=True)
    assert result.ok and result.dry_run
    upsert = result.steps["upsert"].result.request
    assert upsert["method"] == "PUT" and upsert["url"].endswith("/api/v1/customers/u1")
    assert upsert["headers"]["Authorization"] == "***" and upsert["body"] == {"plan": "pro"}
    assert [r.request["body"]["name"] for r in result.steps["event"].items] == ["a", "b"]
    notify = result.steps["notify"].result.request
    assert notify["headers"]["Authorization"] == "***" and notify["body"] == {"n": 1}
    assert result.steps["uses_output"].outcome == "skipped"
    assert "dry run" in result.steps["uses_output"].reason
    assert "tok-secret-987654" not in json.dumps(result.to_dict())
    assert sandbox.journal() == [] and echo_server.requests == []


def test_dry_run_reports_real_render_problems(rt, load, sandbox, conns):
    automation = load(rt, TRACK_HEAD + """\
  - id: event
    uses: customerio-track.track_event
    with: {identifier: "{{ inputs.id }}", name: "{{ inputs.name }}"}
""")
    result = run(rt, automation, {"id": "u1", "name": "x" * 101}, conns, dry_run=True)
    assert not result.ok and result.error.cause.to_dict()["error"] == "InputValidationError"


# -- connections -------------------------------------------------------------------------------------------


def test_connection_from_the_environment_by_reference(sandbox, load):
    conn = sandbox.connection("customerio-track")
    environ = {f"RELAYKIT_CIO_PROD_{k.upper()}": v for k, v in conn.items()}
    with Runtime(environ=environ) as rt:
        automation = load(rt, TRACK_HEAD + "  - {id: a, uses: customerio-track.delete_customer, "
                                           "with: {identifier: x}}\n")
        result = run(rt, automation)
        assert result.ok, result.error
    assert [e["target"] for e in sandbox.journal()][-1].endswith("/api/v1/customers/x")


def test_connection_from_the_resolve_connection_hook(sandbox, load):
    seen = []

    class Vault:
        @hookimpl
        def resolve_connection(self, connector, reference):
            seen.append((connector, reference))
            return dict(sandbox.connection(connector))

    with Runtime(plugins=[Vault()]) as rt:
        automation = load(rt, TRACK_HEAD + "  - {id: a, uses: customerio-track.delete_customer, "
                                           "with: {identifier: x}}\n")
        assert run(rt, automation).ok
        assert seen == [("customerio-track", "cio-prod")]
        seen.clear()
        assert run(rt, automation, connections={"track": "other-ref"}).ok
        assert seen == [("customerio-track", "other-ref")]


def test_automation_fields_are_defaults_under_the_supplied_connection(rt, load, sandbox):
    automation = load(rt, """\
        spec_version: 1
        name: t
        connections:
          track: {connector: customerio-track, fields: {region: eu}}
        steps:
          - {id: a, uses: customerio-track.delete_customer, with: {identifier: x}}
    """)
    conn = {k: v for k, v in sandbox.connection("customerio-track").items() if k != "region"}
    result = run(rt, automation, {}, {"track": conn}, dry_run=True)
    assert "/customerio-track/eu/" in result.steps["a"].result.request["url"]


def test_a_missing_connection_fails_before_any_request(rt, load, sandbox, conns):
    automation = load(rt, TRACK_HEAD + """\
  - {id: a, uses: customerio-track.delete_customer, with: {identifier: x}}
""")
    with pytest.raises(ConnectionConfigError) as info:
        run(rt, automation, {}, {"track": {"site_id": "s"}})
    assert "connection 'track'" in str(info.value) and "/api_key" in str(info.value)
    assert sandbox.journal() == []
