"""Real Celery worker processes for the tests: `celery -A celery_app worker` on the thread pool, loopback only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


class Worker:
    """One `celery worker` process; `kill()` is SIGKILL, as when a machine dies."""

    def __init__(self, name: str, env: dict[str, str], log: Path, concurrency: int = 8,
                 queues: str = "celery") -> None:
        self.name = name
        self.log = log
        full_env = {**os.environ, **env, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "-P", "threads", "-c", str(concurrency),
                 "-n", f"{name}@127.0.0.1", "-Q", queues, "--without-gossip", "--without-mingle", "--without-heartbeat",
                 "-l", "warning"], cwd=HERE, env=full_env, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, app, timeout: float = 60) -> None:
        """Until the worker answers a ping over the broker."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            replies = app.control.ping(destination=[f"{self.name}@127.0.0.1"], timeout=0.5)
            if replies:
                return
        raise AssertionError(f"worker {self.name} did not start:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
