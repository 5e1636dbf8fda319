"""Issue 12, item 3: a refused connection leaves no credential in any traceback frame's locals.

A connection read from `RELAYKIT_<REF>_*` variables or returned by a `resolve_connection` plugin
used to sit in clear in the locals of `Runtime.resolve_connection` and `ConnectionResolver.resolve`
/ `_resolve` when it was refused (stray whitespace, unknown region, non-loopback `sandbox_url`), and
any renderer of locals (Sentry, rich, `pytest -l`) showed it. Here every frame of the raised error's
traceback, and of its cause and context chains, has its `f_locals` walked recursively through
containers: no string in them may hold the key in any form (raw, repr, JSON, URL-encoded, Basic
base64 of `site:key` and `key:`, both alphabets). The key is drawn by hypothesis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from credential_adversary import leaking_locals
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relaykit import Runtime, hookimpl
from relaykit.errors import ConnectionConfigError, RelaykitError

SITE = "canary-site-locals"
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "onboard_user.yaml"
REFUSALS = {  # how a connection is made to be refused: field -> value (None: the key itself, altered)
    "trailing-space": ("api_key", "{key} "),
    "leading-space": ("api_key", " {key}"),
    "newline": ("api_key", "{key}\n"),
    "unknown-region": ("region", "mars"),
    "sandbox-url-dot": ("sandbox_url", "http://localhost.:1"),
    "sandbox-url-remote": ("sandbox_url", "http://example.org"),
    "sandbox-url-zone": ("sandbox_url", "http://[::1%25lo]:1"),
}


class Plugin:
    """A `resolve_connection` plugin answering whatever the test put in `configs`."""

    def __init__(self) -> None:
        self.configs: dict[str, dict[str, Any]] = {}

    @hookimpl
    def resolve_connection(self, connector: str, reference: str) -> dict[str, Any] | None:
        return self.configs.get(reference)


ENV: dict[str, str] = {}
PLUGIN = Plugin()
RT = Runtime(environ=ENV, plugins=[PLUGIN], sleep=lambda s: None)


def leaking(exc: BaseException, key: str) -> list[str]:
    return leaking_locals(exc, key, SITE, skip_file=__file__)


def configure(source: str, connector: str, key: str, refusal: str) -> str | None:
    """Put a refused connection where `source` reads it; the reference to pass (None: the connector's own)."""
    field, template = REFUSALS[refusal]
    config = {"api_key": key, "region": "us"}
    if connector == "customerio-track":
        config["site_id"] = SITE
    config[field] = template.format(key=key)
    ENV.clear()
    PLUGIN.configs.clear()
    if source == "plugin":
        PLUGIN.configs["vault"] = config
        return "vault"
    reference = {"env-own": None, "env-ref": "prod", "env-automation": "cio-track"}[source]
    prefix = "RELAYKIT_" + (reference or connector).upper().replace("-", "_") + "_"
    ENV.update({prefix + name.upper(): value for name, value in config.items()})
    return reference


def refuse(entry: str, connector: str, reference: str | None) -> RelaykitError:
    op = "customerio-track.track_event" if connector == "customerio-track" else "customerio-app.raw_http_request"
    data = {"identifier": "a", "name": "n"} if connector == "customerio-track" else {"method": "GET", "endpoint": "/x"}
    with pytest.raises(RelaykitError) as info:
        if entry == "resolve":
            RT.resolve_connection(connector, reference)
        elif entry == "dry_run":
            RT.dry_run(op, data, reference)
        elif entry == "run":
            RT.run(op, data, reference)
        else:
            RT.run_automation(EXAMPLE, {"user_id": "ada", "email": "ada@example.com"}, dry_run=True)
    return info.value


keys = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=12, max_size=40).map(
    lambda s: "canary-" + s)
CASES = [(source, connector, entry) for source in ("env-own", "env-ref", "plugin")
         for connector in ("customerio-track", "customerio-app") for entry in ("resolve", "dry_run", "run")
         if not (source == "env-own" and entry != "resolve")] + [("env-automation", "customerio-track", "automation")]


@pytest.mark.parametrize(("source", "connector", "entry"), CASES, ids=["-".join(c) for c in CASES])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=keys, refusal=st.sampled_from(sorted(REFUSALS)))
def test_a_refused_connection_leaves_no_credential_in_frame_locals(source, connector, entry, key, refusal):
    reference = configure(source, connector, key, refusal)
    exc = refuse(entry, connector, reference)
    assert isinstance(exc, ConnectionConfigError), type(exc)
    assert exc.connector.startswith(connector) and exc.problems[0].pointer == "/" + REFUSALS[refusal][0]
    assert leaking(exc, key) == []


def test_the_walker_finds_a_key_in_clear():
    """The check can fail: a plain dict from the caller is (by nature) in clear in its frames."""
    key = "canary-plain-dict-key-1"
    with pytest.raises(ConnectionConfigError) as info:
        RT.resolve_connection("customerio-track", {"site_id": SITE, "api_key": key, "region": "mars"})
    assert "resolve_connection:connection" in leaking(info.value, key)
