"""Tasks on a real worker: results are `Result.to_dict()`, a `RateLimitError` becomes a retry after its
`retry_after`, and an unsafe call whose worker died mid-send is not sent again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import connection_env
from relaykit.celery import NotResentError
from workers import Worker


def test_the_result_is_result_to_dict(celery_app, worker_a, sandbox):
    result = celery_app.relaykit.enqueue("customerio-track.track_event", {"identifier": "ada", "name": "e"},
                                         "loadtest").get(timeout=30)
    assert set(result) == {"connector", "operation", "status", "output", "request_id", "attempts", "elapsed"}
    assert (result["operation"], result["status"], result["attempts"]) == ("track_event", 200, 1)
    assert len(sandbox.state()["events"]) == 1


def test_a_rate_limit_error_is_retried_by_celery_after_its_retry_after(celery_app, worker_a, sandbox):
    # 6 s is past the worker's call deadline (5.5 s), so the call ends with RateLimitError(retry_after=6)
    sandbox.set_faults({"schedule": {"customerio-track": [{"kind": "429", "retry_after": "6"}]}})
    result = celery_app.relaykit.enqueue("customerio-track.track_event", {"identifier": "ada", "name": "e"},
                                         "loadtest").get(timeout=40)
    assert result["status"] == 200 and result["attempts"] == 1  # the Celery retry's own call
    first, second = sandbox.journal()
    assert (first["status"], second["status"]) == (429, 200)
    assert 6 <= second["time"] - first["time"] < 12
    assert len(sandbox.state()["events"]) == 1


@pytest.mark.slow
def test_an_unsafe_call_is_not_resent_after_its_worker_died_mid_send(celery_app, worker_a, sandbox, redis_server,
                                                                     tmp_path):
    # the trigger reaches the sandbox, which stalls; its worker is killed before any answer
    sandbox.set_faults({"schedule": {"customerio-app": [{"kind": "stall", "seconds": 3}]}})
    victim = Worker("victim", {"RELAYKIT_TEST_BROKER": redis_server.url, "RELAYKIT_TEST_READ_TIMEOUT": "30",
                               **connection_env(sandbox)}, tmp_path / "victim.log", queues="victim")
    try:
        victim.wait_ready(celery_app.app)
        task = celery_app.relaykit.enqueue("customerio-app.trigger_broadcast", {"broadcast_id": 1}, "apptest",
                                           queue="victim")
        deadline = time.monotonic() + 30
        while celery_app.relaykit.claims.state(task.id) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        while sandbox.stats()["requests"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        victim.kill()
    finally:
        victim.stop()
    assert celery_app.relaykit.claims.state(task.id) == "sending"  # it died holding the claim
    celery_app.app.control.add_consumer("victim", destination=["a@127.0.0.1"], reply=True)
    with pytest.raises(NotResentError):  # redelivered after the visibility timeout, and refused
        task.get(timeout=60, propagate=True)
    time.sleep(3.5)  # the stalled request has ended
    triggers = [e for e in sandbox.journal() if e["connector"] == "customerio-app"]
    assert len(triggers) == 1  # sent once, never again


def test_an_automation_runs_by_name_with_connections_by_reference(celery_app, worker_a, sandbox):
    path = str(Path(__file__).resolve().parents[2] / "examples" / "onboard_user.yaml")
    app = {"ref": "apptest", "rate_limits": {"broadcast_trigger": False}}  # 1 per 10 s, and other tests trigger too
    task = celery_app.relaykit.enqueue_automation(path, {"user_id": "ada", "email": "ada@example.com"},
                                                  {"track": "loadtest", "app": app})
    run = task.get(timeout=30)
    assert run["ok"] is True and run["outputs"]["person"] == "ada"
    assert run["outputs"]["welcome_trigger_id"]  # the unsafe step ran, under the task's claim
    assert celery_app.relaykit.claims.state(task.id) == "settled"
    assert [e["connector"] for e in sandbox.journal()] == ["customerio-track"] * 2 + ["customerio-app"]
