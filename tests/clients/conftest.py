"""Fixtures for driving official Customer.io client libraries, unmodified, against the sandbox.

Each client is pointed at the sandbox only through its own documented options (host, port, URL,
region) plus the platform's standard CA setting (`REQUESTS_CA_BUNDLE`, `NODE_EXTRA_CA_CERTS`).
The sandbox runs with its real-path listeners over HTTPS, as the clients expect of Customer.io.
State is read back through the App API (over HTTPS, like any client) and the inspection API.
"""

from __future__ import annotations

import pytest
import requests
from canary_scan import APP_BEARER
from relaykit.sandbox import Sandbox


class AppReader:
    """Reads the workspace back through the sandbox's App API listener (us), verifying its certificate."""

    def __init__(self, sb: Sandbox) -> None:
        self.base = sb.host_url("customerio-app", "us") + "/v1"
        self.session = requests.Session()
        self.session.trust_env = False  # the environment's CA bundle would override `verify`
        self.session.verify = sb.ca_bundle
        self.session.headers["Authorization"] = APP_BEARER

    def get(self, path: str, **kw) -> dict:
        r = self.session.get(self.base + path, timeout=10, **kw)
        assert r.status_code == 200, r.text
        return r.json()

    def customer(self, ident: str, id_type: str = "id") -> dict:
        return self.get(f"/customers/{ident}/attributes", params={"id_type": id_type})["customer"]

    def status(self, path: str) -> int:
        return self.session.get(self.base + path, timeout=10).status_code


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
