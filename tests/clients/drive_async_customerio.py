"""Drive `async-customerio` (Track v1/v2 and App sends) against the sandbox's HTTPS listeners.

Run by tests/clients/test_async_customerio.py in a process of its own (`python -S`, the client's
pinned packages on PYTHONPATH). Reads `{"track": {"host", "port"}, "app_url", "credentials"}` as
JSON on stdin; the CA comes from SSL_CERT_FILE, which httpx reads. Prints one JSON object: each
call's name and outcome.
"""

import asyncio
import json
import sys
from datetime import datetime, timezone

from async_customerio import AsyncAPIClient, AsyncCustomerIO, SendEmailRequest

config = json.load(sys.stdin)
creds = config["credentials"]
results = []


async def step(name, call):
    try:
        body = await call
        results.append({"name": name, "ok": True, "body": body})
    except Exception as exc:
        results.append({"name": name, "ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]})


async def main():
    track = AsyncCustomerIO(creds["site_id"], creds["track_api_key"], host=config["track"]["host"],
                            port=config["track"]["port"], retries=0)
    api = AsyncAPIClient(creds["app_api_key"], url=config["app_url"], retries=0)
    await step("identify", track.identify("as-ada", email="as-ada@example.com", plan="pro"))
    await step("track", track.track("as-ada", "as_event", total=3))
    await step("track_anonymous", track.track_anonymous("as-anon", "as_anon_event"))
    await step("pageview", track.pageview("as-ada", "https://example.com/async"))
    await step("backfill", track.backfill("as-ada", "as_backfill", datetime(2024, 3, 1, tzinfo=timezone.utc)))
    await step("add_device", track.add_device("as-ada", "as-tok", "ios", app_version="9"))
    await step("delete_device", track.delete_device("as-ada", "as-tok"))
    await step("identify", track.identify("as-bo", city="Lima"))
    await step("merge_customers", track.merge_customers("id", "as-ada", "id", "as-bo"))
    await step("add_to_segment", track.add_to_segment(1, ["as-ada"]))
    await step("get_region", track.get_region())
    await step("submit_form", track.submit_form("as-form", email="as-form@example.com"))
    await step("send_batch", track.v2.send_batch([{"type": "person", "action": "event",
                                                     "identifiers": {"id": "as-ada"}, "name": "as_v2"}]))
    await step("identify", track.identify("as-gone"))
    await step("delete", track.delete("as-gone"))
    await step("send_email", api.send_email(SendEmailRequest(transactional_message_id=1, to="as-ada@example.com",
                                                             identifiers={"id": "as-ada"})))
    for client in (track, api):
        close = getattr(client, "close", None) or getattr(client, "aclose", None)
        if close is not None:
            await close()


asyncio.run(main())
print(json.dumps({"results": results}, default=str))
