"""The sandbox the call benchmarks talk to: a separate process (default) or threads in this process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    """Where the sandbox listens and which credentials it accepts."""

    mode: str  # "subprocess" | "inprocess"
    root: str  # http://127.0.0.1:PORT
    base_urls: dict[str, dict[str, str]]
    credentials: dict[str, str]
    pid: int | None = None  # the sandbox process (subprocess mode), for CPU accounting

    def connection(self, connector: str) -> dict[str, str]:
        """A relaykit connection config for `connector` in region us."""
        creds = self.credentials
        if connector == "customerio-track":
            fields = {"site_id": creds["site_id"], "api_key": creds["track_api_key"]}
        elif connector == "customerio-pipelines":
            fields = {"api_key": creds["pipelines_api_key"]}
        else:
            fields = {"api_key": creds["app_api_key"]}
        return {**fields, "region": "us", "sandbox_url": self.root}


def _root_of(info: dict[str, Any]) -> str:
    if "sandbox_url" in info:
        return info["sandbox_url"]
    return info["customerio-track"]["us"].split("/customerio-track/", 1)[0]


@contextmanager
def running(mode: str = "subprocess", rate_limits: bool = False) -> Iterator[Target]:
    """Start a sandbox (rate limits off unless asked for), yield its `Target`, stop it."""
    if mode == "inprocess":
        from relaykit.sandbox import Sandbox

        with Sandbox(rate_limits=rate_limits) as sb:
            yield Target("inprocess", sb.url, dict(sb.base_urls), dict(sb.credentials))
        return
    if mode != "subprocess":
        raise ValueError(f"unknown sandbox mode {mode!r}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "relaykit.sandbox", "--port", "0", "--rate-limits", "on" if rate_limits else "off",
         "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the sandbox process exited with status {proc.wait()}")
        info = json.loads(line)
        base_urls = {k: v for k, v in info.items() if isinstance(v, dict) and "us" in v}
        yield Target("subprocess", _root_of(info), base_urls, dict(info["credentials"]), proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
