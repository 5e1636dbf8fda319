"""One of the processes of tests/transport/test_ratelimit_redis.py: calls as fast as a limit shared in Redis allows.

Reads its settings as JSON on stdin (`redis`, `connection`, `operation`, `input`, `start`, `seconds`,
`threads`), waits for the wall-clock `start`, calls until `start + seconds`, and prints
`{"sent": n, "errors": {name: n}}` (error class names only) on stdout.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter

from relaykit import Runtime
from relaykit.transport.ratelimit_redis import RedisStore


def main() -> None:
    cfg = json.load(sys.stdin)
    runtime = Runtime(rate_limit_store=RedisStore(cfg["redis"]), timeouts={"total": 30})
    counts: Counter = Counter()
    lock = threading.Lock()
    stop_at = cfg["start"] + cfg["seconds"]

    def worker() -> None:
        while time.time() < stop_at:
            try:
                runtime.run(cfg["operation"], cfg["input"], cfg["connection"])
                key = "sent"
            except Exception as exc:  # reported by name: the test fails on any
                key = type(exc).__name__
            with lock:
                counts[key] += 1

    time.sleep(max(0.0, cfg["start"] - time.time()))
    threads = [threading.Thread(target=worker) for _ in range(cfg["threads"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runtime.close()
    print(json.dumps({"sent": counts.pop("sent", 0), "errors": dict(counts)}))


if __name__ == "__main__":
    main()
