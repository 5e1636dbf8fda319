"""Reading the workspace back through the sandbox's App API over HTTPS, as any client would."""

from __future__ import annotations

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
