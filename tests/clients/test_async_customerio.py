"""`async-customerio` (pinned) against the sandbox over HTTPS: it speaks only `https://{host}:{port}`.

Given only `host` and `port` (Track) and `url` (App); the CA comes from SSL_CERT_FILE. It runs in a
process of its own with its pinned httpx stack (requirements-async-customerio.txt).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_track_and_app_calls_land(client_sandbox, app, async_customerio_path):
    sb = client_sandbox
    track = sb.host_info()["customerio-track"]["us"]
    config = {"track": {"host": track["host"], "port": track["port"]},
              "app_url": sb.host_info()["customerio-app"]["us"]["url"], "credentials": sb.credentials}
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "SSL_CERT_DIR")}
    env.update(PYTHONPATH=str(async_customerio_path), SSL_CERT_FILE=sb.ca_bundle)
    proc = subprocess.run([sys.executable, "-S", str(HERE / "drive_async_customerio.py")], input=json.dumps(config),
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout)["results"]
    assert [r["name"] for r in results if not r["ok"]] == [], results
    ada = app.customer("as-ada")
    assert ada["attributes"]["plan"] == "pro" and ada["attributes"]["city"] == "Lima"  # merged from as-bo
    assert ada["devices"] == []
    assert app.status("/customers/as-gone/attributes") == 404
    region = next(r for r in results if r["name"] == "get_region")["body"]
    assert region["url"] == sb.host_url("customerio-track", "us")
    events = {e["name"]: e for e in sb.state()["events"]}
    assert events["as_backfill"]["timestamp"] == int(datetime(2024, 3, 1, tzinfo=timezone.utc).timestamp())
    assert {"as_event", "as_anon_event", "https://example.com/async", "as_v2"} <= set(events)
    assert 1 in {s["id"] for s in app.get("/customers/as-ada/segments")["segments"]}
    assert len(app.get("/customers/as-ada/messages")["messages"]) == 1
    assert "/api/v2/batch" in {e["target"] for e in sb.journal()}
