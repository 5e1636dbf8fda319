"""Fixtures for driving official Customer.io client libraries, unmodified, against the sandbox.

Each client is pointed at the sandbox only through its own documented options (host, port, URL,
region) plus the platform's standard CA setting (`REQUESTS_CA_BUNDLE`, `NODE_EXTRA_CA_CERTS`).
The sandbox runs with its real-path listeners over HTTPS, as the clients expect of Customer.io.
State is read back through the App API (over HTTPS, like any client) and the inspection API.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from client_helpers import AppReader
from relaykit.sandbox import Sandbox

HERE = Path(__file__).resolve().parent
#: Installed client packages, keyed by a hash of their pins, so a rerun does not install again.
CACHE = Path(os.environ.get("RELAYKIT_CLIENT_CACHE", HERE.parents[1] / ".cache" / "test-clients"))


def _cached(name: str, pins: list[Path], install) -> Path:
    """The directory `install(tmp)` fills, reused while the pin files are unchanged; skip if it fails."""
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in pins)).hexdigest()[:16]
    target = CACHE / f"{name}-{digest}"
    if target.is_dir():
        return target
    tmp = CACHE / f"{name}-{digest}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        proc = install(tmp)
    except (OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.skip(f"cannot install the pinned {name} client: {exc}")
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tail = (proc.stderr or proc.stdout or "")[-600:]
        pytest.skip(f"cannot install the pinned {name} client (no package index?): {tail}")
    try:
        tmp.rename(target)
    except OSError:  # another run got there first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _pip_target(name: str, pins: Path) -> Path:
    """A directory holding exactly the pinned packages of `pins`, for a `python -S` process."""
    return _cached(name, [pins], lambda tmp: subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--target", str(tmp), "-r", str(pins)], capture_output=True, text=True, timeout=300))


@pytest.fixture(scope="session")
def cdp_python_path() -> Path:
    """`customerio-cdp-analytics` and its pinned dependencies (its `customerio` shadows the official one)."""
    return _pip_target("cdp-python", HERE / "requirements-cdp-python.txt")


@pytest.fixture(scope="session")
def async_customerio_path() -> Path:
    """`async-customerio` and its pinned httpx stack."""
    return _pip_target("async-customerio", HERE / "requirements-async-customerio.txt")


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """`npm ci` of tests/clients/node (versions pinned by its package-lock.json); skipped without node."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js clients need node and npm on PATH")
    source = HERE / "node"

    def install(tmp: Path) -> subprocess.CompletedProcess:
        for name in ("package.json", "package-lock.json"):
            shutil.copy(source / name, tmp / name)
        return subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=tmp,
                              capture_output=True, text=True, timeout=300)

    return _cached("node", [source / "package.json", source / "package-lock.json"], install) / "node_modules"


@pytest.fixture(scope="session")
def https_sandbox():
    """One HTTPS sandbox (real-path listeners) for every client test; triggers are processed at once."""
    with Sandbox(tls=True, processing_delay=0.0) as sb:
        yield sb


@pytest.fixture
def client_sandbox(https_sandbox: Sandbox) -> Sandbox:
    https_sandbox.set_faults(None)
    https_sandbox.set_rate_limits(False)
    https_sandbox.reset()
    return https_sandbox


@pytest.fixture
def app(client_sandbox: Sandbox) -> AppReader:
    return AppReader(client_sandbox)


@pytest.fixture
def own_sandbox():
    """Start an HTTPS sandbox with its own settings (e.g. other credentials); stopped after the test."""
    started: list[Sandbox] = []

    def make(**kw) -> Sandbox:
        started.append(Sandbox(tls=True, processing_delay=0.0, **kw).start())
        return started[-1]

    yield make
    for sb in started:
        sb.stop()
