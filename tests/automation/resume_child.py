"""A child process for the automation resume tests: one journaled run, its outcome as JSON on stdout.

    python resume_child.py AUTOMATION JOURNAL RUN_ID CONNECTIONS INPUTS
"""

from __future__ import annotations

import json
import sys

from relaykit import Runtime
from relaykit.automation import run_automation


def main(argv: list[str]) -> int:
    path, journal, run_id, connections, inputs = argv
    runtime = Runtime()
    run = run_automation(runtime, path, json.loads(inputs), json.loads(connections), journal=journal, run_id=run_id)
    outcome = {"ok": run.ok, "steps": {sid: step.outcome for sid, step in run.steps.items()},
               "error": run.error.cause.to_dict() if run.error else None}
    print(json.dumps(outcome))
    return 0 if run.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
