"""relaykit.delivery.bulk against the sandbox over real HTTP: exactly-once under faults for both batch endpoints,
207 mapping, bisecting a poison item, dead-letter resends, and counts that sum to the input."""

from __future__ import annotations

import json
import threading

import pytest
from relaykit.delivery.bulk import IN_FLIGHT, ITEM_REJECTED, NOT_SENT, bulk
from relaykit.delivery.dead_letters import DeadLetterFile
from relaykit.delivery.sources import open_records
from relaykit.errors import BulkError

TRACK, PIPES = "customerio-track", "customerio-pipelines"
FAULTS = {"preset": "F20", "seed": 13, "stall_seconds": 0.6}


def buckets_sum(report):
    assert report.dropped == 0 and report.pending == 0
    assert report.delivered + len(report.rejected) + len(report.failed) == report.total
    indexes = [o.index for o in report.rejected + report.failed]
    assert len(set(indexes)) == len(indexes)  # no item in two buckets


def v2_events(sandbox):
    return [e for e in sandbox.state()["events"] if e["source"] == "track-v2"]


def pipe_events(n, start=0):
    return [{"userId": f"person-{i % 50}", "event": "Backfilled", "properties": {"n": i},
             "messageId": f"msg-{i:06d}"} for i in range(start, start + n)]


def track_events(n):
    return [{"identifier": f"person-{i % 50}", "name": "backfilled", "data": {"n": i},
             "event_id": f"01HZY7K8Q4W9X2M5N6P{i:07d}"} for i in range(n)]


@pytest.mark.parametrize("connector,operation,items", [
    (PIPES, "track", pipe_events(3000)),
    (TRACK, "track_event", track_events(3000)),
])
def test_exactly_once_under_f20_with_reset_after_commit(sandbox, make_rt, connector, operation, items):
    sandbox.set_faults(FAULTS)
    rt = make_rt(speed=20.0, advance=False, timeouts={"read": 0.25}, retry={"max_attempts": 10})
    report = bulk(rt, f"{connector}.{operation}", iter(items), sandbox.connection(connector), batch_items=25)
    buckets_sum(report)
    assert (report.total, report.delivered) == (3000, 3000), report.failed[:3]
    assert report.requests == 120 and report.retried > 0
    stats = sandbox.stats()
    assert stats["faults"].get("reset_after", 0) > 0  # committed, then the answer was lost: resent
    assert stats["duplicates"][connector] > 0  # ... and absorbed by the fixed ids
    if connector == PIPES:
        landed = [c["messageId"] for c in sandbox.state()["pipelines_calls"]]
        assert sorted(landed) == sorted(i["messageId"] for i in items)
    else:
        landed = [e["dedupe_id"] for e in v2_events(sandbox)]
        assert sorted(landed) == sorted(i["event_id"] for i in items)


def test_ids_are_fixed_once_per_item_when_the_input_has_none(sandbox, make_rt):
    sandbox.set_faults({"schedule": ["reset_after", "reset_after", None, "reset_after"], "apis": [PIPES]})
    rt = make_rt(retry={"max_attempts": 6})
    items = [{"userId": f"p{i}", "event": "Signed Up"} for i in range(200)]
    letters = []
    report = bulk(rt, f"{PIPES}.track", items, sandbox.connection(PIPES), batch_items=50,
                  dead_letter=lambda item, outcome, attempts: letters.append(item))
    buckets_sum(report)
    assert report.delivered == 200 and report.requests == 4
    assert report.attempts == 4 + 3  # each reset after commit cost one more attempt, whichever request it hit
    calls = sandbox.state()["pipelines_calls"]
    assert len(calls) == 200 and len({c["messageId"] for c in calls}) == 200
    assert all("messageId" not in i for i in items)  # the caller's items are never modified


def test_207_maps_refused_items_back_to_their_inputs(sandbox, rt):
    items = track_events(300)
    poison = {7, 150, 299}
    for i in poison:
        items[i]["name"] = "   "  # valid for relaykit's schema; Customer.io refuses a blank event name
    report = bulk(rt, f"{TRACK}.track_event", items, sandbox.connection(TRACK), batch_items=100)
    buckets_sum(report)
    assert report.delivered == 297 and {o.index for o in report.rejected} == poison
    assert all(o.error == ITEM_REJECTED and "HTTP 207" in o.message and "name" in o.message
               for o in report.rejected)
    assert sorted(e["dedupe_id"] for e in v2_events(sandbox)) == sorted(
        it["event_id"] for i, it in enumerate(items) if i not in poison)
    assert sandbox.stats()["outcomes"].get("partial", 0) == 3


