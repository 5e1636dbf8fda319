"""P4: cold start of `relaykit connectors` vs a bare `python -c "import requests, jsonschema, pluggy, yaml"`.

Both are fresh interpreters started the same way (the venv's python), run alternately; the figure
is the median over runs of each pair's ratio. The figure is taken with bytecode caches warm, as
after `pip install` (which compiles every module): `PYTHONDONTWRITEBYTECODE` is dropped and
`PYTHONPYCACHEPREFIX` points both commands at one temporary cache that the warm-up runs fill, so
nothing is written into the source tree. When the inherited environment forbids bytecode caches
(an editable checkout with `PYTHONDONTWRITEBYTECODE=1`, where relaykit's own sources are compiled on
every start but its dependencies' installed caches are still used), that case is measured too and
reported for context.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench.stats import summarise

DEPS = "import requests, jsonschema, pluggy, yaml"


def commands() -> dict[str, list[str]]:
    script = os.path.join(os.path.dirname(sys.executable), "relaykit")
    relaykit = [script, "connectors"] if os.path.exists(script) else \
        [sys.executable, "-c", "import sys; from relaykit.cli import main; sys.exit(main())", "connectors"]
    return {"relaykit": relaykit, "deps": [sys.executable, "-c", DEPS]}


def _time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def _measure(runs: int, env: dict[str, str]) -> tuple[dict[str, Any], dict[str, float]]:
    cmds = commands()
    for _ in range(2):  # fill the bytecode cache and the OS file cache
        for argv in cmds.values():
            _time(argv, env)
    ratios, times = [], {"relaykit": [], "deps": []}
    for index in range(runs):
        order = ("relaykit", "deps") if index % 2 == 0 else ("deps", "relaykit")
        took = {name: _time(cmds[name], env) for name in order}
        for name in took:
            times[name].append(took[name])
        ratios.append(took["relaykit"] / took["deps"])
    return summarise(ratios), {name: statistics.median(values) * 1e6 for name, values in times.items()}


def _figure(label: str, spread: dict[str, Any], context: dict[str, float], *, scored: bool = True) -> dict[str, Any]:
    return {"id": "P4", "figure": f"cold start: relaykit connectors / python -c 'import deps' ({label})",
            "kind": "ratio", "value": spread["median"], "spread": spread, "target": 1.3,
            "target_text": "<= 1.30x" if scored else "(context)", "met": spread["median"] <= 1.3,
            "scored": scored, "context_us": context}


def run_cold(*, runs: int) -> list[dict[str, Any]]:
    figures = []
    with tempfile.TemporaryDirectory(prefix="relaykit-bench-pyc-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        figures.append(_figure("bytecode cached", *_measure(runs, env)))
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPYCACHEPREFIX"}
        figures.append(_figure("PYTHONDONTWRITEBYTECODE=1, as inherited", *_measure(runs, env), scored=False))
    return figures
