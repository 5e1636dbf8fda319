"""Atheris fuzz target for S1 ("credentials stay on their host"): the request-rendering path.

Every input becomes one `Runtime.dry_run` call on one of the four shipped connectors: either
`raw_http_request` (fuzzed method, endpoint suffix, query, headers and body, whose `content_type`
becomes a header) or a declarative operation with path parameters (Track's identifier, the App and
Beta broadcast/trigger ids), against a US, an EU or a sandbox-style connection.

Property, per input:
  * a `RelaykitError` is raised (refused before sending), or
  * the rendered URL, parsed by urllib3's `parse_url` (what requests connects with) and again after
    requests prepares it, keeps exactly the base URL's scheme, host and port, has no userinfo, and
    its path is under the base path with no segment that decodes to `.` or `..`; and the headers
    the transport would put on the wire (the request's, then the connection's credentials, merged
    the way the transport and requests merge them) are Latin-1 with no CR/LF/NUL or other control
    character, and there is exactly one Authorization header: the connector's own.
Any other exception, or a broken property, is a finding (atheris stops and writes the input).
`RELAYKIT_FUZZ_KNOWN=kind[,kind]` skips (and counts) findings of an already-reported kind, so a
run can look past them; CI never sets it.

Run (from the repository root; see fuzz/README.md):
    .venv/bin/python fuzz/fuzz_render.py -runs=200000 -seed=1 -artifact_prefix=/tmp/
"""

from __future__ import annotations

import base64
import os
import re
import sys
from typing import Any
from urllib.parse import unquote

if os.environ.get("PYTHONHASHSEED") != "0":  # the same -seed must replay the same run: fix str hashing too
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import atheris

with atheris.instrument_imports(include=["relaykit", "urllib3"]):
    import relaykit.call.executor  # loaded lazily by the runtime; imported here so it is instrumented
    import relaykit.call.render
    import relaykit.templates.compiled  # noqa: F401
    from relaykit import Runtime
    from relaykit.errors import RelaykitError
    from urllib3.util import parse_url

import requests

SITE_ID = "site_CANARY_4242"
TRACK_KEY = "sk_live_CANARY_track_0123"
APP_KEY = "sk_live_CANARY_app_4567"
PIPE_KEY = "sk_live_CANARY_pipe_89ab"
CREDENTIALS = {
    "customerio-track": {"site_id": SITE_ID, "api_key": TRACK_KEY},
    "customerio-app": {"api_key": APP_KEY},
    "customerio-beta": {"api_key": APP_KEY},
    "customerio-pipelines": {"api_key": PIPE_KEY},
}
# The connector's own Authorization value, computed here from the connection, not by relaykit.
AUTHORIZATION = {
    "customerio-track": "Basic " + base64.b64encode(f"{SITE_ID}:{TRACK_KEY}".encode()).decode(),
    "customerio-app": f"Bearer {APP_KEY}",
    "customerio-beta": f"Bearer {APP_KEY}",
    "customerio-pipelines": "Basic " + base64.b64encode(f"{PIPE_KEY}:".encode()).decode(),
}
SANDBOX = "http://127.0.0.1:8080"
BASES = {  # (connector, connection flavour) -> the pinned base URL
    ("customerio-track", "us"): "https://track.customer.io/api",
    ("customerio-track", "eu"): "https://track-eu.customer.io/api",
    ("customerio-track", "sandbox"): SANDBOX + "/customerio-track/us/api",
    ("customerio-app", "us"): "https://api.customer.io/v1",
    ("customerio-app", "eu"): "https://api-eu.customer.io/v1",
    ("customerio-app", "sandbox"): SANDBOX + "/customerio-app/us/v1",
    ("customerio-beta", "us"): "https://beta-api.customer.io/v1/api",
    ("customerio-beta", "eu"): "https://beta-api-eu.customer.io/v1/api",
    ("customerio-beta", "sandbox"): SANDBOX + "/customerio-beta/us/v1/api",
    ("customerio-pipelines", "us"): "https://cdp.customer.io",
    ("customerio-pipelines", "eu"): "https://cdp-eu.customer.io",
    ("customerio-pipelines", "sandbox"): SANDBOX + "/customerio-pipelines/us",
}
FLAVOURS = ("us", "eu", "sandbox")
CONNECTORS = tuple(CREDENTIALS)

