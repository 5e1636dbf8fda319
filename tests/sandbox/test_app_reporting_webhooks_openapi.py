"""Every reporting webhook the sandbox posts matches Customer.io's reporting-webhooks OpenAPI document.

The document (tests/data/openapi/customerio-reporting-webhooks.json, OpenAPI 3.1, so JSON Schema
2020-12) is read with `oneOf` as `anyOf` (tests/openapi_relaxed.py) and one addition: SMS, WhatsApp
and the other channels draw their `data` from `other_event_common_data`, which lacks the
"Transactional message" branch that `event_common_data` (email, push) has, although the App API
sends SMS transactionally. The test adds that branch, copied from `event_common_data`, and proves
it is needed: without it the sandbox's transactional SMS events fail.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import requests
from canary_scan import APP_BEARER
from jsonschema import Draft202012Validator
from openapi_relaxed import any_of
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from webhook_catcher import Catcher

DOCUMENT = Path(__file__).parents[1] / "data" / "openapi" / "customerio-reporting-webhooks.json"
BODY = "#/webhooks/reportingWebhook/post/requestBody/content/application~1json/schema"
EVENTS = [f"{channel}_{metric}" for channel in ("email", "push", "sms") for metric in
          ("drafted", "sent", "delivered", "failed")]


def validator(patched: bool = True) -> Draft202012Validator:
    raw = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    schemas = raw["components"]["schemas"]
    if patched:
        [transactional] = [b for b in schemas["event_common_data"]["oneOf"] if b["title"] == "Transactional message"]
        schemas["other_event_common_data"]["oneOf"].append(copy.deepcopy(transactional))
    uri = "urn:relaykit-test:openapi:reporting-webhooks"
    registry = Registry().with_resource(uri, Resource(any_of(raw), DRAFT202012))
    return Draft202012Validator({"$ref": uri + BODY}, registry=registry)


@pytest.fixture(scope="module")
def posted():
    """Every kind of event the sandbox produces, as posted to a webhook that asked for all of them."""
    from relaykit.sandbox import Sandbox

    with Sandbox(processing_delay=0.0, webhook_retry_delays=(0.05,)) as sb, Catcher() as catcher:
        app = sb.base_urls["customerio-app"]["us"]
        track = sb.connection("customerio-track")

        def call(method: str, url: str, body: dict, **kw) -> None:
            response = requests.request(method, url, json=body, timeout=10, **kw)
            assert response.status_code == 200, response.text

        def send(channel: str, body: dict) -> None:
            call("POST", f"{app}/send/{channel}", body, headers={"Authorization": APP_BEARER})

        call("POST", f"{app}/reporting_webhooks", {"name": "all", "endpoint": catcher.url, "events": EVENTS},
             headers={"Authorization": APP_BEARER})
        call("PUT", f"{sb.base_urls['customerio-track']['us']}/v1/customers/gone",
             {"email": "gone@example.com", "unsubscribed": True}, auth=(track["site_id"], track["api_key"]))
        send("email", {"transactional_message_id": 1, "to": "ada@example.com", "identifiers": {"id": "ada"}})
        send("email", {"to": "bo@example.com", "from": "us@example.com", "subject": "Hi", "body": "<p>hi</p>"})
        send("email", {"transactional_message_id": 1, "to": "gone@example.com", "identifiers": {"id": "gone"},
                       "send_to_unsubscribed": False})
        send("email", {"transactional_message_id": 1, "to": "ada@example.com", "identifiers": {"email":
                       "ada@example.com"}, "queue_draft": True})
        send("push", {"transactional_message_id": 2, "identifiers": {"id": "ada"},
                      "custom_device": {"token": "tok-ios", "platform": "ios"}})
        send("push", {"transactional_message_id": 2, "identifiers": {"id": "ada"}, "to": "tok-ios"})
        send("push", {"transactional_message_id": 2, "identifiers": {"id": "nodevice"}})
        send("push", {"transactional_message_id": 2, "identifiers": {"id": "gone"}, "send_to_unsubscribed": False})
        send("sms", {"transactional_message_id": 3, "identifiers": {"id": "ada"}, "to": "+15555550100"})
        send("sms", {"transactional_message_id": 3, "identifiers": {"id": "gone"}, "to": "+15555550101",
                     "send_to_unsubscribed": False})
        call("POST", f"{app}/campaigns/1/triggers", {"ids": ["ada"]}, headers={"Authorization": APP_BEARER})
        results = sb.webhook_results(wait=10)
        assert {r["state"] for r in results} == {"delivered"}
        yield catcher.events()


def test_every_payload_the_sandbox_posts_matches_the_document(posted):
    kinds = {(e["object_type"], e["metric"]) for e in posted}
    assert kinds == {("email", "drafted"), ("email", "sent"), ("email", "delivered"), ("email", "failed"),
                     ("push", "sent"), ("push", "delivered"), ("push", "failed"), ("sms", "sent"),
                     ("sms", "delivered"), ("sms", "failed")}
    assert any("broadcast_id" in e["data"] for e in posted)
    assert any(e["data"].get("recipients") == [{"device_id": "tok-ios", "device_platform": "ios"}] for e in posted)
    check = validator()
    problems = [(e["object_type"], e["metric"], error.message) for e in posted for error in check.iter_errors(e)]
    assert problems == []


def test_the_check_can_fail(posted):
    check = validator()
    sent = next(e for e in posted if (e["object_type"], e["metric"]) == ("email", "sent"))
    assert check.is_valid(sent)
    for broken in ({**sent, "timestamp": "now"}, {**sent, "data": {k: v for k, v in sent["data"].items()
                                                                    if k != "subject"}},
                   {**sent, "data": {k: v for k, v in sent["data"].items() if k != "identifiers"}}):
        assert not check.is_valid(broken)
    sms = [e for e in posted if e["object_type"] == "sms"]
    assert sms and not any(validator(patched=False).is_valid(e) for e in sms)  # why the branch is added