def test_207_for_identify_items_maps_to_the_person_over_the_attribute_limit(sandbox, rt):
    conn = sandbox.connection(TRACK)
    full = {f"a{i}": "x" for i in range(300)}
    rt.run(f"{TRACK}.create_or_update_customer", {"identifier": "full", "attributes": full}, conn)
    items = [{"identifier": f"p{i}", "attributes": {"plan": "pro"}} for i in range(20)]
    items[11] = {"identifier": "full", "attributes": {"one_more": "y"}}
    report = bulk(rt, f"{TRACK}.create_or_update_customer", items, conn)
    buckets_sum(report)
    assert report.delivered == 19 and [o.index for o in report.rejected] == [11]
    assert report.requests == 1


def test_bisecting_isolates_a_poison_item_the_api_refuses_with_its_whole_batch(sandbox, rt):
    items = pipe_events(64)
    items[37] = {"anonymousId": "anon-1", "event": "User Deleted", "messageId": "poison"}  # needs a userId
    report = bulk(rt, f"{PIPES}.track", items, sandbox.connection(PIPES))
    buckets_sum(report)
    assert report.delivered == 63 and [o.index for o in report.rejected] == [37]
    assert report.rejected[0].error == ITEM_REJECTED and "HTTP 400" in report.rejected[0].message
    assert report.splits == 6 and report.requests == 1 + 2 * 6  # log2(64) halvings, each one request more
    landed = sorted(c["messageId"] for c in sandbox.state()["pipelines_calls"])
    assert landed == sorted(i["messageId"] for i in items if i["messageId"] != "poison")


def test_dead_letters_resend_lands_each_item_once(sandbox, make_rt, tmp_path):
    conn = sandbox.connection(PIPES)
    items = pipe_events(400)
    # The first 3 requests get a 503 on every attempt: their items are dead-lettered, the rest land.
    sandbox.set_faults({"schedule": ["503"] * 6, "apis": [PIPES]})
    rt = make_rt(retry={"max_attempts": 2})
    dead = tmp_path / "dead.jsonl"
    with DeadLetterFile(str(dead)) as letters:
        first = bulk(rt, f"{PIPES}.track", items, conn, batch_items=40, workers=1, dead_letter=letters)
    buckets_sum(first)
    assert len(first.failed) == 120 and first.delivered == 280
    lines = [json.loads(line) for line in dead.read_text().splitlines()]
    assert sorted(r["index"] for r in lines) == sorted(o.index for o in first.failed)
    assert all(r["error"] == "ServerError" and r["attempts"] == 2 and r["item"] == items[r["index"]]
               for r in lines)
    sandbox.set_faults(None)
    records, fmt, stream = open_records(str(dead))
    with stream:
        again = bulk(rt, f"{PIPES}.track", records, conn)
    assert fmt == "jsonl" and (again.total, again.delivered) == (120, 120)
    landed = [c["messageId"] for c in sandbox.state()["pipelines_calls"]]
    assert sorted(landed) == sorted(i["messageId"] for i in items)  # each once, none twice
    # resending the same file once more lands nothing new: the ids were fixed before the first send
    records, _, stream = open_records(str(dead))
    with stream:
        bulk(rt, f"{PIPES}.track", records, conn)
    assert len(sandbox.state()["pipelines_calls"]) == 400


def test_a_stopped_run_accounts_for_every_item_read(sandbox, rt, tmp_path):
    stop = threading.Event()
    letters = []

    def items():
        for i, item in enumerate(pipe_events(5000)):
            if i == 1234:
                stop.set()
            yield item

    report = bulk(rt, f"{PIPES}.track", items(), sandbox.connection(PIPES), batch_items=100, stop=stop,
                  dead_letter=lambda item, outcome, attempts: letters.append(outcome))
    buckets_sum(report)
    assert report.stopped == "stopped" and report.total == 1235
    assert len(sandbox.state()["pipelines_calls"]) == report.delivered
    assert all(o.error in (NOT_SENT, IN_FLIGHT) for o in letters)


def test_keyboard_interrupt_dead_letters_what_was_read_then_propagates(sandbox, rt):
    letters = []

    def items():
        yield from pipe_events(150)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bulk(rt, f"{PIPES}.track", items(), sandbox.connection(PIPES), batch_items=100,
             dead_letter=lambda item, outcome, attempts: letters.append((item, outcome)))
    delivered = len(sandbox.state()["pipelines_calls"])
    assert delivered + len(letters) == 150
    assert {o.error for _, o in letters} <= {NOT_SENT, IN_FLIGHT} and len(letters) >= 50


def test_an_operation_without_batch_is_refused_before_anything_is_sent(sandbox, rt):
    with pytest.raises(BulkError, match=r"declares no batch.*these can: .*customerio-track\.track_event"):
        bulk(rt, f"{TRACK}.delete_customer", [{"identifier": "x"}], sandbox.connection(TRACK))
    assert sandbox.journal() == []
