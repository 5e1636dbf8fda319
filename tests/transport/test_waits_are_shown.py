"""Long waits and retries are reported as they happen, in human units (issue 10, item 6)."""

from __future__ import annotations

import json
import logging

import pytest
from relaykit import Runtime
from relaykit.automation import load_automation, run_automation
from relaykit.cli import main
from relaykit.cli.log import stderr_log
from relaykit.transport.waits import human_duration, log_wait


def wait_records(caplog):
    return [r for r in caplog.records if hasattr(r, "relaykit_wait") and r.name.startswith("relaykit.")]


@pytest.mark.parametrize(("seconds", "text"), [
    (0.0123, "12.3 ms"), (0.9994, "999.4 ms"), (1.0, "1.0 s"), (10.2, "10.2 s"), (20.2528, "20.3 s"),
    (59.9, "59.9 s"), (120, "2 min"), (125.4, "2 min 5 s"),
])
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


def test_only_waits_worth_mentioning_are_info():
    logger = logging.getLogger("relaykit.test_waits")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep(logging.DEBUG)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        log_wait(logger, 0.4, "short")
        log_wait(logger, 1.0, "long")
        log_wait(logger, 0.2, "a retry", retry=True)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (logging.DEBUG, "short, waiting 400.0 ms"), (logging.INFO, "long, waiting 1.0 s"),
        (logging.INFO, "a retry, waiting 200.0 ms")]


def test_a_second_broadcast_trigger_logs_its_rate_limit_wait(sandbox, caplog, clock):
    conn = sandbox.connection("customerio-app")
    with Runtime(clock=clock, sleep=clock.sleep) as rt, caplog.at_level(logging.INFO, logger="relaykit"):
        rt.run("customerio-app.trigger_broadcast", {"broadcast_id": 8}, conn)
        assert wait_records(caplog) == []  # the first one goes at once
        rt.run("customerio-app.trigger_broadcast", {"broadcast_id": 8}, conn)
    (record,) = wait_records(caplog)
    assert record.levelno == logging.INFO and record.relaykit_wait == pytest.approx(clock.sleeps[0])
    assert record.relaykit_wait >= 9.5
    message = record.getMessage()
    assert message.startswith("customerio-app.trigger_broadcast: client-side rate limit 'broadcast_trigger'")
    assert "(1 request per 10.0 s)" in message and message.endswith(f"waiting {human_duration(clock.sleeps[0])}")
    assert " ms" not in message


def test_a_transport_retry_is_logged_with_its_backoff(sandbox, caplog, clock):
    sandbox.set_faults({"schedule": ["503", None]})
    with Runtime(clock=clock, sleep=clock.sleep) as rt, caplog.at_level(logging.INFO, logger="relaykit"):
        rt.run("customerio-track.track_event", {"identifier": "u1", "name": "x"},
               sandbox.connection("customerio-track"))
    (record,) = wait_records(caplog)
    assert record.levelno == logging.INFO
    assert record.getMessage().startswith("customerio-track.track_event: attempt 1 of 4 got status 503; retrying, "
                                          "waiting ")


def test_a_step_retry_is_logged_with_its_delay(sandbox, caplog, tmp_path, clock):
    sandbox.set_faults({"schedule": ["500"] * 4 + [None]})
    path = tmp_path / "a.yaml"
    path.write_text("""\
spec_version: 1
name: t
connections:
  track: {connector: customerio-track, ref: cio-track}
steps:
  - id: upsert
    uses: customerio-track.create_or_update_customer
    retry: {max_attempts: 2, delay: 7}
    with: {identifier: "u1"}
""", encoding="utf-8")
    with Runtime(clock=clock, sleep=clock.sleep) as rt, caplog.at_level(logging.INFO, logger="relaykit"):
        result = run_automation(rt, load_automation(rt, path), {}, {"track": sandbox.connection("customerio-track")})
    assert result.ok
    step_waits = [r for r in wait_records(caplog) if r.name == "relaykit.automation"]
    assert [r.getMessage() for r in step_waits] == [
        "automation t: step upsert try 1 of 2 failed (ServerError); trying the step again, waiting 7.0 s"]


def test_the_cli_shows_retries_on_stderr(capsys, sandbox):
    sandbox.set_faults({"schedule": ["503", None]})
    code = main(["call", "customerio-track.track_event", "--input", '{"identifier": "u1", "name": "x"}',
                 "--connection", json.dumps(sandbox.connection("customerio-track"))])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["accepted"] is True
    lines = err.splitlines()
    assert lines[0].startswith("relaykit: customerio-track.track_event: attempt 1 of 4 got status 503; retrying, "
                               "waiting ")
    assert lines[-1].startswith("status 200, 2 attempt(s), ")
    assert len(lines) == 2  # nothing else of the log reaches the terminal


def test_the_cli_handler_shows_short_waits_only_with_debug(capsys):
    logger = logging.getLogger("relaykit.transport")
    for debug in (False, True):
        with stderr_log(debug):
            log_wait(logger, 0.3, "short")
            log_wait(logger, 2.5, "long")
            logger.info("not a wait")
            logger.warning("a warning")
        _, err = capsys.readouterr()
        expected = ["relaykit: long, waiting 2.5 s", "warning: a warning"]
        if debug:
            expected.insert(0, "relaykit: short, waiting 300.0 ms")
        assert err.splitlines() == expected
    assert not any(type(h).__name__ == "_StderrHandler" for h in logging.getLogger("relaykit").handlers)
