"""Helpers for the sandbox's own tests.

The `sandbox` / `cio_sandbox` fixtures come from the opt-in plugin `relaykit.sandbox.pytest_plugin`,
which the top-level tests/conftest.py enables with `pytest_plugins` (pytest only allows that in the
root conftest). Everything here talks to the sandbox over real HTTP.
"""

from __future__ import annotations

import pytest
import requests
from canary_scan import APP_BEARER, PIPELINES_AUTH, TRACK_AUTH
from relaykit.sandbox import Sandbox

PIPE_AUTH = PIPELINES_AUTH  # the canaries are the session sandbox's credentials (tests/canary_scan.py)
APP_HEADERS = {"Authorization": APP_BEARER}


class Client:
    """A keep-alive session bound to one API's base URL with that API's credentials."""

    def __init__(self, base: str, *, auth=None, headers=None) -> None:
        self.base = base
        self.session = requests.Session()
        if auth is not None:
            self.session.auth = auth
        self.session.headers.update(headers or {})

    def request(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 10)
        kw.setdefault("allow_redirects", False)
        return self.session.request(method, self.base + path, **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw) -> requests.Response:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw) -> requests.Response:
        return self.request("DELETE", path, **kw)


class Clients:
    def __init__(self, sb: Sandbox, region: str = "us") -> None:
        urls = sb.base_urls
        self.sb = sb
        self.track = Client(urls["customerio-track"][region], auth=TRACK_AUTH)
        self.app = Client(urls["customerio-app"][region], headers=APP_HEADERS)
        self.beta = Client(urls["customerio-beta"][region], headers=APP_HEADERS)
        self.pipelines = Client(urls["customerio-pipelines"][region], auth=PIPE_AUTH)
        self.root = Client(sb.url)


@pytest.fixture
def cio(sandbox: Sandbox) -> Clients:
    """Clients for the four APIs of a freshly reset sandbox (home region us)."""
    return Clients(sandbox)


@pytest.fixture
def make_sandbox():
    """Start extra sandboxes with their own settings; all are stopped after the test."""
    started: list[Sandbox] = []

    def make(**kw) -> Sandbox:
        sb = Sandbox(**kw).start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()
