"""Fixtures for the Celery tests: the app on the test Redis, and a long-lived worker `a` on the session sandbox."""

from __future__ import annotations

import importlib
import os

import pytest
from workers import Worker


def connection_env(sandbox) -> dict[str, str]:
    """`RELAYKIT_<REF>_*` for the references the tests use: only workers hold the credentials."""
    track, app = sandbox.connection("customerio-track"), sandbox.connection("customerio-app")
    env = {f"RELAYKIT_LOADTEST_{k.upper()}": str(v) for k, v in track.items()}
    env |= {f"RELAYKIT_APPTEST_{k.upper()}": str(v) for k, v in app.items()}
    return env


@pytest.fixture(scope="session")
def celery_app(redis_server):
    """The `celery_app` module (app, relaykit) bound to the test Redis."""
    os.environ["RELAYKIT_TEST_BROKER"] = redis_server.url
    import celery_app as module

    return importlib.reload(module)


@pytest.fixture(scope="module")
def worker_a(celery_app, cio_sandbox, redis_server, tmp_path_factory):
    worker = Worker("a", {"RELAYKIT_TEST_BROKER": redis_server.url, **connection_env(cio_sandbox)},
                    tmp_path_factory.mktemp("celery") / "worker-a.log")
    try:
        worker.wait_ready(celery_app.app)
        yield worker
    finally:
        worker.stop()
