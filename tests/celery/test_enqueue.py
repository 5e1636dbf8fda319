"""What `RelaykitTasks` refuses or fixes at enqueue, before anything is published (no worker needed)."""

from __future__ import annotations

import json

import pytest
from relaykit import ConnectionConfigError, InputValidationError, UnknownOperationError

QUEUE = "relaykit-nobody-consumes"


def queued(redis_server) -> list[dict]:
    import redis

    with redis.Redis.from_url(redis_server.url) as client:
        return [json.loads(raw) for raw in client.lrange(QUEUE, 0, -1)]


def test_a_secret_in_a_connection_is_refused_at_enqueue(celery_app, sandbox, redis_server):
    redis_server.flush()
    conn = sandbox.connection("customerio-track")
    with pytest.raises(ConnectionConfigError) as info:
        celery_app.relaykit.enqueue("customerio-track.track_event", {"identifier": "ada", "name": "e"}, conn,
                                    queue=QUEUE)
    problems = {p.pointer: p for p in info.value.problems}
    assert set(problems) == {"/api_key"}  # site_id, region and sandbox_url are not secret
    assert "broker" in problems["/api_key"].message and "RELAYKIT_CUSTOMERIO_TRACK_API_KEY" in problems["/api_key"].hint
    assert conn["api_key"] not in str(info.value)
    assert queued(redis_server) == []


def test_a_reference_goes_into_the_broker_and_the_dedupe_id_is_fixed_there(celery_app, redis_server):
    redis_server.flush()
    celery_app.relaykit.enqueue("customerio-track.track_event", {"identifier": "ada", "name": "e"},
                                {"ref": "loadtest", "rate_limits": {"track": {"requests": 5}}}, queue=QUEUE)
    [message] = queued(redis_server)
    args, _, _ = json.loads(__import__("base64").b64decode(message["body"]))
    operation, event, connection = args
    assert operation == "customerio-track.track_event"
    assert connection == {"ref": "loadtest", "fields": {"rate_limits": {"track": {"requests": 5}}}}
    assert len(event["event_id"]) == 26  # a ULID, chosen once: every delivery resends it


@pytest.mark.parametrize("operation, input, connection, error, pointer", [
    ("customerio-track.track_evnt", {"identifier": "a", "name": "e"}, "x", UnknownOperationError, None),
    ("customerio-track.track_event", {"identifier": "a"}, "x", InputValidationError, "/name"),
    ("customerio-track.track_event", {"identifier": "a", "name": "e"}, {"ref": "x", "site": "1"},
     ConnectionConfigError, "/site"),
    ("customerio-track.track_event", {"identifier": "a", "name": "e"}, {"rate_limits": {"trak": {}}},
     ConnectionConfigError, "/rate_limits/trak"),
])
def test_bad_calls_fail_at_enqueue_with_nothing_published(celery_app, redis_server, operation, input, connection,
                                                          error, pointer):
    redis_server.flush()
    with pytest.raises(error) as info:
        celery_app.relaykit.enqueue(operation, input, connection, queue=QUEUE)
    if pointer:
        assert pointer in [p.pointer for p in info.value.problems]
    if error is UnknownOperationError:
        assert "customerio-track.track_event" in info.value.suggestions
    assert queued(redis_server) == []


def test_an_unsafe_operation_without_a_claim_store_is_refused_at_enqueue():
    from celery import Celery
    from relaykit import Runtime, SettingsError
    from relaykit.celery import RelaykitTasks

    tasks = RelaykitTasks(Celery("no-redis", broker="memory://"), runtime=Runtime)
    assert tasks.claims is None
    with pytest.raises(SettingsError) as info:
        tasks.signature("customerio-app.trigger_broadcast", {"broadcast_id": 1}, "prod")
    assert "at most once" in str(info.value) and "claims=RedisClaims" in str(info.value)
    tasks.signature("customerio-track.track_event", {"identifier": "a", "name": "e"}, "prod")  # keyed: fine


def test_an_automation_is_checked_at_enqueue(celery_app, redis_server):
    from pathlib import Path

    from relaykit import ConnectionConfigError
    from relaykit.automation.model import AutomationInputError

    redis_server.flush()
    path = str(Path(__file__).resolve().parents[2] / "examples" / "onboard_user.yaml")
    with pytest.raises(AutomationInputError) as bad:  # inputs against the automation's schema
        celery_app.relaykit.enqueue_automation(path, {"user_id": "ada"}, {"track": "loadtest"}, queue=QUEUE)
    assert [p.pointer for p in bad.value.problems] == ["/email"]
    with pytest.raises(ConnectionConfigError) as info:
        celery_app.relaykit.enqueue_automation(path, {"user_id": "ada", "email": "ada@example.com"},
                                               {"app": {"api_key": "x" * 24}}, queue=QUEUE)
    assert [p.pointer for p in info.value.problems] == ["/api_key"]
    assert queued(redis_server) == []


@pytest.mark.parametrize("input, mode", [
    ({"method": "GET", "endpoint": "/customers/a/attributes"}, "safe"),
    ({"method": "POST", "endpoint": "/campaigns/1/triggers", "body": {"json": {}}}, "unsafe"),
    ({"method": "POST", "endpoint": "/campaigns/1/triggers", "body": {"json": {}}, "retry_unsafe": True}, "safe"),
])
def test_a_raw_request_is_claimed_as_its_rendered_request_would_be(celery_app, input, mode):
    from relaykit.celery.tasks import call_mode

    assert call_mode(celery_app.relaykit.runtime.operation("customerio-app.raw_http_request"), input) == mode
