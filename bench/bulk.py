"""P3 and P5: bulk delivery. Throughput of `relaykit bulk` against the official CDP client and a bare batch loop,
Track v2 batching against single calls, and the memory of a 1,000,000-line backfill.

Every variant runs in its own process, as a user would run it: `relaykit bulk` through its console
script, the official `customerio-cdp-analytics` client from a `pip install --target` folder the
bench prepares (it ships a `customerio/__init__.py` that would shadow the `customerio` package the
other benchmarks use), and the bare loop as a plain `requests` script. They take turns, round by
round, against one sandbox process with its rate limits on; the sandbox is reset between runs.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

from bench.sandbox import Target, running
from bench.stats import summarise

ROOT = Path(__file__).resolve().parents[1]
CDP_CLIENT = "customerio-cdp-analytics==1.1.0"
CDP_DIR = ROOT / "bench" / ".cdp-client"  # git-ignored; prepared once with pip install --target

OFFICIAL = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from customerio.analytics import Client
events = [json.loads(line) for line in open(sys.argv[2])]
failures = []
client = Client(write_key=sys.argv[3], host=sys.argv[4], max_queue_size=len(events) + 1, upload_size=100,
                on_error=lambda error, batch: failures.append(len(batch)))
started = time.perf_counter()
for e in events:
    client.track(user_id=e["userId"], event=e["event"], properties=e["properties"], message_id=e["messageId"])
client.flush()
client.join()
print(json.dumps({"seconds": time.perf_counter() - started, "failed": sum(failures)}))
"""

BARE = r"""
import base64, json, sys, threading, time, requests
events = [json.dumps({**json.loads(line), "type": "track"}, separators=(",", ":")).encode()
          for line in open(sys.argv[1], "rb") if line.strip()]
url, key, workers = sys.argv[2], sys.argv[3], int(sys.argv[4])
batches, current, size = [], [], 12
for e in events:  # pre-encoded bodies of at most 500 KB, packed before the clock starts
    if size + len(e) + 1 > 512000:
        batches.append(b'{"batch":[' + b",".join(current) + b"]}")
        current, size = [], 12
    current.append(e)
    size += len(e) + 1
batches.append(b'{"batch":[' + b",".join(current) + b"]}")
auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
headers = {"Authorization": auth, "Content-Type": "application/json"}
todo, lock, bad = list(batches), threading.Lock(), []
def work():
    s = requests.Session()
    s.trust_env = False
    while True:
        with lock:
            if not todo:
                return
            body = todo.pop()
        r = s.post(url, data=body, headers=headers, timeout=(5, 60))
        if r.status_code != 200:
            bad.append(r.status_code)
started = time.perf_counter()
threads = [threading.Thread(target=work) for _ in range(workers)]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps({"seconds": time.perf_counter() - started, "failed": len(bad), "requests": len(batches)}))
"""


def _write_events(path: Path, n: int, tag: str) -> None:
    with path.open("w") as out:
        for i in range(n):
            out.write(json.dumps({"userId": f"user{i % 1000:04d}", "event": "Order Completed",
                                  "properties": {"order_id": f"{tag}-{i:07d}", "total": 49.5, "currency": "EUR",
                                                 "items": 3}, "messageId": f"{tag}-{i:07d}"}) + "\n")


def _sandbox_call(target: Target, path: str, method: str = "GET") -> Any:
    with urlopen(Request(f"{target.root}/_sandbox/{path}", method=method), timeout=60) as resp:
        return json.loads(resp.read())


def _relaykit_exe() -> str:
    return str(Path(sys.executable).with_name("relaykit"))


def prepare_official(quiet: bool = True) -> Path | None:
    """The official CDP client in its own `--target` folder (installed once); None if it cannot be had."""
    marker = CDP_DIR / "customerio" / "analytics" / "client.py"
    if marker.exists():
        return CDP_DIR
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target",
                           str(CDP_DIR), CDP_CLIENT], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not marker.exists():
        if not quiet:
            print(proc.stderr[-2000:], file=sys.stderr)
        return None
    return CDP_DIR


def _process_cpu(pid: int | None) -> float:
    """User + system CPU seconds a running process has used so far (0 when unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_json(argv: list[str], usage: dict[str, float] | None = None) -> dict[str, Any]:
    """Run `argv`, return its JSON stdout; with `usage`, add the child's own CPU seconds (from wait4) to it."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, rusage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode()
        if proc.returncode not in (0, 1) or not text.strip():
            raise RuntimeError(f"{Path(argv[0]).name} {argv[1] if len(argv) > 1 else ''} exited {proc.returncode}: "
                               f"{err.read()[-800:]!r}")
    if usage is not None:
        usage["client"] = usage.get("client", 0.0) + rusage.ru_utime + rusage.ru_stime
    return json.loads(text)


