"""The campaign and broadcast action operations through the runtime, against the sandbox over loopback HTTP.

An update is read back, a broadcast sent afterwards carries it and is paged through; bad input is
refused before anything is sent, and the App's 404 and 400 answers become relaykit errors.
"""

from __future__ import annotations

import pytest
from relaykit import ClientError, InputValidationError, NotFoundError


def _app(sandbox):
    return sandbox.connection("customerio-app")


def test_an_updated_action_is_what_the_next_broadcast_sends(rt, sandbox):
    for i in (1, 2, 3):
        rt.run("customerio-track.create_or_update_customer",
               {"identifier": f"u{i}", "attributes": {"email": f"u{i}@example.com"}}, sandbox.connection(
                   "customerio-track"))
    update = {"broadcast_id": 8, "action_id": 81, "subject": "Spring sale", "sending_state": "automatic",
              "headers": [{"name": "X-Mailgun-Tag", "value": "spring"}]}
    stored = rt.run("customerio-app.update_broadcast_action", update, _app(sandbox)).output["action"]
    assert stored["subject"] == "Spring sale"
    read = rt.run("customerio-beta.get_broadcast_action", {"broadcast_id": 8, "action_id": 81},
                  sandbox.connection("customerio-beta")).output["action"]
    assert read == stored
    rt.run("customerio-app.trigger_broadcast", {"broadcast_id": 8, "ids": ["u1", "u2", "u3"]}, _app(sandbox))
    pager = rt.paginate("customerio-app.list_broadcast_messages", {"broadcast_id": 8, "limit": 2}, _app(sandbox))
    messages = list(pager)
    assert len(messages) == 3 and pager.stopped_by == "end"
    assert {m["subject"] for m in messages} == {"Spring sale"} and {m["action_id"] for m in messages} == {81}
    metrics = rt.run("customerio-app.get_broadcast_action_metrics", {"broadcast_id": 8, "action_id": 81},
                     _app(sandbox)).output
    assert metrics["metric"]["series"]["sent"] == [3]


@pytest.mark.parametrize(("operation", "data", "pointer"), [
    ("update_campaign_action", {"campaign_id": 4, "action_id": 41, "sending_state": "paused"}, "/sending_state"),
    ("update_campaign_action", {"campaign_id": 4, "action_id": 41, "from": "me@example.com"}, "/from"),
    ("update_broadcast_action", {"broadcast_id": 8, "action_id": 81, "headers": [{"name": "X Tag", "value": "a"}]},
     "/headers/0/name"),
    ("get_campaign_action_translation", {"campaign_id": 4, "action_id": 41, "language": "french!"}, "/language"),
    ("list_campaign_messages", {"campaign_id": 4, "metric": "teleported"}, "/metric"),
    ("get_campaign_journey_metrics", {"campaign_id": 4}, "/resolution"),
    ("list_broadcast_actions", {"broadcast_id": 8, "limit": 101}, "/limit"),
])
def test_bad_input_is_refused_before_anything_is_sent(rt, sandbox, operation, data, pointer):
    before = len(sandbox.journal())
    with pytest.raises(InputValidationError) as info:
        rt.run(f"customerio-app.{operation}", data, _app(sandbox))
    assert pointer in {p.pointer for p in info.value.problems}
    assert len(sandbox.journal()) == before


def test_unknown_actions_and_languages_are_errors(rt, sandbox):
    with pytest.raises(NotFoundError):
        rt.run("customerio-app.get_campaign_action", {"campaign_id": 4, "action_id": 81}, _app(sandbox))
    with pytest.raises(ClientError) as info:
        rt.run("customerio-app.update_campaign_action_translation",
               {"campaign_id": 4, "action_id": 41, "language": "de", "subject": "Willkommen"}, _app(sandbox))
    assert info.value.status == 400
    assert all(t["language"] != "de" for t in sandbox.state()["action_translations"])
