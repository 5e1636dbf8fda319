"""`relaykit check` and `relaykit call --all / --max-items`, against the sandbox over loopback HTTP."""

from __future__ import annotations

import json

from relaykit import Runtime
from relaykit.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_exit_codes_and_words(sandbox, capsys):
    track = sandbox.connection("customerio-track")
    code, out, _ = run_cli(capsys, "check", "customerio-track", "-c", json.dumps(track))
    assert code == 0 and out.startswith("ok: customerio-track: connected")
    code, _, err = run_cli(capsys, "check", "customerio-track", "-c", json.dumps({**track, "region": "eu"}))
    assert code == 1 and "lives in region 'us'" in err
    code, out, _ = run_cli(capsys, "check", "customerio-app", "--json", "-c",
                           json.dumps({**sandbox.connection("customerio-app"), "api_key": "not-the-key-0004"}))
    report = json.loads(out)
    assert code == 1 and report["ok"] is False and report["error"]["status"] == 401
    code, _, err = run_cli(capsys, "check", "customerio-trak", "-c", "{}")
    assert code == 2 and "customerio-track" in err  # the closest name is suggested


def test_call_all_walks_every_page(sandbox, capsys):
    with Runtime() as rt:
        ids = [f"p{n}" for n in range(5)]
        for identifier in ids:
            rt.run("customerio-track.create_or_update_customer", {"identifier": identifier},
                   sandbox.connection("customerio-track"))
        rt.run("customerio-track.add_to_segment", {"segment_id": 1, "ids": ids}, sandbox.connection("customerio-track"))
    app = json.dumps(sandbox.connection("customerio-app"))
    code, out, err = run_cli(capsys, "call", "customerio-app.list_segment_members", "-i",
                             '{"segment_id": 1, "limit": 2}', "-c", app, "--all")
    assert code == 0 and sorted(m["id"] for m in json.loads(out)) == ids and "from 3 page(s)" in err
    code, out, err = run_cli(capsys, "call", "customerio-app.list_segment_members", "-i",
                             '{"segment_id": 1, "limit": 2}', "-c", app, "--max-items", "3", "--json")
    assert code == 0 and len(json.loads(out)["items"]) == 3 and json.loads(out)["stopped_by"] == "max_items"
    code, _, err = run_cli(capsys, "call", "customerio-app.get_segment", "-i", '{"segment_id": 1}', "-c", app, "--all")
    assert code == 2 and "does not page" in err
