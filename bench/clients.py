"""The three ways of making the same call: relaykit, a careful bare `requests.Session`, the official client.

The bare client does what careful hand-written code does for the same call: the same URL and JSON
body (event id included), a precomputed Basic/Bearer header, connect and read timeouts,
`allow_redirects=False`, a status check, the body read and `json()`-decoded. It skips the
environment (`trust_env=False`), as relaykit does, so neither side pays for proxy lookups.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import time
from typing import Any
from urllib.parse import quote

import requests

from bench.sandbox import Target

TIMEOUT = (5.0, 30.0)  # the Customer.io connectors' connect/read timeouts
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid() -> str:
    """A ULID event id, generated the same way relaykit does (48-bit ms time + 80 random bits)."""
    value = ((int(time.time() * 1000) & ((1 << 48) - 1)) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def identifiers(count: int = 64) -> itertools.cycle[str]:
    """A rotating pool of people, so no single profile grows without bound during a run."""
    return itertools.cycle([f"bench{i:03d}@example.com" for i in range(count)])


# -- relaykit ---------------------------------------------------------------------------------------
def relaykit_runtime() -> Any:
    """A `Runtime` whose client-side rate limits run their full bookkeeping but never make a call wait.

    The connectors declare 100 req/s (Track) and 10 req/s (App). Pacing is a policy, not overhead:
    without this the benchmark would measure the limiter's sleeps. Every call still books and
    releases a place in a real window (`Runtime(rate_limits=...)`); the windows are merely a million
    times larger.
    """
    from relaykit import Runtime

    million = 1_000_000
    return Runtime(rate_limits={
        "customerio-track": {"track": {"requests": 100 * million}},
        "customerio-app": {"app": {"requests": 10 * million}, "transactional": {"requests": 100 * million},
                           "broadcast_trigger": {"requests": million}},
        "customerio-pipelines": {"pipelines": {"requests": 3000 * million}},
    })


# -- bare requests ----------------------------------------------------------------------------------
def bare_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def basic_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class BareTrack:
    """Hand-written Track v1 calls over one keep-alive session."""

    def __init__(self, target: Target) -> None:
        creds = target.credentials
        self.session = bare_session()
        self.base = target.base_urls["customerio-track"]["us"]
        self.headers = {"Authorization": basic_header(creds["site_id"], creds["track_api_key"]),
                        "Accept": "application/json"}

    def _send(self, method: str, url: str, body: dict[str, Any]) -> Any:
        resp = self.session.request(method, url, json=body, headers=self.headers, timeout=TIMEOUT,
                                    allow_redirects=False)
        if resp.status_code != 200:
            raise RuntimeError(f"bare {method} {url}: HTTP {resp.status_code}")
        return resp.json()

    def track_event(self, identifier: str, name: str, data: dict[str, Any]) -> Any:
        url = f"{self.base}/v1/customers/{quote(identifier, safe='')}/events"
        return self._send("POST", url, {"name": name, "data": data, "id": ulid()})

    def identify(self, identifier: str, email: str, attributes: dict[str, Any]) -> Any:
        url = f"{self.base}/v1/customers/{quote(identifier, safe='')}"
        return self._send("PUT", url, {**attributes, "email": email})

    def close(self) -> None:
        self.session.close()


class AdapterTrack(BareTrack):
    """The same Track call sent the way relaykit's transport sends it: a hand-filled PreparedRequest
    handed to the session's mounted adapter (no `Session.request`). Context only: relaykit against
    this shows what the framework itself costs once both use the same lean path.
    """

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.adapter = self.session.get_adapter(self.base)
        self.headers = {**self.headers, "Content-Type": "application/json"}

    def _send(self, method: str, url: str, body: dict[str, Any]) -> Any:
        data = json.dumps(body, separators=(",", ":")).encode()
        prepared = requests.PreparedRequest()
        prepared.method, prepared.url, prepared.body = method, url, data
        prepared.headers = requests.structures.CaseInsensitiveDict(
            {**self.headers, "Content-Length": str(len(data))})
        resp = self.adapter.send(prepared, stream=True, timeout=TIMEOUT)
        try:
            if resp.status_code != 200:
                raise RuntimeError(f"adapter {method} {url}: HTTP {resp.status_code}")
            return json.loads(resp.raw.read(decode_content=True))
        finally:
            resp.close()


class BareApp:
    """Hand-written App API GETs."""

    def __init__(self, target: Target) -> None:
        self.session = bare_session()
        self.base = target.base_urls["customerio-app"]["us"]
        self.headers = {"Authorization": f"Bearer {target.credentials['app_api_key']}",
                        "Accept": "application/json"}

    def get(self, endpoint: str) -> Any:
        resp = self.session.get(self.base + endpoint, headers=self.headers, timeout=TIMEOUT, allow_redirects=False)
        if resp.status_code != 200:
            raise RuntimeError(f"bare GET {endpoint}: HTTP {resp.status_code}")
        return resp.json()

    def close(self) -> None:
        self.session.close()


# -- the official client ----------------------------------------------------------------------------
def official_track(target: Target) -> Any | None:
    """The official `customerio` client aimed at the sandbox, or None when it is not installed.

    `CustomerIO` builds `https://{host}[:{port}]/{url_prefix}` (the scheme is fixed) and mounts its
    keep-alive adapter on `https://` only; a `Region`, `host`, `port` and `url_prefix` can move it
    to any host but never to plain http. The subclass changes exactly those two things: the base
    URL becomes the sandbox's Track `/api/v1` and the client's own adapter (same retry policy) is
    mounted on `http://` as well. Everything else (payload sanitising, `json=`, `session.auth`,
    its timeout) is the client's own code.
    """
    try:
        from customerio import CustomerIO
    except ImportError:
        return None

    base = target.base_urls["customerio-track"]["us"] + "/v1"

    class LoopbackCustomerIO(CustomerIO):  # type: ignore[misc]
        def setup_base_url(self) -> None:
            self.base_url = base

        def _build_session(self) -> requests.Session:
            session = super()._build_session()
            session.mount("http://", session.get_adapter("https://"))
            return session

    creds = target.credentials
    return LoopbackCustomerIO(site_id=creds["site_id"], api_key=creds["track_api_key"])


def official_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("customerio")
    except Exception:
        return None
