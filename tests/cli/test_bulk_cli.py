"""`relaykit bulk`: files and stdin in, a summary or JSON out, dead letters, and exit 0 only when all landed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from relaykit.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_jsonl_file_all_delivered_exits_0_with_a_summary(sandbox, capsys, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps({"userId": f"u{i}", "event": "Signed Up"}) + "\n" for i in range(300)))
    conn = json.dumps(sandbox.connection("customerio-pipelines"))
    code, out, err = run_cli(capsys, "bulk", "customerio-pipelines.track", "--input", str(path), "--connection",
                             conn, "--batch-items", "100")
    assert code == 0, err
    assert "delivered" in out and "300" in out and "3 requests" in out
    assert len(sandbox.state()["pipelines_calls"]) == 300


def test_csv_with_a_bad_row_exits_1_and_names_the_row(sandbox, capsys, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("identifier,name,timestamp\nada,signed_up,1700000000\nbob,,1700000000\ncyd,left,soon\n")
    conn = json.dumps(sandbox.connection("customerio-track"))
    code, out, _ = run_cli(capsys, "bulk", "customerio-track.track_event", "--input", str(path), "--connection", conn,
                           "--json", "--no-progress")
    report = json.loads(out)
    assert code == 1 and (report["total"], report["delivered"], report["rejected"]) == (3, 1, 2)
    messages = [o["message"] for o in report["rejected_items"]]
    assert messages[0].startswith(f"{path}:3: customerio-track.track_event: invalid input: /name")
    assert messages[1].startswith(f"{path}:4: customerio-track.track_event: invalid input: /timestamp")
    assert [e["name"] for e in sandbox.state()["events"]] == ["signed_up"]


def test_failures_go_to_the_dead_letter_file_and_its_resend_exits_0(sandbox, capsys, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps({"userId": f"u{i}", "event": "E"}) + "\n" for i in range(10)))
    dead = tmp_path / "dead.jsonl"
    conn = json.dumps(sandbox.connection("customerio-pipelines"))
    sandbox.set_faults({"schedule": ["401"], "faults": {"401": {"kind": "status", "status": 401}}})
    code, out, _ = run_cli(capsys, "bulk", "customerio-pipelines.track", "-i", str(path), "-c", conn,
                           "--dead-letter", str(dead))
    assert code == 1 and f"dead letters: {dead} (10)" in out
    code, out, _ = run_cli(capsys, "bulk", "customerio-pipelines.track", "-i", str(dead), "-c", conn)
    assert code == 0 and len(sandbox.state()["pipelines_calls"]) == 10


def test_usage_problems_exit_2_before_anything_is_sent(sandbox, capsys, tmp_path):
    conn = json.dumps(sandbox.connection("customerio-track"))
    code, _, err = run_cli(capsys, "bulk", "customerio-track.delete_customer", "-i", "-", "-c", conn)
    assert code == 2 and "declares no batch" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "bulk", "customerio-track.track_evnt", "-i", "-", "-c", conn)
    assert code == 2 and "track_event" in err
    code, _, err = run_cli(capsys, "bulk", "customerio-track.track_event", "-i", str(tmp_path / "nope.jsonl"),
                           "-c", conn)
    assert code == 2 and "cannot read the input" in err
    assert sandbox.journal() == []


def test_stdin_json_array_through_a_real_process(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "relaykit")
    items = json.dumps([{"userId": f"u{i}", "event": "E"} for i in range(50)])
    proc = subprocess.run([exe, "bulk", "customerio-pipelines.track", "--input", "-", "--sandbox", "--json"],
                          input=items, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["total"], report["delivered"], report["requests"]) == (50, 50, 1)
    assert "bulk:" not in proc.stderr  # progress lines only every few seconds, never a bar without a terminal
