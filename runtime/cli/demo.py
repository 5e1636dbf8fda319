"""`relaykit demo`: a short, real tour against an embedded sandbox — no account, no network.

Every step is a real HTTP call over loopback through the same runtime a production call uses;
the last steps show relaykit refusing bad input before sending and naming the right region.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ..errors import InputValidationError, RegionMismatchError
from ..runtime import Runtime


def _line(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _run_example_automation(rt: Runtime, sandbox: Any, json_output: bool) -> dict[str, Any]:
    """Run the shipped example `onboard_user` against the sandbox and print its report."""
    from .automations import format_report

    automation = rt.load_automation("example:onboard_user")
    connections = {name: sandbox.connection(ref.connector) for name, ref in automation.connections.items()}
    # send_welcome off: broadcast triggers are limited to 1 per 10 s and the tour just used it
    # (relaykit would wait for the limit rather than earn a 429, but a demo should not sit idle)
    inputs = {"user_id": "ada", "email": "ada@example.com", "plan": "team", "send_welcome": False}
    run = rt.run_automation(automation, inputs, connections)
    if not json_output:
        _line()
        _line("  Ada upgrades to the team plan: the example automation (relaykit run onboard_user), as it reports:")
        for text in format_report(run).splitlines():
            _line("    " + text)
        _line("    (welcome is skipped on purpose: the demo passes send_welcome=false because broadcast triggers")
        _line("     are limited to 1 per 10 s and the tour just triggered one; it is not a failure)")
    return run.to_dict()


def _refusal(exc: InputValidationError | RegionMismatchError) -> str:
    """One readable line per refusal: which call, and what relaykit said (no request path)."""
    if isinstance(exc, RegionMismatchError):
        return (f"{exc.connector}.{exc.operation} with region 'eu': {exc.message} "
                f"(the redirect was not followed with the credentials)")
    return str(exc)


def run_demo(json_output: bool = False) -> int:
    """Run the tour; print a step-by-step report (or JSON). Returns the exit code."""
    from ..sandbox import Sandbox

    report: list[dict[str, Any]] = []
    with Sandbox(rate_limits=True) as sandbox, Runtime() as rt:
        track = sandbox.connection("customerio-track")
        app = sandbox.connection("customerio-app")
        cdp = sandbox.connection("customerio-pipelines")

        def step(title: str, name: str, data: dict[str, Any], conn: dict[str, Any]) -> Any:
            result = rt.run(name, data, conn)
            report.append({"step": title, "operation": name, "status": result.status, "attempts": result.attempts,
                           "ms": round(result.elapsed * 1000, 1), "output": result.output})
            if not json_output:
                _line(f"  ok  {title:<46} {name:<44} {result.status} {result.elapsed * 1000:6.1f} ms")
            return result.output

        if not json_output:
            _line(f"relaykit demo — sandbox at {sandbox.url} (a local Customer.io emulator)")
            _line()
        step("identify Ada (Track API)", "customerio-track.create_or_update_customer",
             {"identifier": "ada@example.com", "email": "ada@example.com", "created_at": 1700000000,
              "attributes": {"first_name": "Ada", "plan": "pro"}}, track)
        event = step("record her signup event (deduped by ULID)", "customerio-track.track_event",
                     {"identifier": "ada@example.com", "name": "signed_up", "data": {"plan": "pro"}}, track)
        profile = step("read her attributes back (App API)", "customerio-app.raw_http_request",
                       {"method": "GET", "endpoint": "/customers/ada%40example.com/attributes",
                        "query": {"id_type": "email"}}, app)
        trigger = step("trigger broadcast 8 for her", "customerio-app.trigger_broadcast",
                       {"broadcast_id": 8, "emails": ["ada@example.com"], "data": {"headline": "Welcome"}}, app)
        step("check the trigger's status", "customerio-app.get_broadcast_trigger_status",
             {"broadcast_id": 8, "trigger_id": trigger["id"]}, app)
        step("identify through Data Pipelines", "customerio-pipelines.identify",
             {"userId": "ada", "traits": {"email": "ada@example.com"}, "timestamp": "2026-01-02T03:04:05Z"}, cdp)
        step("track through Data Pipelines", "customerio-pipelines.track",
             {"userId": "ada", "event": "Upgraded", "properties": {"plan": "team"}}, cdp)

        automation_report = _run_example_automation(rt, sandbox, json_output)

        refused: list[str] = []
        try:
            rt.run("customerio-track.track_event", {"identifier": "..", "name": "x", "timestamp": 1700000000000},
                   track)
        except InputValidationError as exc:
            refused.append(_refusal(exc))
        try:
            rt.run("customerio-track.track_event", {"identifier": "ada@example.com", "name": "x"},
                   {**track, "region": "eu"})
        except RegionMismatchError as exc:
            refused.append(_refusal(exc))
        received = len(sandbox.journal())
        attributes = (profile.get("body") or {}).get("customer", {}).get("attributes", {})
        if json_output:
            _line(json.dumps({"steps": report, "automation": automation_report, "refused": refused,
                              "requests_received": received}, indent=2))
            return 0
        _line()
        _line(f"  the App API read back what Track wrote: plan={attributes.get('plan')!r}, "
              f"event id {event['event_id']}")
        _line("  and relaykit refused, before or instead of doing harm:")
        for text in refused:
            _line("    - " + text.replace("\n", "\n      "))
        _line()
        _line(f"  the sandbox received {received} requests; see them with "
              f"`relaykit sandbox` + GET /_sandbox/journal")
    return 0
