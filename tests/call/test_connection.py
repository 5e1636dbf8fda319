"""Tests for relaykit.connection: regions, credentials, sandbox URLs and fingerprints, before any byte is sent."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from canary_scan import APP_KEY, SITE_ID, TRACK_KEY  # the suite's canaries, scanned for in every test
from relaykit.call.connection import sandbox_base_url
from relaykit.errors import ConnectionConfigError
from relaykit.redact import Secret
from relaykit.runtime import Runtime
from relaykit.transport.loopback import is_loopback_host

TRACK = {"site_id": SITE_ID, "api_key": TRACK_KEY}
REAL_BASE_PATHS = {"customerio-track": "/api", "customerio-app": "/v1", "customerio-beta": "/v1/api",
                   "customerio-pipelines": ""}


@pytest.fixture(scope="module")
def rt() -> Runtime:
    return Runtime(load_entry_points=True)


def refused(rt: Runtime, connector: str, config: Any) -> ConnectionConfigError:
    with pytest.raises(ConnectionConfigError) as info:
        rt.resolve_connection(connector, config)
    return info.value


def all_text(exc: ConnectionConfigError) -> str:
    return "\n".join([str(exc), repr(exc), json.dumps(exc.to_dict())])


@pytest.mark.parametrize("region", [
    pytest.param("EU", id="upper"),
    pytest.param(" eu", id="leading-space"),
    pytest.param("eu ", id="trailing-space"),
    pytest.param("mars", id="unknown"),
    pytest.param("", id="empty"),
    pytest.param("us-east-1", id="aws-style"),
])
def test_unknown_region_lists_allowed_ones(rt: Runtime, region: str) -> None:
    exc = refused(rt, "customerio-track", {**TRACK, "region": region})
    messages = [p.message for p in exc.problems if p.pointer == "/region"]
    assert any("must be one of: us, eu" in m for m in messages), messages
    assert all(p.pointer == "/region" for p in exc.problems)
    if region.strip().lower() not in ("", "us", "eu"):
        assert region not in "\n".join(str(p) for p in exc.problems)


@pytest.mark.parametrize(("region", "base"), [
    pytest.param(None, "https://track.customer.io/api", id="default"),
    pytest.param("us", "https://track.customer.io/api", id="us"),
    pytest.param("eu", "https://track-eu.customer.io/api", id="eu"),
])
def test_region_selects_base_url(rt: Runtime, region: str | None, base: str) -> None:
    config = dict(TRACK) if region is None else {**TRACK, "region": region}
    resolved = rt.resolve_connection("customerio-track", config)
    assert resolved.base_url == base and resolved.region == (region or "us") and not resolved.sandbox


@pytest.mark.parametrize(("connector", "config", "missing"), [
    pytest.param("customerio-track", {"site_id": SITE_ID}, ["/api_key"], id="track-key"),
    pytest.param("customerio-track", {"api_key": TRACK_KEY}, ["/site_id"], id="track-site"),
    pytest.param("customerio-track", {}, ["/site_id", "/api_key"], id="track-both"),
    pytest.param("customerio-app", {"region": "eu"}, ["/api_key"], id="app"),
    pytest.param("customerio-pipelines", {}, ["/api_key"], id="pipelines"),
])
def test_missing_credential_names_the_field(rt: Runtime, connector: str, config: dict[str, str],
                                            missing: list[str]) -> None:
    exc = refused(rt, connector, config)
    assert sorted(p.pointer for p in exc.problems) == sorted(missing)
    text = all_text(exc)
    for pointer in missing:
        assert repr(pointer[1:]) in text  # "missing credential field 'api_key'"
    for value in config.values():
        assert value not in text or value == "eu"


@pytest.mark.parametrize(("field", "value", "fragment"), [
    pytest.param("api_key", TRACK_KEY + "\n", "whitespace", id="trailing-newline"),
    pytest.param("api_key", TRACK_KEY + "\r\n", "whitespace", id="trailing-crlf"),
    pytest.param("api_key", TRACK_KEY + " ", "whitespace", id="trailing-space"),
    pytest.param("api_key", " " + TRACK_KEY, "whitespace", id="leading-space"),
    pytest.param("api_key", "\t" + TRACK_KEY, "whitespace", id="leading-tab"),
    pytest.param("api_key", TRACK_KEY[:8] + "\n" + TRACK_KEY[8:], "control", id="inner-newline"),
    pytest.param("api_key", TRACK_KEY[:8] + "\x00" + TRACK_KEY[8:], "control", id="inner-nul"),
    pytest.param("api_key", TRACK_KEY[:8] + "\x7f" + TRACK_KEY[8:], "control", id="inner-del"),
    pytest.param("site_id", SITE_ID + "\n", "whitespace", id="site-newline"),
])
def test_credential_with_stray_characters_refused_without_echo(rt: Runtime, field: str, value: str,
                                                               fragment: str) -> None:
    exc = refused(rt, "customerio-track", {**TRACK, field: value})
    assert [p.pointer for p in exc.problems] == [f"/{field}"]
    assert fragment in exc.problems[0].message
    text = all_text(exc)
    assert value.strip() not in text and TRACK_KEY not in text and TRACK_KEY[:8] not in text


@pytest.mark.parametrize(("value", "ok"), [
    pytest.param("Qx7Zk", False, id="5-chars"),
    pytest.param("Q", False, id="1-char"),
    pytest.param("Qx7Zk9", True, id="6-chars"),
])
def test_too_short_secret_refused(rt: Runtime, value: str, ok: bool) -> None:
    if ok:
        assert rt.resolve_connection("customerio-app", {"api_key": value}).connector == "customerio-app"
        return
    exc = refused(rt, "customerio-app", {"api_key": value})
    assert [p.pointer for p in exc.problems] == ["/api_key"]
    assert "too short" in exc.problems[0].message
    assert len(value) < 2 or value not in all_text(exc)


def test_empty_secret_refused(rt: Runtime) -> None:
    exc = refused(rt, "customerio-app", {"api_key": ""})
    assert [p.pointer for p in exc.problems] == ["/api_key"]


def test_unknown_field_refused(rt: Runtime) -> None:
    exc = refused(rt, "customerio-app", {"api_key": APP_KEY, "base_url": "https://evil.example"})
    assert [p.pointer for p in exc.problems] == ["/base_url"]
    assert "evil" not in all_text(exc)


def test_non_ascii_secret_refused(rt: Runtime) -> None:
    exc = refused(rt, "customerio-app", {"api_key": "sk_live_CANARY_\U0001f511"})
    assert [p.pointer for p in exc.problems] == ["/api_key"]


@pytest.mark.parametrize(("url", "root"), [
    pytest.param("http://127.0.0.1:8080", "http://127.0.0.1:8080", id="ipv4-loopback"),
    pytest.param("http://127.0.0.1:8080/", "http://127.0.0.1:8080", id="trailing-slash"),
    pytest.param("http://localhost:8080", "http://127.0.0.1:8080", id="localhost-mapped-without-dns"),
    pytest.param("http://LOCALHOST:8080", "http://127.0.0.1:8080", id="localhost-upper"),
    pytest.param("http://[::1]:8080", "http://[::1]:8080", id="ipv6-loopback"),
    pytest.param("http://127.0.0.2:9", "http://127.0.0.2:9", id="other-127"),
    pytest.param("http://127.255.255.254:1", "http://127.255.255.254:1", id="top-of-127-8"),
    pytest.param("https://127.0.0.1:8443", "https://127.0.0.1:8443", id="https"),
    pytest.param("http://127.0.0.1", "http://127.0.0.1", id="no-port"),
    pytest.param("HTTP://127.0.0.1:1", "http://127.0.0.1:1", id="scheme-upper"),
])
def test_sandbox_url_accepted_for_loopback(rt: Runtime, url: str, root: str) -> None:
    resolved = rt.resolve_connection("customerio-track", {**TRACK, "sandbox_url": url})
    assert resolved.sandbox
    assert resolved.base_url == root + "/customerio-track/us/api"


@pytest.mark.parametrize(("url", "fragment"), [
    pytest.param("http://evil.example:8080", "loopback", id="public-host"),
    pytest.param("https://track.customer.io", "loopback", id="real-host"),
    pytest.param("http://10.0.0.1:80", "loopback", id="private-10"),
    pytest.param("http://192.168.1.1:80", "loopback", id="private-192-168"),
    pytest.param("http://172.16.0.1:80", "loopback", id="private-172-16"),
    pytest.param("http://169.254.169.254", "loopback", id="metadata"),
    pytest.param("http://0.0.0.0:8080", "loopback", id="any-address"),
    pytest.param("http://[::ffff:127.0.0.1]:1", "loopback", id="v4-mapped"),
    pytest.param("http://127.1:1", "loopback", id="short-form"),
    pytest.param("http://2130706433:1", "loopback", id="integer-form"),
    pytest.param("http://0x7f.0.0.1:1", "loopback", id="hex-form"),
    pytest.param("http://127.0.0.1.nip.io:1", "loopback", id="dns-rebinding-name"),
    pytest.param("http://localhost.evil.example", "loopback", id="localhost-prefix"),
    pytest.param("http://127.0.0.1%2eevil.example", "loopback", id="encoded-dot"),
    # issue 12, item 1: each of these passed as loopback but was handed to the system resolver
    pytest.param("http://localhost.:1", "loopback", id="localhost-trailing-dot"),
    pytest.param("http://LocalHost.:1", "loopback", id="localhost-case-trailing-dot"),
    pytest.param("http://127.0.0.1.:1", "loopback", id="ipv4-trailing-dot"),
    pytest.param("http://127.0.0.2.:1", "loopback", id="other-127-trailing-dot"),
    pytest.param("http://[::1%25lo]:1", "loopback", id="ipv6-zone"),
    pytest.param("http://[::1%lo]:1", "loopback", id="ipv6-zone-raw"),
    pytest.param("http://localhost..:1", "loopback", id="localhost-two-dots"),
    pytest.param("http://[0:0:0:0:0:0:0:1]:1", "loopback", id="ipv6-uncompressed"),
    pytest.param("http://[::0001]:1", "loopback", id="ipv6-leading-zeros"),
    pytest.param("http://127.000.000.001:1", "loopback", id="ipv4-leading-zeros"),
    pytest.param("http://app.localhost:1", "loopback", id="localhost-subdomain"),
    pytest.param("http://localhost6:1", "loopback", id="localhost6"),
    pytest.param("http://ip6-localhost:1", "loopback", id="ip6-localhost"),
    pytest.param("http://127.0.0.1@evil.example", "user information", id="userinfo-host"),
    pytest.param("http://evil.example@127.0.0.1:1", "user information", id="userinfo-loopback"),
    pytest.param("http://127.0.0.1\\@evil.example", "user information", id="backslash-userinfo"),
    pytest.param("http://127.0.0.1:8080\\x", "", id="backslash"),
    pytest.param("http://127.0.0.1:8080/path", "root", id="path"),
    pytest.param("http://127.0.0.1:8080?x=1", "root", id="query"),
    pytest.param("http://127.0.0.1:8080#f", "root", id="fragment"),
    pytest.param("file:///etc/passwd", "http(s)", id="file"),
    pytest.param("ftp://127.0.0.1", "http(s)", id="ftp"),
    pytest.param("127.0.0.1:8080", "http(s)", id="no-scheme"),
    pytest.param("http://127.0.0.1:99999", "valid URL", id="bad-port"),
    pytest.param("http://[::1", "valid URL", id="broken-ipv6"),
    pytest.param("http://127.0.0.1:8080 ", "whitespace", id="trailing-space"),
])
def test_sandbox_url_refused(rt: Runtime, url: str, fragment: str) -> None:
    exc = refused(rt, "customerio-track", {**TRACK, "sandbox_url": url})
    assert [p.pointer for p in exc.problems] == ["/sandbox_url"]
    assert fragment in exc.problems[0].message
    assert "evil" not in all_text(exc)


@pytest.mark.parametrize("connector", list(REAL_BASE_PATHS))
@pytest.mark.parametrize("region", ["us", "eu"])
def test_sandbox_base_url_layout(rt: Runtime, connector: str, region: str) -> None:
    key = {"customerio-track": TRACK}.get(connector, {"api_key": APP_KEY})
    resolved = rt.resolve_connection(connector, {**key, "region": region, "sandbox_url": "http://127.0.0.1:8080"})
    assert resolved.base_url == f"http://127.0.0.1:8080/{connector}/{region}{REAL_BASE_PATHS[connector]}"


@pytest.mark.parametrize(("root", "real", "expected"), [
    pytest.param("http://127.0.0.1:1", "https://cdp.customer.io", "http://127.0.0.1:1/c/us", id="no-base-path"),
    pytest.param("http://127.0.0.1:1/", "https://x.io/api/", "http://127.0.0.1:1/c/us/api", id="slashes"),
    pytest.param("http://[::1]:1", "https://x.io/v1/api", "http://[::1]:1/c/us/v1/api", id="ipv6"),
])
def test_sandbox_base_url_function(root: str, real: str, expected: str) -> None:
    assert sandbox_base_url(root, "c", "us", real) == expected


@pytest.mark.parametrize(("host", "loopback"), [
    pytest.param("localhost", True, id="localhost"),
    pytest.param("LocalHost", True, id="localhost-case"),
    pytest.param("LocalHost.", False, id="localhost-case-dot"),
    pytest.param("127.0.0.1.", False, id="ipv4-dot"),
    pytest.param("[::1%25lo]", False, id="ipv6-zone"),
    pytest.param("127.0.0.1", True, id="127-0-0-1"),
    pytest.param("127.9.9.9", True, id="127-8"),
    pytest.param("[::1]", True, id="ipv6-bracketed"),
    pytest.param("::1", True, id="ipv6"),
    pytest.param("128.0.0.1", False, id="128"),
    pytest.param("10.0.0.1", False, id="private"),
    pytest.param("localhost.evil.example", False, id="suffix"),
    pytest.param("evil.example", False, id="public"),
    pytest.param("", False, id="empty"),
])
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_sandbox_dry_run_stays_on_sandbox(rt: Runtime) -> None:
    request = rt.dry_run("customerio-pipelines.raw_http_request", {"method": "GET", "endpoint": "/@evil.example"},
                         {"api_key": APP_KEY, "sandbox_url": "http://127.0.0.1:8080"})
    assert request.url == "http://127.0.0.1:8080/customerio-pipelines/us/@evil.example"


# ---------------------------------------------------------------------------------------------
# Fingerprints and reprs


def fingerprint(connector: str, config: dict[str, Any]) -> str:
    return Runtime(load_entry_points=True).resolve_connection(connector, config).fingerprint


def test_fingerprint_stable_and_secret_free() -> None:
    first = fingerprint("customerio-track", TRACK)
    assert re.fullmatch(r"[0-9a-f]{16}", first)
    assert fingerprint("customerio-track", dict(TRACK)) == first  # a fresh runtime, same credential
    assert fingerprint("customerio-track", {**TRACK, "region": "us"}) == first  # default made explicit
    assert fingerprint("customerio-track", {**TRACK, "api_key": Secret(TRACK_KEY)}) == first


@pytest.mark.parametrize("change", [
    pytest.param({"api_key": TRACK_KEY + "x"}, id="other-key"),
    pytest.param({"site_id": SITE_ID + "x"}, id="other-site"),
    pytest.param({"region": "eu"}, id="other-region"),
    pytest.param({"sandbox_url": "http://127.0.0.1:8080"}, id="sandbox"),
])
def test_fingerprint_differs_per_credential_and_host(change: dict[str, str]) -> None:
    assert fingerprint("customerio-track", {**TRACK, **change}) != fingerprint("customerio-track", TRACK)


def test_fingerprint_differs_per_connector() -> None:
    assert fingerprint("customerio-app", {"api_key": APP_KEY}) != fingerprint("customerio-beta", {"api_key": APP_KEY})


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(("connector", "config", "secret", "header"), [
    pytest.param("customerio-track", TRACK, TRACK_KEY, _basic(SITE_ID, TRACK_KEY), id="track"),
    pytest.param("customerio-app", {"api_key": APP_KEY}, APP_KEY, f"Bearer {APP_KEY}", id="app"),
    pytest.param("customerio-pipelines", {"api_key": APP_KEY, "region": "eu"}, APP_KEY, _basic(APP_KEY, ""),
                 id="pipelines"),
])
def test_resolved_connection_hides_secret(rt: Runtime, connector: str, config: dict[str, str], secret: str,
                                          header: str) -> None:
    resolved = rt.resolve_connection(connector, config)
    assert resolved.auth.headers() == {"Authorization": header}  # the credential is there, only hidden
    token = header.split(" ", 1)[1]
    for text in (repr(resolved), str(resolved), repr(resolved.auth), repr(resolved.public), resolved.fingerprint):
        assert secret not in text and token not in text
    assert "api_key" not in resolved.public


def test_public_fields_keep_site_id(rt: Runtime) -> None:
    resolved = rt.resolve_connection("customerio-track", TRACK)
    assert resolved.public == {"site_id": SITE_ID, "region": "us"}
