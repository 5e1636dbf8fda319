"""P4: cold start of `relaykit connectors` vs a bare `python -c "import requests, jsonschema, pluggy, yaml"`.

Both are fresh interpreters started the same way (the venv's python, bytecode caches warm), run
alternately; the figure is the median over runs of each pair's ratio.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from typing import Any

from bench.stats import summarise

DEPS = "import requests, jsonschema, pluggy, yaml"


def commands() -> dict[str, list[str]]:
    script = os.path.join(os.path.dirname(sys.executable), "relaykit")
    relaykit = [script, "connectors"] if os.path.exists(script) else \
        [sys.executable, "-c", "import sys; from relaykit.cli import main; sys.exit(main())", "connectors"]
    return {"relaykit": relaykit, "deps": [sys.executable, "-c", DEPS]}


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def run_cold(*, runs: int) -> dict[str, Any]:
    cmds = commands()
    for argv in cmds.values():  # warm the bytecode and the OS file cache
        _time(argv)
    ratios, times = [], {"relaykit": [], "deps": []}
    for index in range(runs):
        order = ("relaykit", "deps") if index % 2 == 0 else ("deps", "relaykit")
        took = {name: _time(cmds[name]) for name in order}
        for name in took:
            times[name].append(took[name])
        ratios.append(took["relaykit"] / took["deps"])
    spread = summarise(ratios)
    return {"id": "P4", "figure": "cold start: relaykit connectors / python -c 'import deps'", "kind": "ratio",
            "value": spread["median"], "spread": spread, "target": 1.3, "target_text": "<= 1.30x",
            "met": spread["median"] <= 1.3,
            "context_us": {name: statistics.median(values) * 1e6 for name, values in times.items()}}