# Declarative operations whose path takes input: (connector, operation, path parameters, other required input).
PATH_OPS = [
    ("customerio-track", "delete_customer", ("identifier",), {}),
    ("customerio-track", "track_event", ("identifier",), {"name": "signed_up"}),
    ("customerio-track", "create_or_update_customer", ("identifier",), {}),
    ("customerio-app", "get_broadcast_trigger_status", ("broadcast_id", "trigger_id"), {}),
    ("customerio-app", "trigger_broadcast", ("broadcast_id",), {}),
    ("customerio-beta", "get_broadcast_trigger_status", ("broadcast_id", "trigger_id"), {}),
    ("customerio-beta", "trigger_broadcast", ("broadcast_id",), {}),
]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "get", "CONNECT", "GET\r\n", ""]  # 6 valid
TOKENS = [
    "/", "/", "/", ".", "..", "%", "%2e", "%2E", "%2f", "%2F", "%25", "%252e", "%5c", "%40", "%00", "%0d%0a", "%7f",
    "%e2%80%ae", "@", "\\", ":", "?", "#", "~", ";", "//", "///", "http://", "https://", "127.0.0.2", "127.0.0.2:80",
    "evil.example", ":1@", "@evil.example", "[::1]", "0x7f.1", "\r\n", "\r", "\n", "\x00", "\t", " ", "\x7f", "\x85",
    "\u202e", "\u2028", "\u3002", "\uff0e", "\uff0f", "\xa0", "é", "{{", "}}", "{{ connection.api_key }}",
    "customers", "v1", "api", "x", "a-b", "cio_1", "ada@example.com", "Authorization: Bearer evil", "Host: evil",
]
PLAIN = ["/", "/", "customers", "v1", "x", "a-b", "cio_1", "@", ":", ";", "~", "=", "+", "!", "$", "&", "'", "(", "*",
         ",", "%40", "%2B", "%20", "%3A", "...", ".x", "x.", "evil.example", "127.0.0.2", "@127.0.0.2",
         ":1@evil.example", "[::1]", "0x7f.1", "%E2%80%8B", "%C3%A9"]
HEADER_NAMES = [
    "Authorization", "authorization", "AUTHORIZATION", "Proxy-Authorization", "Cookie", "Host", "Content-Length",
    "Transfer-Encoding", "Connection", "X-Forwarded-Host", "Content-Type", "Accept", "User-Agent", "X-Request-Id",
    "X Bad", "X:Bad", "",
]
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

RT = Runtime(load_entry_points=True)


KNOWN = {k for k in os.environ.get("RELAYKIT_FUZZ_KNOWN", "").split(",") if k}
SUPPRESSED: dict[str, int] = {}


class Finding(AssertionError):
    """The S1 property does not hold for this input; `kind` names the class of finding."""

    def __init__(self, message: str, kind: str = "") -> None:
        super().__init__(message)
        self.kind = kind


def text(fdp: atheris.FuzzedDataProvider, limit: int = 48) -> str:
    """A string: arbitrary Unicode, arbitrary Latin-1 bytes, plausible path pieces, or a run of risky tokens."""
    mode = fdp.ConsumeIntInRange(0, 4)
    if mode == 0:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, limit))
    if mode == 1:
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, limit)).decode("latin-1")
    if mode == 2:  # plausible: pieces a server accepts, so the rendered URL itself gets checked
        return "".join(fdp.PickValueInList(PLAIN) for _ in range(fdp.ConsumeIntInRange(0, 8)))
    pieces = fdp.ConsumeIntInRange(0, 8)
    return "".join(fdp.PickValueInList(TOKENS) if fdp.ConsumeIntInRange(0, 3) else
                   fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 4)) for _ in range(pieces))


def endpoint(fdp: atheris.FuzzedDataProvider) -> str:
    """An endpoint suffix; one in five lacks the leading slash."""
    value = text(fdp, 96)
    return value if fdp.ConsumeIntInRange(0, 4) == 0 else "/" + value


def scalar(fdp: atheris.FuzzedDataProvider) -> Any:
    """Any JSON-ish value (numbers, booleans, null, NaN, lists, objects, text)."""
    kind = fdp.ConsumeIntInRange(0, 7)
    if kind == 0:
        return fdp.ConsumeInt(8)
    if kind == 1:
        return fdp.ConsumeIntInRange(-2, 2**63)
    if kind == 2:
        return fdp.ConsumeBool()
    if kind == 3:
        return None
    if kind == 4:
        return fdp.ConsumeFloat()
    if kind == 5:
        return [text(fdp, 8) for _ in range(fdp.ConsumeIntInRange(0, 2))]
    if kind == 6:
        return {text(fdp, 8): text(fdp, 8)}
    return text(fdp)


def mapping(fdp: atheris.FuzzedDataProvider, names: list[str] | None) -> dict[str, Any]:
    """Up to three entries (query parameters, headers, form fields), names from `names` or fuzzed."""
    out: dict[str, Any] = {}
    for _ in range(fdp.ConsumeIntInRange(0, 3)):
        name = fdp.PickValueInList(names) if names and fdp.ConsumeBool() else text(fdp, 16)
        out[name] = text(fdp) if fdp.ConsumeIntInRange(0, 3) else scalar(fdp)
    return out


