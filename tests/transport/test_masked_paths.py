"""Error and log URLs show the real path shape with identifiers masked (issue 10 item 7, issue 12 item 5)."""

from __future__ import annotations

import json
import logging

import pytest
from relaykit import NotFoundError, Runtime
from relaykit.automation import load_automation, run_automation
from relaykit.errors import CallError
from relaykit.redact import looks_like_identifier, mask_path

PERSON = "ada.lovelace@example.com"


@pytest.mark.parametrize(("segment", "masked"), [
    ("ada.lovelace@example.com", True), ("ada.lovelace%40example.com", True), ("8", True), ("u1", True),
    ("01HZY7K8Q4W9X2M5N6P3R1T0VA", True), ("123e4567-e89b-12d3-a456-426614174000", True), ("user_12", True),
    ("customers", False), ("attributes", False), ("v1", False), ("v2.1", False), ("api", False), ("", False),
    ("search_suppression", False),
])
def test_which_segments_look_like_identifiers(segment, masked):
    assert looks_like_identifier(segment) is masked


def test_mask_path_keeps_the_shape():
    assert mask_path(f"/v1/customers/{PERSON}/attributes") == "/v1/customers/***/attributes"
    assert mask_path("/campaigns/8/triggers/12") == "/campaigns/***/triggers/***"
    assert mask_path("/segments") == "/segments"


def debug_text(caplog):
    return "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)


def test_a_declared_operations_error_url_masks_its_parameters(rt, sandbox, caplog):
    sandbox.set_faults({"schedule": [{"kind": "status", "status": 422}]})
    with caplog.at_level(logging.DEBUG), pytest.raises(CallError) as info:
        rt.run("customerio-track.track_event", {"identifier": PERSON, "name": "signed_up"},
               sandbox.connection("customerio-track"))
    assert info.value.url.endswith("/customerio-track/us/api/v1/customers/***/events")
    text = str(info.value) + json.dumps(info.value.to_dict())
    assert "{" not in info.value.url and "…" not in text and "ada" not in text
    assert "/v1/customers/***/events" in debug_text(caplog) and "lovelace" not in debug_text(caplog)


def test_a_raw_path_with_an_unencoded_at_sign_is_masked_in_errors_and_debug_logs(rt, sandbox, caplog):
    with caplog.at_level(logging.DEBUG), pytest.raises(NotFoundError) as info:
        rt.run("customerio-app.raw_http_request", {"method": "GET", "endpoint": f"/customers/{PERSON}/attributes"},
               sandbox.connection("customerio-app"))
    assert info.value.url.endswith("/customerio-app/us/v1/customers/***/attributes")
    assert "lovelace" not in str(info.value) + json.dumps(info.value.to_dict())
    logs = debug_text(caplog)
    assert "GET /customerio-app/us/v1/customers/***/attributes HTTP/1.1" in logs  # urllib3's request line
    assert "relaykit.transport customerio-app.raw_http_request attempt 1: GET " in logs
    assert "lovelace" not in logs
    assert sandbox.journal()[-1]["target"].endswith(f"/customers/{PERSON}/attributes")  # sent as given


def test_a_percent_encoded_raw_path_uses_the_same_mask(rt, sandbox):
    with pytest.raises(NotFoundError) as info:
        rt.run("customerio-app.raw_http_request", {"method": "GET", "endpoint": "/customers/ada%40x.io/attributes"},
               sandbox.connection("customerio-app"))
    assert info.value.url.endswith("/v1/customers/***/attributes")


def test_a_webhook_steps_error_url_is_masked(echo_server, tmp_path):
    echo_server.status = 404
    path = tmp_path / "a.yaml"
    path.write_text("""\
spec_version: 1
name: t
steps:
  - id: notify
    uses: webhook
    with: {url: "{{ inputs.url }}", method: GET}
""", encoding="utf-8")
    with Runtime() as rt:
        result = run_automation(rt, load_automation(rt, path), {"url": f"{echo_server.url}/people/{PERSON}/42"}, {})
    error = result.steps["notify"].result.error
    assert error["url"] == f"{echo_server.url}/people/***/***" and "lovelace" not in json.dumps(error)