def _relaykit_bulk(target: Target, operation: str, connector: str, events: Path, conn_file: Path,
                   usage: dict[str, float] | None = None) -> dict[str, Any]:
    conn_file.write_text(json.dumps(target.connection(connector)))
    started = time.perf_counter()
    report = _run_json([_relaykit_exe(), "bulk", operation, "--input", str(events), "--connection",
                        f"@{conn_file}", "--no-progress", "--json"], usage)
    report["wall"] = time.perf_counter() - started
    if report["delivered"] != report["total"]:
        raise RuntimeError(f"relaykit bulk delivered {report['delivered']} of {report['total']}")
    return report


def _ratio(fid: str, figure: str, ratios: list[float], target: float, context: dict[str, float]) -> dict[str, Any]:
    spread = summarise(ratios)
    return {"id": fid, "figure": figure, "kind": "ratio", "value": spread["median"], "spread": spread,
            "target": target, "target_text": f">= {target:g}x", "met": spread["median"] >= target,
            "context_text": ", ".join(f"{k} {v:,.0f}/s" for k, v in context.items())}


def run_pipelines(*, n: int, rounds: int, mode: str) -> list[dict[str, Any]]:
    """P3 Pipelines: relaykit bulk vs the official client vs pre-encoded batches posted by bare requests."""
    official_dir = prepare_official()
    rates: dict[str, list[float]] = {"relaykit": [], "official": [], "bare": []}
    walls: list[float] = []  # relaykit's whole process, startup included
    cpu: dict[str, list[tuple[float, float]]] = {"relaykit": [], "official": [], "bare": []}  # (client, sandbox)
    too_many = 0
    with tempfile.TemporaryDirectory() as tmp, running(mode, rate_limits=True) as target:
        conn_file = Path(tmp) / "conn.json"
        key = target.credentials["pipelines_api_key"]
        host = target.base_urls["customerio-pipelines"]["us"]
        for r in range(rounds):
            order = ["relaykit", "official", "bare"]
            order = order[r % 3:] + order[:r % 3]
            for name in order:
                if name == "official" and official_dir is None:
                    continue
                events = Path(tmp) / f"{name}-{r}.jsonl"
                _write_events(events, n, f"{name}{r}")
                _sandbox_call(target, "reset", "POST")
                usage: dict[str, float] = {}
                server_before = _process_cpu(target.pid)
                if name == "relaykit":
                    report = _relaykit_bulk(target, "customerio-pipelines.track", "customerio-pipelines", events,
                                            conn_file, usage)
                    seconds = report["elapsed"]  # first item read to last confirmed, like the official timing
                    walls.append(report["wall"])
                elif name == "official":
                    out = _run_json([sys.executable, "-c", OFFICIAL, str(official_dir), str(events), key, host],
                                    usage)
                    seconds = out["seconds"]
                else:
                    out = _run_json([sys.executable, "-c", BARE, str(events), host + "/v1/batch", key, "4"], usage)
                    seconds = out["seconds"]
                cpu[name].append((usage["client"], _process_cpu(target.pid) - server_before))
                stats = _sandbox_call(target, "stats")
                landed = stats["writes"]["customerio-pipelines"]
                too_many += int(stats["statuses"].get("429", 0))
                if landed != n:
                    raise RuntimeError(f"P3: {name} landed {landed} of {n} events")
                rates[name].append(n / seconds)
                events.unlink()
    med = {k: statistics.median(v) for k, v in rates.items() if v}
    figures = []
    if rates["official"]:
        figures.append(_ratio("P3", f"relaykit bulk / official customerio-cdp-analytics, {n:,} Pipelines track "
                              "events (items/s)", [a / b for a, b in zip(rates["relaykit"], rates["official"],
                                                                          strict=True)], 2.0,
                              {"relaykit": med["relaykit"], "official": med["official"]}))
    ceiling = [a / b for a, b in zip(rates["relaykit"], rates["bare"], strict=True)]
    figures.append(_ratio("P3", f"relaykit bulk / bare requests posting pre-encoded 500 KB batches, {n:,} events "
                          "(the ingest ceiling)", ceiling, 0.8, {"relaykit": med["relaykit"], "bare": med["bare"]}))
    figures[-1]["context_text"] += f"; relaykit process wall {statistics.median(walls):.1f}s (startup included)"
    for name, pairs in cpu.items():
        if pairs and target_pid_known(pairs):
            client = statistics.median(c for c, _ in pairs)
            server = statistics.median(s for _, s in pairs)
            figures.append({"id": "P3", "figure": f"CPU seconds for {n:,} events, {name}: its process + the "
                            "sandbox's",
                            "kind": "count", "value": round(client + server, 2),
                            "spread": summarise([round(client + server, 2)]), "target": None,
                            "target_text": "(context)", "met": None, "scored": False,
                            "context_text": f"client {client:.2f} s (startup and file reading included), "
                                            f"sandbox {server:.2f} s"})
    figures.append({"id": "P3", "figure": "HTTP 429 answers provoked (client and sandbox rate limits on)",
                    "kind": "count", "value": too_many, "spread": summarise([too_many]), "target": 0,
                    "target_text": "0", "met": too_many == 0, "context_text": ""})
    return figures