def raw_input(fdp: atheris.FuzzedDataProvider) -> dict[str, Any]:
    """Input for `raw_http_request`: method, endpoint, and maybe query, headers and one body kind."""
    method = fdp.PickValueInList(METHODS[6:] if fdp.ConsumeIntInRange(0, 15) == 0 else METHODS[:6])
    data: dict[str, Any] = {"method": method, "endpoint": endpoint(fdp)}
    if fdp.ConsumeBool():
        data["query"] = mapping(fdp, None)
    if fdp.ConsumeBool():
        data["headers"] = mapping(fdp, HEADER_NAMES)
    body_kind = fdp.ConsumeIntInRange(0, 4)
    if body_kind == 1:
        data["body"] = {"json": scalar(fdp)}
    elif body_kind == 2:
        data["body"] = {"form": mapping(fdp, None)}
    elif body_kind == 3:
        data["body"] = {"raw": text(fdp), "content_type": text(fdp)}
    elif body_kind == 4:
        data["body"] = {"json": {"a": 1}, "content_type": text(fdp)}
    return data


def check(request: Any, connector: str, base: str) -> None:
    """The S1 property for one rendered request (raises `Finding`)."""
    pinned = parse_url(base)
    base_path = (pinned.path or "").rstrip("/")
    prepared = requests.Request(request.method, request.url).prepare().url or ""
    for url in (request.url, prepared):
        final = parse_url(url)
        if (final.scheme, final.host, final.port, final.auth) != (pinned.scheme, pinned.host, pinned.port, None):
            raise Finding(f"left the host: {url!r} (base {base!r})")
        path = final.path or ""
        if not path.startswith(base_path + "/"):
            raise Finding(f"left the base path: {url!r} (base {base!r})")
        if any(unquote(segment) in (".", "..") for segment in path[len(base_path):].split("/")):
            raise Finding(f"a dot segment a server would resolve: {url!r}")
        if final.fragment is not None:
            raise Finding(f"a fragment: {url!r}")
    # The wire headers: the transport puts the connection's credentials over the request's headers,
    # requests merges them case-insensitively (the last one wins).
    wire: dict[str, tuple[str, str]] = {}
    for name, value in [*request.headers.items(), *{"Authorization": AUTHORIZATION[connector]}.items()]:
        wire[name.lower()] = (name, value)
    for name, value in wire.values():
        if not _TOKEN.fullmatch(name) or _CONTROL.search(value):
            raise Finding(f"header {name!r} would not survive as one header line: {value!r}", f"header:{name}")
        if not value.isascii() and any(ord(ch) > 0xFF for ch in value):
            raise Finding(f"header {name!r} cannot be sent (not Latin-1): {value!r}", f"header:{name}")
    for lower in ("proxy-authorization", "cookie", "host"):
        if lower in wire:
            raise Finding(f"a {lower} header from input: {wire[lower]!r}")
    if wire["authorization"][1] != AUTHORIZATION[connector] or sum(
            name.lower() == "authorization" for name in request.headers) != 0:
        raise Finding(f"Authorization is not the connector's own: {dict(request.headers)!r}")


def TestOneInput(data: bytes) -> None:
    """One dry run: refused with a RelaykitError, or the S1 property holds."""
    fdp = atheris.FuzzedDataProvider(data)
    flavour = fdp.PickValueInList(list(FLAVOURS))
    if fdp.ConsumeIntInRange(0, 3):
        connector = fdp.PickValueInList(list(CONNECTORS))
        name, data_in = "raw_http_request", raw_input(fdp)
    else:
        connector, name, params, extra = fdp.PickValueInList(PATH_OPS)
        data_in = {**extra, **{p: text(fdp) if fdp.ConsumeIntInRange(0, 2) else scalar(fdp) for p in params}}
    connection: dict[str, Any] = {**CREDENTIALS[connector], "region": "eu" if flavour == "eu" else "us"}
    if flavour == "sandbox":
        connection["sandbox_url"] = SANDBOX
    try:
        request = RT.dry_run(f"{connector}.{name}", data_in, connection)
    except RelaykitError:
        return  # refused before anything could be sent
    try:
        check(request, connector, BASES[connector, flavour])
    except Finding as finding:
        # F1 (reported): raw_http_request's body.content_type becomes the Content-Type header unchecked
        kind = "raw-content-type" if finding.kind == "header:Content-Type" and "content_type" in (
            data_in.get("body") or {}) else finding.kind
        if kind in KNOWN:
            seen = SUPPRESSED[kind] = SUPPRESSED.get(kind, 0) + 1
            if seen & (seen - 1) == 0:  # libFuzzer exits without running atexit: report at powers of two
                print(f"suppressed known finding {kind}: {seen} input(s) so far", file=sys.stderr)
            return
        detail = f"{finding} [{kind or 'S1'}] from {connector}.{name} {flavour} {data_in!r}"
        raise Finding(detail[:4000], kind) from None


def main() -> None:
    """Check the oracle on a plain request (so the property is not vacuous), then fuzz."""
    for connector in CONNECTORS:
        for flavour in FLAVOURS:
            connection = {**CREDENTIALS[connector], "region": "eu" if flavour == "eu" else "us"}
            if flavour == "sandbox":
                connection["sandbox_url"] = SANDBOX
            request = RT.dry_run(f"{connector}.raw_http_request", {"method": "GET", "endpoint": "/x"}, connection)
            assert request.url == BASES[connector, flavour] + "/x", request.url
            check(request, connector, BASES[connector, flavour])
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
