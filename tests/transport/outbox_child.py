"""A child process for the durable-outbox kill tests: submit to a `DeliveryQueue` with a store, or drain one.

    python outbox_child.py submit STORE CONNECTION KIND PREFIX COUNT RATE DEADLINE [THREADS]
    python outbox_child.py drain STORE CONNECTION KIND

`submit` paces COUNT submits at RATE per second over THREADS submitting threads (default 1),
writes `ack TAG` to stdout (unbuffered) as each `submit` returns accepted, then waits to be
signalled; at exit it writes `report {...}`. `drain` opens the store, sends what an earlier run
left, and writes `report {...}`. KIND is `track` (a keyed Track event, no id given: the queue
fixes it) or `send` (a transactional email through raw HTTP, unsafe). STORE `-` runs the queue
without a store.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time

from relaykit import Runtime
from relaykit.delivery.queue import DeliveryQueue

OPERATIONS = {"track": "customerio-track.track_event", "send": "customerio-app.raw_http_request"}


def make_item(kind: str, tag: str) -> dict:
    if kind == "track":
        return {"identifier": "kill-person", "name": "kill_event", "data": {"tag": tag}}
    return {"method": "POST", "endpoint": "/send/email",
            "body": {"json": {"to": "kill@example.com", "from": "relay@example.com", "subject": tag, "body": "hi"}}}


def say(line: str) -> None:
    os.write(1, (line + "\n").encode())  # one write(2) per line: nothing sits in a buffer at SIGKILL


def main(argv: list[str]) -> int:
    mode, store, connection, kind = argv[:4]
    runtime = Runtime()
    queues: list[DeliveryQueue] = []
    atexit.register(lambda: queues and say("report " + json.dumps(queues[0].report().to_dict())))  # after the flush
    deadline = float(argv[7]) if mode == "submit" else 5.0
    queue = DeliveryQueue(runtime, OPERATIONS[kind], json.loads(connection), workers=4, exit_deadline=deadline,
                          store=None if store == "-" else store)
    queues.append(queue)
    if mode == "drain":
        queue.flush(timeout=60)
        queue.shutdown(deadline=5)
        return 0
    prefix, count, rate = argv[4], int(argv[5]), float(argv[6])
    threads = int(argv[8]) if len(argv) > 8 else 1
    started = time.monotonic()

    def submit(first: int) -> None:
        for n in range(first, count, threads):  # thread i takes items i, i + threads, ...
            tag = f"{prefix}-{n}"
            if queue.submit(make_item(kind, tag), block=True, timeout=5):
                say(f"ack {tag}")
            pause = started + (n + 1) / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)

    workers = [threading.Thread(target=submit, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    say("submitted")
    time.sleep(120)  # until signalled
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
