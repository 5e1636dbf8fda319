"""The official Node clients (customerio-node 4.4 and 5.2, @customerio/cdp-analytics-node 0.5.9) over HTTPS.

Installed by `npm ci` from tests/clients/node (pinned by its package-lock.json) and driven by
tests/clients/node/drive.js through their documented options only: `url` (and, for 4.x whose
`https.request` ignores the URL's port, `port`) or `host`; the CA from NODE_EXTRA_CA_CERTS.
Skipped, with the reason shown, where node or npm is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
from client_helpers import AppReader

DRIVER = Path(__file__).resolve().parent / "node" / "drive.js"


@pytest.fixture(scope="module")
def run(https_sandbox, node_modules):
    """Reset the sandbox, run every Node client once, and keep what came back."""
    sb = https_sandbox
    sb.set_faults(None)
    sb.set_rate_limits(False)
    sb.reset()
    env = dict(os.environ, NODE_PATH=str(node_modules), NODE_EXTRA_CA_CERTS=sb.ca_bundle)
    config = {"hosts": sb.host_info(), "credentials": sb.credentials}
    proc = subprocess.run([shutil.which("node"), str(DRIVER)], input=json.dumps(config), capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    return {"sb": sb, "results": out["results"], "app": AppReader(sb)}


def _calls(run, client: str) -> dict[str, list[dict]]:
    calls: dict[str, list[dict]] = {}
    for r in run["results"]:
        if r["client"] == client:
            calls.setdefault(r["name"], []).append(r)
    return calls


def test_every_call_succeeds_except_the_channels_the_workspace_lacks(run):
    failed = [(r["client"], r["name"], r.get("status")) for r in run["results"] if not r["ok"]]
    assert failed == [("customerio-node@4", "sendInboxMessage", 403), ("customerio-node@4", "sendInApp", 403)]
    assert len(run["results"]) == 66


def test_node4_track_calls_land(run):
    app = run["app"]
    ada = app.customer("n4-ada")
    assert ada["attributes"]["plan"] == "pro" and ada["attributes"]["city"] == "Rome"  # merged from n4-bo
    assert [d["id"] for d in ada["devices"]] == ["n4-tok2"]
    assert app.status("/customers/n4-bo/attributes") == 404 and app.status("/customers/n4-gone/attributes") == 404
    assert app.status("/customers/n4-cy/attributes") == 404  # suppress deleted it; unsuppress restores nothing
    assert all(r["id"] != "n4-cy" for r in run["sb"].state()["suppressions"])  # and unsuppress released it
    events = [(e["name"], e["type"], e["customer_id"]) for e in run["sb"].state()["events"]
              if e["name"] in ("purchased", "viewed", "https://example.com/")]
    assert events == [("purchased", "event", "n4-ada"), ("viewed", "event", None),
                      ("https://example.com/", "page", "n4-ada")]


def test_node4_legacy_trigger_path_is_served(run):
    journal = run["sb"].journal()
    legacy = [e for e in journal if e["target"] == "/v1/api/campaigns/1/triggers"]
    assert len(legacy) == 1 and legacy[0]["status"] == 200 and legacy[0]["connector"] == "customerio-app"
    trigger_id = _calls(run, "customerio-node@4")["triggerBroadcast"][0]["body"]["id"]
    status = run["app"].get(f"/campaigns/1/triggers/{trigger_id}")
    assert status["processed_at"] is not None
    messages = run["app"].get("/customers/n4-ada/messages")["messages"]
    assert any(m["broadcast_id"] == 1 for m in messages)


def test_node4_app_reads_and_exports(run):
    calls = _calls(run, "customerio-node@4")
    assert calls["getCustomersByEmail"][0]["body"]["results"][0]["id"] == "n4-ada"
    assert calls["getAttributes"][0]["body"]["customer"]["attributes"]["email"] == "n4-ada@example.com"
    assert calls["createCustomersExport"][0]["body"]["export"]["type"] == "customers"
    assert calls["createDeliveriesExport"][0]["body"]["export"]["type"] == "deliveries"
    assert [e["id"] for e in calls["listExports"][0]["body"]["exports"]] == [1, 2]
    assert calls["getExport"][0]["body"]["export"]["status"] == "done"
    assert calls["downloadExport"][0]["body"]["url"].endswith("/_sandbox/exports/1")
    email = calls["sendEmail"][0]["body"]["delivery_id"]
    message = run["app"].get(f"/messages/{email}")["message"]
    assert "opened" in message["metrics"]  # trackPush reported the open


def test_node5_track_app_and_pipelines_land(run):
    app = run["app"]
    sb = run["sb"]
    ada = app.customer("n5-ada")
    assert ada["attributes"]["tier"] == "gold"  # from n5-bo, set by batch, merged in
    segments = {s["id"] for s in app.get("/customers/n5-ada/segments")["segments"]}
    assert 2 in segments and 1 not in segments
    calls = _calls(run, "customerio-node@5")
    assert calls["getAccountRegion"][0]["body"]["url"] == sb.host_url("customerio-track", "us")
    email = calls["sendEmail"][0]["body"]["delivery_id"]
    metrics = app.get(f"/messages/{email}")["message"]["metrics"]
    assert {"clicked", "opened"} <= set(metrics)
    assert app.customer("n5-ada")["unsubscribed"] is True  # unsubscribe(delivery) attributes it to n5-ada
    assert app.customer("n5-form@example.com", id_type="email")["identifiers"]["email"] == "n5-form@example.com"
    cdp = app.customer("n5-cdp")
    assert cdp["attributes"]["plan"] == "team"
    events = {e["name"]: e for e in sb.state()["events"]}
    assert events["n5 cdp event"]["timestamp"] == int(datetime(2024, 3, 1, 12, tzinfo=timezone.utc).timestamp())
    assert {"n5 page", "n5 screen", "n5 batched", "n5_entity", "n5_event"} <= set(events)
    targets = {e["target"] for e in sb.journal() if e["connector"] == "customerio-pipelines"}
    assert {"/v1/identify", "/v1/track", "/v1/page", "/v1/screen", "/v1/group", "/v1/alias", "/v1/batch"} <= targets


def test_cdp_analytics_node_posts_batches_from_the_host_root(run):
    app = run["app"]
    sb = run["sb"]
    assert app.customer("na-ada")["attributes"]["email"] == "na@example.com"
    events = {e["name"]: e for e in sb.state()["events"]}
    assert events["na event"]["timestamp"] == int(datetime(2024, 3, 1, 12, tzinfo=timezone.utc).timestamp())
    assert events["na page"]["type"] == "page" and events["na screen"]["type"] == "screen"
    relationships = app.get("/customers/na-ada/relationships")["cio_relationships"]
    assert [r["identifiers"]["object_id"] for r in relationships] == ["na-org"]
    agents = {e["headers"].get("User-Agent") for e in sb.journal() if e["target"] == "/v1/batch"}
    assert "cdp-analytics-node/latest" in agents
