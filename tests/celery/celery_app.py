"""The Celery app the tests' workers load (`celery -A celery_app worker`) and the tests enqueue through.

Everything comes from the environment, so worker processes and the test process agree:
`RELAYKIT_TEST_BROKER` (the test Redis), `RELAYKIT_TEST_READ_TIMEOUT` (seconds, default 0.5: a
stalled sandbox answer is abandoned quickly). Connections come from `RELAYKIT_<REF>_*` on the workers.
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
    read = float(os.environ.get("RELAYKIT_TEST_READ_TIMEOUT", "0.5"))
    return Runtime(rate_limit_store=RedisStore(BROKER), timeouts={"read": read, "total": max(5.0, read + 5)},
                   retry={"max_attempts": 10, "initial": 0.05, "max": 0.5})


relaykit = RelaykitTasks(app, runtime=make_runtime)
