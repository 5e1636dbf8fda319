"""The Celery app the tests' workers load (`celery -A celery_app worker`) and the tests enqueue through.

Everything comes from the environment, so worker processes and the test process agree:
`RELAYKIT_TEST_BROKER` (the test Redis), `RELAYKIT_TEST_READ_TIMEOUT` (seconds, default 2: longer
than the sandbox's stalls, so a worker never gives up on a request the loaded sandbox has yet to
handle; a request the server sees after its client gave up and its place freed is outside what a
client-side limiter can promise). Each call gets 5.5 s, then Celery retries it. Connections come
from `RELAYKIT_<REF>_*` on the workers.
"""

from __future__ import annotations

import os

from celery import Celery
from relaykit import Runtime
from relaykit.celery import RelaykitTasks
from relaykit.transport.ratelimit_redis import RedisStore

BROKER = os.environ.get("RELAYKIT_TEST_BROKER", "redis://127.0.0.1:6379/0")
VISIBILITY = 8  # seconds before Redis hands an unacknowledged task (a dead worker's) to another worker

app = Celery("relaykit_tests", broker=BROKER, backend=BROKER)
app.conf.update(
    task_serializer="json", result_serializer="json", accept_content=["json"], result_expires=600,
    broker_transport_options={"visibility_timeout": VISIBILITY, "unacked_restore_interval": 1,
                              "unacked_restore_throttle": 1},
    broker_connection_retry_on_startup=True, worker_prefetch_multiplier=2, worker_hijack_root_logger=False,
)


def make_runtime() -> Runtime:
    read = float(os.environ.get("RELAYKIT_TEST_READ_TIMEOUT", "2"))
    return Runtime(rate_limit_store=RedisStore(BROKER), timeouts={"read": read, "total": max(5.5, read + 2)},
                   retry={"max_attempts": 10, "initial": 0.05, "max": 0.5})


relaykit = RelaykitTasks(app, runtime=make_runtime)
