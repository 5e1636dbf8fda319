"""Rate limits can be raised, lowered and turned off per runtime and per connection; bad values are
refused before anything is sent, naming connector, class and field.

Each call goes to the sandbox over loopback (its own limits off, so only the client's count). The
runtime's clock stands still unless something sleeps, so every rate-limit wait shows up, exactly, in
`waits`, and nothing really waits.
"""

from __future__ import annotations

import json

import pytest
from relaykit import ConnectionConfigError, Runtime, SettingsError
from relaykit.cli import main
from transport_helpers import WarpClock


def frozen_runtime(**kw) -> Runtime:
    clock = WarpClock(speed=0.0)  # time moves only when the runtime sleeps
    runtime = Runtime(clock=clock, sleep=clock.sleep, **kw)
    runtime.waits = clock.waits  # type: ignore[attr-defined]
    return runtime


def segments(runtime, sandbox, n, **conn_fields):
    connection = {**sandbox.connection("customerio-app"), **conn_fields}
    for _ in range(n):
        runtime.run("customerio-app.raw_http_request", {"method": "GET", "endpoint": "/segments"}, connection)


@pytest.mark.parametrize(("runtime_limits", "conn_fields", "calls", "waits"), [
    pytest.param(None, {}, 11, [1.0], id="declared: 10 per second"),
    pytest.param({"customerio-app": {"app": {"requests": 3}}}, {}, 7, [1.0, 1.0], id="runtime lowers to 3/s"),
    pytest.param({"customerio-app": {"app": {"requests": 30}}}, {}, 31, [1.0], id="runtime raises to 30/s"),
    pytest.param({"customerio-app": {"app": {"per": 2}}}, {}, 11, [2.0], id="runtime: 10 per 2 s, requests kept"),
    pytest.param({"customerio-app": {"app": False}}, {}, 40, [], id="runtime turns the class off"),
    pytest.param({"customerio-app": False}, {}, 40, [], id="runtime turns the connector off"),
    pytest.param({"customerio-app": {"app": {"requests": 3}}}, {"rate_limits": {"app": {"requests": 5}}}, 6,
                 [1.0], id="the connection wins over the runtime"),
    pytest.param({"customerio-app": {"app": False}}, {"rate_limits": {"app": {"requests": 2}}}, 3, [1.0],
                 id="connection limits a class the runtime turned off"),
    pytest.param(None, {"rate_limits": {"app": False}}, 40, [], id="connection turns the class off"),
    pytest.param(None, {"rate_limits": {"app": {"burst": 2}}}, 4, [0.2], id="connection: burst 2 (2 per 0.2 s)"),
])
def test_overrides_decide_what_the_client_waits(sandbox, runtime_limits, conn_fields, calls, waits):
    runtime = frozen_runtime(rate_limits=runtime_limits)
    try:
        segments(runtime, sandbox, calls, **conn_fields)
        assert runtime.waits == pytest.approx(waits)
        assert len(sandbox.journal()) == calls
    finally:
        runtime.close()


def test_connections_sharing_a_credential_share_its_window_whatever_their_overrides(sandbox):
    runtime = frozen_runtime()
    try:
        segments(runtime, sandbox, 5, rate_limits={"app": {"requests": 5}})
        segments(runtime, sandbox, 1)  # the declared 10/s: room for 5 more in this second
        segments(runtime, sandbox, 1, rate_limits={"app": {"requests": 5}})  # 6 in the window: wait
        assert runtime.waits == pytest.approx([1.0])
    finally:
        runtime.close()


@pytest.mark.parametrize(("limits", "pointer", "words"), [
    pytest.param({"customerio-trak": {}}, "/customerio-trak", "did you mean 'customerio-track'", id="connector"),
    pytest.param({"customerio-app": {"ap": {"requests": 5}}}, "/customerio-app/ap", "did you mean 'app'",
                 id="class"),
    pytest.param({"customerio-app": {"app": {"request": 5}}}, "/customerio-app/app/request",
                 "did you mean 'requests'", id="field"),
    pytest.param({"customerio-app": {"app": {"requests": 0}}}, "/customerio-app/app/requests", "at least 1",
                 id="zero"),
    pytest.param({"customerio-app": {"app": {"requests": 2.5}}}, "/customerio-app/app/requests", "whole number",
                 id="fraction"),
    pytest.param({"customerio-app": {"app": {"requests": True}}}, "/customerio-app/app/requests", "whole number",
                 id="bool"),
    pytest.param({"customerio-app": {"app": {"per": float("inf")}}}, "/customerio-app/app/per", "positive number",
                 id="infinite"),
    pytest.param({"customerio-app": {"app": {"per": "1"}}}, "/customerio-app/app/per", "positive number",
                 id="string"),
    pytest.param({"customerio-app": {"app": None}}, "/customerio-app/app", "or false", id="null class"),
    pytest.param({"customerio-app": True}, "/customerio-app", "or false", id="true connector"),
    pytest.param(["customerio-app"], "", "object of connectors", id="not a mapping"),
])
def test_bad_runtime_overrides_are_refused_when_the_runtime_is_built(limits, pointer, words):
    with pytest.raises(SettingsError) as info:
        Runtime(rate_limits=limits)
    problems = info.value.problems
    assert [p.pointer for p in problems] == [pointer]
    assert words in str(info.value) and "rate_limits" in str(info.value)


def test_every_problem_is_listed_at_once():
    with pytest.raises(SettingsError) as info:
        Runtime(rate_limits={"customerio-app": {"app": {"requests": 0, "per": -1}, "nope": False},
                             "customerio-track": {"track": {"burst": 0}}})
    assert sorted(p.pointer for p in info.value.problems) == [
        "/customerio-app/app/per", "/customerio-app/app/requests", "/customerio-app/nope",
        "/customerio-track/track/burst"]


def test_a_bad_connection_override_is_refused_before_anything_is_sent(sandbox):
    runtime = Runtime()
    try:
        with pytest.raises(ConnectionConfigError) as info:
            segments(runtime, sandbox, 1, rate_limits={"app": {"requests": -1}, "trigger": False})
        assert info.value.connector == "customerio-app"
        assert [p.pointer for p in info.value.problems] == ["/rate_limits/app/requests", "/rate_limits/trigger"]
        assert "broadcast_trigger" in str(info.value)  # the closest class is suggested
        assert sandbox.journal() == []
    finally:
        runtime.close()


def test_the_cli_refuses_a_bad_connection_override_with_exit_2_and_one_line_per_problem(sandbox, tmp_path,
                                                                                        capsys):
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps({**sandbox.connection("customerio-app"), "rate_limits": {"app": {"per": 0}}}))
    code = main(["call", "customerio-app.raw_http_request", "--input", '{"method": "GET", "endpoint": "/segments"}',
                 "--connection", f"@{conn}"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "/rate_limits/app/per: must be a positive number of seconds" in err
    assert "Traceback" not in out + err and sandbox.journal() == []