def target_pid_known(pairs: list[tuple[float, float]]) -> bool:
    """The sandbox's CPU is known only when it ran as a process of its own."""
    return any(server > 0 for _, server in pairs)


def run_track(*, n: int, singles: int, mode: str) -> list[dict[str, Any]]:
    """P3 Track: track_event through Track v2 /batch vs single calls paced at the declared 100 req/s."""
    from relaykit import Runtime
    from relaykit.delivery import deliver

    with tempfile.TemporaryDirectory() as tmp, running(mode, rate_limits=True) as target:
        events = Path(tmp) / "track.jsonl"
        with events.open("w") as out:
            for i in range(n):
                out.write(json.dumps({"identifier": f"user{i % 1000:04d}", "name": "order_completed",
                                      "data": {"order_id": f"o-{i:07d}", "total": 49.5}}) + "\n")
        report = _relaykit_bulk(target, "customerio-track.track_event", "customerio-track", events,
                                Path(tmp) / "conn.json")
        batch_rate = n / report["elapsed"]
        rt = Runtime()
        try:
            conn = target.connection("customerio-track")
            items = [{"identifier": f"user{i % 1000:04d}", "name": "order_completed", "data": {"n": i}}
                     for i in range(singles)]
            deliver(rt, "customerio-track.track_event", items[:100], conn, workers=8)  # the bucket's burst, spent
            started = time.perf_counter()
            single = deliver(rt, "customerio-track.track_event", items[100:], conn, workers=8)
            single_rate = single.delivered / (time.perf_counter() - started)
        finally:
            rt.close()
    return [_ratio("P3", f"Track v2 /batch via relaykit bulk / single track_event calls at the declared "
                   f"100 req/s ({n:,} batched, {singles - 100:,} single)", [batch_rate / single_rate], 50.0,
                   {"batched": batch_rate, "single": single_rate})]


class _Sink(BaseHTTPRequestHandler):
    """Reads each request whole and answers 200 {}: a server that costs the client nothing and keeps nothing."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


def _peak_rss_mb(argv: list[str]) -> tuple[float, dict[str, Any]]:
    """Run `argv`; its own peak RSS (from wait4, so no other child counts) and its JSON output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"P5: relaykit bulk exited {proc.returncode}: {err.read()[-800:]!r}")
        return usage.ru_maxrss / 1024, json.loads(out.read())


def run_memory(*, small: int, large: int) -> list[dict[str, Any]]:
    """P5: peak RSS of `relaykit bulk` on a `small` and a `large` JSONL backfill (each in its own process)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    peaks: dict[int, float] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            conn = Path(tmp) / "conn.json"
            conn.write_text(json.dumps({"api_key": "bench-key", "sandbox_url": f"http://127.0.0.1:{server.server_port}"}))
            for n in (small, large):
                events = Path(tmp) / f"backfill-{n}.jsonl"
                _write_events(events, n, f"m{n}")
                peaks[n], report = _peak_rss_mb([_relaykit_exe(), "bulk", "customerio-pipelines.track", "--input",
                                                 str(events), "--connection", f"@{conn}", "--no-progress", "--json"])
                if report["delivered"] != n:
                    raise RuntimeError(f"P5: delivered {report['delivered']} of {n}")
                events.unlink()
    finally:
        server.shutdown()
        server.server_close()
    growth = peaks[large] / peaks[small]
    return [
        {"id": "P5", "figure": f"peak RSS of relaykit bulk, {large:,}-line JSONL backfill (MB)", "kind": "mb",
         "value": peaks[large], "spread": summarise([peaks[large]]), "target": 150.0, "target_text": "<= 150 MB",
         "met": peaks[large] <= 150.0, "context_text": f"{small:,} lines: {peaks[small]:.1f} MB"},
        {"id": "P5", "figure": f"peak RSS at {large:,} lines / at {small:,} lines (flat)", "kind": "ratio",
         "value": growth, "spread": summarise([growth]), "target": 1.10, "target_text": "<= 1.10x",
         "met": growth <= 1.10, "context_text": ""},
    ]


def run_bulk(*, quick: bool, mode: str, sections: set[str]) -> list[dict[str, Any]]:
    """Every P3 and P5 figure the sections ask for (`quick`: tiny N, same code paths)."""
    figures: list[dict[str, Any]] = []
    if "P3" in sections:
        figures += run_pipelines(n=2_000 if quick else 100_000, rounds=1 if quick else 6, mode=mode)
        figures += run_track(n=2_000 if quick else 100_000, singles=150 if quick else 1_100, mode=mode)
    if "P5" in sections:
        figures += run_memory(small=2_000 if quick else 100_000, large=20_000 if quick else 1_000_000)
    return figures


if __name__ == "__main__":  # python -m bench.bulk: P3 and P5 alone
    quick = "--quick" in sys.argv
    for fig in run_bulk(quick=quick, mode="subprocess", sections={"P3", "P5"}):
        print(json.dumps({k: fig[k] for k in ("id", "figure", "value", "target_text", "met", "context_text")}))
    os._exit(0)
