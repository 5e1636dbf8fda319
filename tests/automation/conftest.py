"""Helpers for automation tests: a runtime on the fake clock (`clock`), sandbox connections, automation files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from relaykit import Runtime
from relaykit.automation import load_automation


@pytest.fixture
def fast_rt(clock):
    """A runtime whose waits (rate limits, backoff) advance a fake clock instead of sleeping."""
    runtime = Runtime(clock=clock, sleep=clock.sleep)
    yield runtime
    runtime.close()


@pytest.fixture
def conns(sandbox):
    """Connections named as in the examples, pointing at the sandbox."""
    return {"track": sandbox.connection("customerio-track"), "app": sandbox.connection("customerio-app")}


@pytest.fixture
def write(tmp_path):
    """Write an automation (dedented YAML) to a file and return its path."""
    counter = iter(range(1000))

    def _write(text: str, name: str | None = None) -> Path:
        path = tmp_path / (name or f"automation_{next(counter)}.yaml")
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def load(write):
    """Write and load an automation with a given runtime."""

    def _load(rt: Runtime, text: str):
        return load_automation(rt, write(text))

    return _load
