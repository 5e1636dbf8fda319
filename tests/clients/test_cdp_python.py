"""The Data Pipelines Python client (`customerio-cdp-analytics`, pinned) against the sandbox over HTTPS.

The client runs in its own process with only its own packages importable (see
requirements-cdp-python.txt for why), and is given only `host`: it posts to `{host}/v1/batch`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _drive(sb, target: Path, write_key: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PYTHONPATH=str(target), REQUESTS_CA_BUNDLE=sb.ca_bundle)
    host = sb.host_info()["customerio-pipelines"]["us"]["url"]
    proc = subprocess.run([sys.executable, "-S", str(HERE / "drive_cdp_python.py")],
                          input=json.dumps({"host": host, "write_key": write_key}), capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_every_call_lands_in_the_workspace(client_sandbox, app, cdp_python_path):
    report = _drive(client_sandbox, cdp_python_path, client_sandbox.credentials["pipelines_api_key"])
    assert report["errors"] == [] and all(report["sync"])
    assert report["customerio_package"].startswith(str(cdp_python_path))  # the official client is not in sight
    state = client_sandbox.state()
    kinds = [c["type"] for c in state["pipelines_calls"]]
    assert kinds[:7] == ["identify", "track", "page", "screen", "group", "alias", "track"]  # the retry deduplicated
    assert kinds.count("identify") == 3 and kinds.count("track") == 2 + 5 + 1
    ada = app.customer("ada")
    assert ada["attributes"]["plan"] == "pro" and ada["attributes"]["email"] == "ada@example.com"
    assert app.customer("bo")["attributes"]["email"] == "bo@example.com"
    assert app.customer("cy")["attributes"]["email"] == "cy@example.com"
    events = {e["name"]: e for e in state["events"]}
    backfill = int(datetime(2024, 3, 1, 12, tzinfo=timezone.utc).timestamp())
    assert events["Order Completed"]["timestamp"] == backfill and events["Order Completed"]["customer_id"] == "ada"
    assert events["Pricing"]["type"] == "page" and events["Home"]["type"] == "screen"
    assert events["Viewed"]["anonymous_id"] == "anon-8" and events["Viewed"]["customer_id"] is None
    assert [r["identifiers"]["object_id"] for r in app.get("/customers/ada/relationships")["cio_relationships"]] == [
        "acme"]
    assert state["aliases"][0]["previousId"] == "anon-7"
    journal = client_sandbox.journal()
    assert {e["target"] for e in journal if e["connector"] == "customerio-pipelines"} == {"/v1/batch"}
    assert any(e["headers"].get("Content-Encoding") == "gzip" for e in journal)
    assert {e["outcome"] for e in journal} <= {"ok", "duplicate"}


def test_region_prefixed_key_is_sent_as_bearer_and_accepted(own_sandbox, cdp_python_path):
    sb = own_sandbox(pipelines_api_key="pk_us_sandboxkey")
    report = _drive(sb, cdp_python_path, "pk_us_sandboxkey")
    assert report["errors"] == []
    assert {e["headers"]["Authorization"] for e in sb.journal()} == {"Bearer ***"}
    assert len(sb.state()["people"]) == 3


def test_wrong_key_is_reported_through_the_clients_on_error(own_sandbox, cdp_python_path):
    sb = own_sandbox()
    report = _drive(sb, cdp_python_path, "not-the-key")
    assert report["errors"] and all("401" in e["error"] for e in report["errors"])
    assert sb.state()["people"] == []
