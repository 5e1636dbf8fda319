"""Runtime.paginate over the sandbox (real loopback HTTP), and its stops against a server that never ends."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from relaykit import InputValidationError, Runtime


@pytest.fixture
def people(sandbox):
    """Five people in manual segment 1, written through the Track API."""
    with Runtime() as rt:
        track = sandbox.connection("customerio-track")
        ids = [f"p{n}" for n in range(5)]
        for identifier in ids:
            rt.run("customerio-track.create_or_update_customer", {"identifier": identifier}, track)
        rt.run("customerio-track.add_to_segment", {"segment_id": 1, "ids": ids}, track)
    return ids


def test_every_item_once_across_pages(sandbox, people):
    with Runtime() as rt:
        walk = rt.paginate("customerio-app.list_segment_members", {"segment_id": 1, "limit": 2},
                           sandbox.connection("customerio-app"))
        members = list(walk)
    assert sorted(m["id"] for m in members) == people
    assert (walk.pages_read, walk.items_read, walk.stopped_by) == (3, 5, "end")
    targets = [urlsplit(e["target"]) for e in sandbox.journal() if "/membership" in e["target"]]
    starts = [parse_qs(t.query).get("start") for t in targets]
    assert starts[0] is None and all(starts[1:]) and len({s[0] for s in starts[1:]}) == 2  # each cursor sent once


def test_pages_are_results_and_search_pages_too(sandbox, people):
    with Runtime() as rt:
        walk = rt.paginate("customerio-app.search_customers", {"filter": {"segment": {"id": 1}}, "limit": 3},
                           sandbox.connection("customerio-app"))
        pages = list(walk.pages())
    assert [len(p.output["identifiers"]) for p in pages] == [3, 2]
    assert all(p.status == 200 for p in pages) and walk.stopped_by == "end"


@pytest.mark.parametrize(("limits", "expected", "stop"), [
    ({"max_items": 3}, 3, "max_items"), ({"max_pages": 2}, 4, "max_pages"), ({"max_items": 5}, 5, "max_items")])
def test_the_caller_s_stops(sandbox, people, limits, expected, stop):
    with Runtime() as rt:
        walk = rt.paginate("customerio-app.list_segment_members", {"segment_id": 1, "limit": 2},
                           sandbox.connection("customerio-app"), **limits)
        assert len(list(walk)) == expected
    assert walk.stopped_by == stop


class EndlessPages(BaseHTTPRequestHandler):
    """Answers every request with one item and a cursor: always the same one, or a new one each time."""

    fresh = False
    served = 0

    def do_GET(self):
        type(self).served += 1
        cursor = f"c{type(self).served}" if type(self).fresh else "again"
        body = json.dumps({"messages": [{"id": type(self).served}], "next": cursor}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def endless():
    server = ThreadingHTTPServer(("127.0.0.1", 0), EndlessPages)
    EndlessPages.served = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _conn(server):
    return {"api_key": "app-key-endless-pages-0001", "sandbox_url": f"http://127.0.0.1:{server.server_port}"}


def test_a_repeated_cursor_ends_the_walk(endless, caplog):
    EndlessPages.fresh = False
    with Runtime() as rt:
        walk = rt.paginate("customerio-app.list_messages", {}, _conn(endless))
        assert len(list(walk)) == 2  # the first page, then the page whose cursor repeats
    assert walk.stopped_by == "repeated_cursor" and EndlessPages.served == 2
    assert any("cursor it had sent before" in r.getMessage() for r in caplog.records)


def test_a_server_that_never_ends_stops_at_the_declared_max_pages(endless):
    EndlessPages.fresh = True
    clock = [0.0]  # the App class allows 10 calls a second: its waits advance this clock instead of sleeping
    with Runtime(clock=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s)) as rt:
        declared = rt.operation("customerio-app.list_messages").pagination.max_pages
        walk = rt.paginate("customerio-app.list_messages", {}, _conn(endless))
        assert len(list(walk)) == declared
    assert walk.stopped_by == "max_pages" and EndlessPages.served == declared


@pytest.mark.parametrize("bad", [{"max_pages": 0}, {"max_items": -1}, {"max_pages": True}, {"max_items": 1.5}])
def test_bad_stops_and_unpaged_operations_are_refused_before_sending(bad):
    with Runtime() as rt:
        with pytest.raises(InputValidationError):
            rt.paginate("customerio-app.list_messages", {}, {"api_key": "app-key-0001"}, **bad)
        with pytest.raises(InputValidationError, match="does not page"):
            rt.paginate("customerio-app.get_segment", {"segment_id": 1}, {"api_key": "app-key-0001"})
        assert rt.describe("customerio-app.list_messages")["pagination"]["cursor_input"] == "start"
