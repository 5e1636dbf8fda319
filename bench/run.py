"""Run every benchmark, print the table and write the figures as JSON.

    python -m bench                 # the full run (about 2 minutes on 2 cores)
    python -m bench --quick         # the CI smoke: tiny N, same code paths, < 30 s
    python -m bench --json out.json --sandbox inprocess --only P1,P2

Exit status: 0 when the run completed (missed targets are reported, not failed: timing is not a
test), 2 on bad usage, 1 when a benchmark could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_JSON = ROOT / "bench" / "results" / "latest.json"
SECTIONS = ("P1", "P2", "P3", "P4", "P5", "S-lat", "stages", "D1")  # P1 includes P1b, D1 includes D1b

FULL = {"rounds": 9, "calls": 300, "warmup": 50, "dry_calls": 1000, "cold_runs": 15, "stage_calls": 200,
        "outbox_rounds": 5, "outbox_submits": 5000}
QUICK = {"rounds": 3, "calls": 15, "warmup": 5, "dry_calls": 40, "cold_runs": 3, "stage_calls": 10,
         "outbox_rounds": 1, "outbox_submits": 400}


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("relaykit", "requests", "urllib3", "jsonschema", "referencing", "pluggy", "PyYAML", "customerio"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        out["git"] = head + ("+dirty" if dirty else "") if head else None
    except (OSError, subprocess.SubprocessError):
        out["git"] = None
    return out


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "system": f"{platform.system()} {platform.release()}",
            "implementation": platform.python_implementation()}


def _fmt_value(fig: dict[str, Any]) -> tuple[str, str]:
    s = fig["spread"]
    if fig["kind"] == "ratio":
        return f"{s['median']:.3f}x", f"{s['min']:.3f}-{s['max']:.3f}"
    if fig["kind"] == "count":
        return f"{s['median']:g}", f"{s['min']:g}-{s['max']:g}"
    if fig["kind"] == "mb":
        return f"{s['median']:.1f} MB", f"{s['min']:.1f}-{s['max']:.1f}"
    if fig["kind"] == "rate":
        return f"{s['median']:,.0f}/s", f"{s['min']:,.0f}-{s['max']:,.0f}"
    sign = "+" if fig["kind"] == "difference_us" else ""
    return f"{s['median']:{sign}.1f} µs", f"{s['min']:{sign}.1f}..{s['max']:{sign}.1f}"


def _fmt_context(fig: dict[str, Any]) -> str:
    if "context_text" in fig:
        return fig["context_text"]
    if "context_rate" in fig:
        return ", ".join(f"{k} {v:,.0f}/s" for k, v in fig["context_rate"].items())
    ctx = fig.get("context_us") or {}
    if fig["id"] == "P4":
        return ", ".join(f"{k} {v / 1000:.0f} ms" for k, v in ctx.items())
    return ", ".join(f"{k} {v:.0f} µs" for k, v in ctx.items())


def table(figures: list[dict[str, Any]]) -> str:
    """The figures as a Markdown table (the same text goes into docs/performance.md)."""
    rows = [("id", "figure", "median", "spread (min-max over rounds)", "target", "met", "absolute medians (context)")]
    for fig in figures:
        value, spread = _fmt_value(fig)
        met = ("yes" if fig["met"] else "NO") if fig.get("scored", True) else "-"
        rows.append((fig["id"], fig["figure"], value, spread, fig["target_text"], met, _fmt_context(fig)))
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("---" for _ in rows[0]) + "|")
    return "\n".join(lines)


def stage_table(stages: dict[str, float]) -> str:
    lines = ["| stage of Runtime.run(track_event), or of one bulk item | µs |", "|---|---|"]
    lines += [f"| {name} | {value:.1f} |" for name, value in stages.items()]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="relaykit benchmarks (docs/performance.md)")
    parser.add_argument("--quick", action="store_true", help="tiny N: checks that every benchmark still runs")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH",
                        help=f"where to write the figures (default {DEFAULT_JSON.relative_to(ROOT)})")
    parser.add_argument("--sandbox", choices=("subprocess", "inprocess"), default="subprocess",
                        help="run the sandbox in its own process (default) or as threads in this one")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated subset of {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--rounds", type=int, help="override the number of rounds")
    parser.add_argument("--calls", type=int, help="override the calls per variant and round")
    args = parser.parse_args(argv)
    args.only = {part.strip() for part in args.only.split(",") if part.strip()}
    unknown = args.only - set(SECTIONS)
    if unknown:
        parser.error(f"--only: unknown section(s) {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    from bench import bulk, bulk_stages, calls, coldstart, dryrun, outbox, sandbox, stages

    args = parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL)
    if args.rounds:
        cfg["rounds"] = args.rounds
    if args.calls:
        cfg["calls"] = cfg["dry_calls"] = args.calls
    began = time.perf_counter()
    figures: list[dict[str, Any]] = []
    stage_us: dict[str, float] = {}
    rounds, warmup = cfg["rounds"], cfg["warmup"]

    def note(text: str) -> None:
        print(f"[{time.perf_counter() - began:6.1f}s] {text}", file=sys.stderr, flush=True)

    if args.only & {"P1", "S-lat", "stages"}:
        with sandbox.running(args.sandbox) as target:
            note(f"sandbox ({target.mode}) at {target.root}")
            if "S-lat" in args.only:
                note("S-lat: sandbox latency")
                figures.append(calls.run_sandbox_latency(target, rounds=rounds, calls=cfg["calls"], warmup=warmup))
            if "P1" in args.only:
                note("P1/P1b: calls against the sandbox")
                figures.extend(calls.run_calls(target, rounds=rounds, calls=cfg["calls"], warmup=warmup))
            if "stages" in args.only:
                note("stages of one call")
                stage_us = stages.run_stages(target, calls=cfg["stage_calls"], batches=3 if args.quick else 5)
    if "stages" in args.only:
        note("stages of one bulk item")
        stage_us.update(bulk_stages.run_bulk_stages(n=2_000 if args.quick else 100_000))
    if "P2" in args.only:
        note("P2: dry run vs compiled jsonschema + Request.prepare")
        figures.extend(dryrun.run_dry(rounds=rounds, calls=cfg["dry_calls"], warmup=warmup))
    if "P4" in args.only:
        note("P4: cold start")
        figures.extend(coldstart.run_cold(runs=cfg["cold_runs"]))
    if args.only & {"P3", "P5"}:
        note("P3/P5: bulk delivery throughput and backfill memory (each variant in its own process)")
        figures.extend(bulk.run_bulk(quick=args.quick, mode=args.sandbox, sections=args.only))
    if "D1" in args.only:
        note("D1: durable submits")
        figures.extend(outbox.run_outbox(rounds=cfg["outbox_rounds"], count=cfg["outbox_submits"]))
    order = {"P1": 0, "P1b": 1, "P2": 2, "P3": 3, "P4": 4, "P5": 5, "S-lat": 6, "D1": 7, "D1b": 8}
    figures.sort(key=lambda f: order.get(f["id"], 9))

    report = {
        "schema": 1,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "sandbox": args.sandbox,
        "config": cfg,
        "seconds": round(time.perf_counter() - began, 1),
        "machine": _machine(),
        "versions": _versions(),
        "figures": figures,
        "stages_us": stage_us,
    }
    print(table(figures))
    if stage_us:
        print()
        print(stage_table(stage_us))
    machine, versions = report["machine"], report["versions"]
    print(f"\n{machine['cpu']}, {machine['cores']} cores, {machine['system']}; "
          + ", ".join(f"{k} {v}" for k, v in versions.items() if v)
          + f"; sandbox {args.sandbox}; {'quick' if args.quick else 'full'} run in {report['seconds']} s")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
