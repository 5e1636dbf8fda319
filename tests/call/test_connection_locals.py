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

import base64
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
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


def forms(key: str) -> set[str]:
    out = {key, repr(key)[1:-1], json.dumps(key)[1:-1], json.dumps(key, ensure_ascii=False)[1:-1],
           quote(key, safe=""), quote(key), quote_plus(key)}
    for user, password in ((SITE, key), (key, "")):
        raw = f"{user}:{password}".encode()
        for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
            out |= {encoded.decode(), encoded.decode().rstrip("=")}
    return {f for f in out if len(f) >= 6}


def frames(exc: BaseException) -> Iterator[FrameType]:
    """Every frame below this test file in the traceback of `exc` and of its cause and context chains."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        err = todo.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        tb = err.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename != __file__:
                yield tb.tb_frame
            tb = tb.tb_next
        todo += [e for e in (err.__cause__, err.__context__) if e is not None]


def strings(value: Any, seen: set[int] | None = None) -> Iterator[str]:
    """Every string reachable from `value` through containers (dict subclasses by their real items), else its repr."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes | bytearray):
        yield bytes(value).decode("latin-1")
    elif isinstance(value, Mapping):
        for k, v in (dict.items(value) if isinstance(value, dict) else value.items()):
            yield from strings(k, seen)
            yield from strings(v, seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from strings(item, seen)
    elif isinstance(value, BaseException):
        yield from strings(value.args, seen)
        yield repr(value)
    else:
        yield repr(value)


def leaking_locals(exc: BaseException, key: str) -> list[str]:
    wanted = forms(key)
    return sorted({f"{frame.f_code.co_name}:{name}" for frame in frames(exc)
                   for name, value in frame.f_locals.items()
                   if any(form in text for text in strings(value) for form in wanted)})


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
    assert leaking_locals(exc, key) == []


def test_the_walker_finds_a_key_in_clear():
    """The check can fail: a plain dict from the caller is (by nature) in clear in its frames."""
    key = "canary-plain-dict-key-1"
    with pytest.raises(ConnectionConfigError) as info:
        RT.resolve_connection("customerio-track", {"site_id": SITE, "api_key": key, "region": "mars"})
    assert "resolve_connection:connection" in leaking_locals(info.value, key)
