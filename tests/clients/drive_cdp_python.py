"""Drive the Data Pipelines Python client (`customerio-cdp-analytics`) through every public call.

Run by tests/clients/test_cdp_python.py in a process of its own (`python -S`, the client's pinned
packages on PYTHONPATH), so the official `customerio` package is not importable here. Reads
`{"host", "write_key"}` as JSON on stdin; the CA comes from REQUESTS_CA_BUNDLE. Prints one JSON
object: what each call returned and the errors the client reported.
"""

import json
import sys
from datetime import datetime, timezone

import customerio
from customerio import analytics
from customerio.analytics import Client

config = json.load(sys.stdin)
errors = []


def on_error(error, items):
    errors.append({"error": str(error), "items": len(items)})


def attempt(call, *args, **kwargs):
    """A sync-mode call raises on a refused request; record it like the queued client's on_error."""
    try:
        return call(*args, **kwargs)[0]
    except Exception as exc:
        errors.append({"error": str(exc), "items": 1})
        return False


report = {"customerio_package": customerio.__file__, "version": analytics.__version__}

# A client in sync mode: every call is one POST {host}/v1/batch.
sync = Client(config["write_key"], host=config["host"], sync_mode=True, on_error=on_error, max_retries=0)
backfill = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
report["sync"] = [
    attempt(sync.identify, "ada", {"email": "ada@example.com", "plan": "pro"}, message_id="m-identify"),
    attempt(sync.identify, "ada", {"email": "ada@example.com", "plan": "pro"}, message_id="m-identify"),  # a retry
    attempt(sync.track, "ada", "Order Completed", {"total": 42.5}, timestamp=backfill),
    attempt(sync.page, "ada", "Docs", "Pricing", {"url": "https://example.com/pricing"}),
    attempt(sync.screen, "ada", "App", "Home", {"build": 7}),
    attempt(sync.group, "ada", "acme", {"name": "Acme", "object_type_id": "1"}),
    attempt(sync.alias, "anon-7", "ada"),
    attempt(sync.track, anonymous_id="anon-8", event="Viewed", properties={"sku": "a1"}),
]

# The default queued client with gzip bodies: calls are batched by its consumer thread.
queued = Client(config["write_key"], host=config["host"], gzip=True, on_error=on_error, max_retries=0,
                upload_interval=0.05)
for n in range(5):
    queued.track("bo", "Tick", {"n": n})
queued.identify("bo", {"email": "bo@example.com"})
queued.flush()
queued.shutdown()

# The module-level API the client documents first.
analytics.write_key = config["write_key"]
analytics.host = config["host"]
analytics.on_error = on_error
analytics.max_retries = 0
analytics.identify("cy", {"email": "cy@example.com"})
analytics.track("cy", "Signed Up")
analytics.flush()
analytics.shutdown()

report["errors"] = errors
print(json.dumps(report))
