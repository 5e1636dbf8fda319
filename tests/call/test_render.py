"""Tests for relaykit.render: slots encoded for their destination, and nothing leaves the base URL.

Everything here is a dry run: requests are rendered, never sent.
"""

from __future__ import annotations

import base64
import json
import math
import re
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

import pytest
import requests
from canary_scan import APP_KEY, PIPELINES_KEY, SITE_ID, TRACK_KEY  # the suite's canaries
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from relaykit.call.render import (
    RESERVED_HEADERS,
    _query_string,
    assert_same_origin,
    check_endpoint,
    check_header,
    dump_json,
    encode_segment,
)
from relaykit.errors import InputValidationError, RelaykitError, RenderError
from relaykit.runtime import Runtime
from relaykit.templates.filters import TemplateRenderError
from urllib3.util import parse_url

PIPE_KEY = PIPELINES_KEY

CONNECTIONS: dict[str, dict[str, str]] = {
    "customerio-track": {"site_id": SITE_ID, "api_key": TRACK_KEY},
    "customerio-app": {"api_key": APP_KEY},
    "customerio-beta": {"api_key": APP_KEY},
    "customerio-pipelines": {"api_key": PIPE_KEY},
}
BASES = {
    ("customerio-track", "us"): "https://track.customer.io/api",
    ("customerio-track", "eu"): "https://track-eu.customer.io/api",
    ("customerio-app", "us"): "https://api.customer.io/v1",
    ("customerio-beta", "us"): "https://beta-api.customer.io/v1/api",
    ("customerio-pipelines", "us"): "https://cdp.customer.io",
    ("customerio-pipelines", "eu"): "https://cdp-eu.customer.io",
}
TARGETS = [pytest.param(c, r, id=f"{c}-{r}") for c, r in BASES]
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


@pytest.fixture(scope="module")
def rt() -> Runtime:
    return Runtime(load_entry_points=True)


def conn(connector: str, region: str = "us") -> dict[str, str]:
    return {**CONNECTIONS[connector], "region": region}


def raw(rt: Runtime, connector: str, region: str = "us", **data: Any) -> Any:
    return rt.dry_run(f"{connector}.raw_http_request", data, conn(connector, region))


def assert_on_base(url: str, base: str) -> None:
    """The URL, as urllib3 parses it and as requests would prepare it, stays under the base URL."""
    b = parse_url(base)
    base_path = (b.path or "").rstrip("/") + "/"
    prepared = requests.Request("GET", url).prepare().url
    assert prepared is not None
    for candidate in (url, prepared):
        f = parse_url(candidate)
        assert (f.scheme, f.host, f.port, f.auth) == (b.scheme, b.host, b.port, None), candidate
        assert (f.path or "").startswith(base_path), candidate


def pointers(exc: BaseException) -> list[str]:
    if isinstance(exc, RenderError):
        return [exc.pointer]
    return [p.pointer for p in getattr(exc, "problems", [])]


# ---------------------------------------------------------------------------------------------
# Path parameters


@pytest.mark.parametrize(("value", "segment"), [
    pytest.param("a/b", "a%2Fb", id="slash"),
    pytest.param("ada@x.io", "ada%40x.io", id="email"),
    pytest.param("jane+news@example.com", "jane%2Bnews%40example.com", id="plus"),
    pytest.param("a b", "a%20b", id="space"),
    pytest.param(" a ", "%20a%20", id="surrounding-spaces"),
    pytest.param("\U0001f600", "%F0%9F%98%80", id="emoji"),
    pytest.param("cio_03000001a2b3", "cio_03000001a2b3", id="cio-id"),
    pytest.param("a?b", "a%3Fb", id="question"),
    pytest.param("a#b", "a%23b", id="hash"),
    pytest.param("a;b=c", "a%3Bb%3Dc", id="semicolon"),
    pytest.param("%2e%2e", "%252e%252e", id="pre-encoded-dots"),
    pytest.param("%2F", "%252F", id="pre-encoded-slash"),
    pytest.param("a\r\nb", "a%0D%0Ab", id="crlf"),
    pytest.param("a\x00b", "a%00b", id="nul"),
    pytest.param("...", "...", id="three-dots"),
    pytest.param(".a", ".a", id="leading-dot"),
    pytest.param("0", "0", id="zero-string"),
    pytest.param("a\\b", "a%5Cb", id="backslash"),
    pytest.param(42, "42", id="int"),
    pytest.param(2**53 + 1, "9007199254740993", id="beyond-2-53"),
])
def test_encode_segment(value: Any, segment: str) -> None:
    assert encode_segment(value, "/p") == segment


@pytest.mark.parametrize("value", [
    pytest.param("", id="empty"),
    pytest.param(".", id="dot"),
    pytest.param("..", id="dotdot"),
    pytest.param("   ", id="spaces"),
    pytest.param("\t\n", id="tab-newline"),
    pytest.param("\u3000", id="ideographic-space"),
    pytest.param(None, id="none"),
    pytest.param(True, id="bool"),
    pytest.param({"a": 1}, id="dict"),
    pytest.param(["a"], id="list"),
])
def test_encode_segment_refuses(value: Any) -> None:
    with pytest.raises(TemplateRenderError) as info:
        encode_segment(value, "/request/path")
    assert info.value.pointer == "/request/path"


TRACK_PATH_OPS = [
    pytest.param("delete_customer", "/v1/customers/{}", id="delete_customer"),
    pytest.param("track_event", "/v1/customers/{}/events", id="track_event"),
    pytest.param("create_or_update_customer", "/v1/customers/{}", id="create_or_update_customer"),
]


def track_input(op: str, identifier: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"identifier": identifier}
    if op == "track_event":
        data["name"] = "signed_up"
    return data


@pytest.mark.parametrize(("op", "template"), TRACK_PATH_OPS)
@pytest.mark.parametrize(("identifier", "segment"), [
    pytest.param("a/b", "a%2Fb", id="slash"),
    pytest.param("ada@x.io", "ada%40x.io", id="email"),
    pytest.param("ada+tag@x.io", "ada%2Btag%40x.io", id="plus"),
    pytest.param("a/b@x.io", "a%2Fb%40x.io", id="email-with-slash"),
    pytest.param("Ada Lovelace", "Ada%20Lovelace", id="space"),
    pytest.param("\U0001f680", "%F0%9F%9A%80", id="emoji"),
    pytest.param("cio_03000001a2b3", "cio_03000001a2b3", id="cio-id"),
    pytest.param("%2e%2e", "%252e%252e", id="pre-encoded-dots"),
    pytest.param("a?b#c", "a%3Fb%23c", id="query-and-fragment-chars"),
    pytest.param("0", "0", id="zero"),
    pytest.param("é" * 75, "%C3%A9" * 75, id="150-bytes"),
])
def test_identifier_is_one_encoded_segment(rt: Runtime, op: str, template: str, identifier: str,
                                           segment: str) -> None:
    request = rt.dry_run(f"customerio-track.{op}", track_input(op, identifier), CONNECTIONS["customerio-track"])
    assert request.url == "https://track.customer.io/api" + template.format(segment)
    assert_on_base(request.url, "https://track.customer.io/api")
    # requests keeps the encoding as rendered
    assert requests.Request("GET", request.url).prepare().url == request.url


@pytest.mark.parametrize(("op", "template"), TRACK_PATH_OPS)
@pytest.mark.parametrize("identifier", [
    pytest.param("", id="empty"),
    pytest.param(".", id="dot"),
    pytest.param("..", id="dotdot"),
    pytest.param(" ", id="space"),
    pytest.param("\t", id="tab"),
    pytest.param("\n", id="newline"),
    pytest.param("\xa0", id="nbsp"),
    pytest.param("\u3000", id="ideographic-space"),
    pytest.param(0, id="int-zero"),
    pytest.param(None, id="none"),
    pytest.param("x" * 151, id="151-bytes"),
    pytest.param("x" * 10_000, id="10kb"),
    pytest.param(2**53 + 1, id="int-beyond-2-53"),
    pytest.param("é" * 76, id="152-bytes-two-byte-chars"),
])
def test_bad_identifier_refused_before_sending(rt: Runtime, op: str, template: str, identifier: Any) -> None:
    with pytest.raises((InputValidationError, RenderError)) as info:
        rt.dry_run(f"customerio-track.{op}", track_input(op, identifier), CONNECTIONS["customerio-track"])
    where = pointers(info.value)
    assert "/identifier" in where or any(p.startswith("/request/path") for p in where), where


@given(identifier=st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40)
       | st.text(alphabet=st.sampled_from(list("/.%@\\:?#~ +2eEfF")), min_size=1, max_size=12))
@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_identifier_round_trips_property(rt: Runtime, identifier: str) -> None:
    """Any identifier is refused or lands as exactly one segment that decodes back to itself."""
    try:
        request = rt.dry_run("customerio-track.track_event", {"identifier": identifier, "name": "n"},
                             CONNECTIONS["customerio-track"])
    except (InputValidationError, RenderError):
        return
    path = parse_url(request.url).path or ""
    assert path.startswith("/api/v1/customers/") and path.endswith("/events")
    segment = path[len("/api/v1/customers/"):-len("/events")]
    assert "/" not in segment
    assert unquote(segment, errors="surrogatepass") == identifier


# ---------------------------------------------------------------------------------------------
# The raw HTTP endpoint catalogue

REFUSED_ENDPOINTS = [
    pytest.param("", id="empty"),
    pytest.param("customers", id="no-leading-slash"),
    pytest.param("//evil.example/x", id="scheme-relative"),
    pytest.param("///evil.example", id="triple-slash"),
    pytest.param("https://evil.example/x", id="absolute-url"),
    pytest.param("/https://evil.example/x", id="embedded-url"),
    pytest.param("@evil.example/x", id="at-host"),
    pytest.param(".evil.example/x", id="dot-host"),
    pytest.param(":1@evil.example/", id="port-userinfo"),
    pytest.param("\\evil.example", id="backslash-start"),
    pytest.param("/\\evil.example", id="slash-backslash"),
    pytest.param("/x\\y", id="inner-backslash"),
    pytest.param("/%2F%2Fevil.example", id="encoded-double-slash"),
    pytest.param("/x%2fy", id="encoded-slash-lower"),
    pytest.param("/x%5Cy", id="encoded-backslash"),
    pytest.param("/..", id="dotdot"),
    pytest.param("/.", id="dot"),
    pytest.param("/../v2/x", id="dotdot-prefix"),
    pytest.param("/customers/../../x", id="dotdot-inner"),
    pytest.param("/customers/%2e%2e/x", id="encoded-dotdot"),
    pytest.param("/customers/%2E%2E%2Fx", id="encoded-dotdot-slash"),
    pytest.param("/customers/.%2e/x", id="half-encoded-dotdot"),
    pytest.param("/customers/./x", id="dot-inner"),
    pytest.param("/%2e", id="encoded-dot"),
    pytest.param("/customers/x?api_key=1", id="query"),
    pytest.param("/customers/x#frag", id="fragment"),
    pytest.param("/x\r\nX-Evil: 1", id="crlf"),
    pytest.param("/x%0d%0a", id="encoded-crlf"),
    pytest.param("/x%0D%0AX-Evil:%201", id="encoded-header-injection"),
    pytest.param("/x\x00", id="nul"),
    pytest.param("/x%00", id="encoded-nul"),
    pytest.param("/x%7f", id="encoded-del"),
    pytest.param("/x\ty", id="tab"),
    pytest.param(" /x", id="leading-space"),
    pytest.param("/x ", id="trailing-space"),
    pytest.param("/x\u202ey", id="rtl-override"),
    pytest.param("/x\u2028y", id="line-separator"),
    pytest.param("/" + "a" * 100_000, id="100kb"),
    pytest.param("/{{ connection.api_key }}", id="template-spaced"),
    pytest.param("/{{connection.api_key}}", id="template"),
    pytest.param("/x%2540", id="double-encoded"),
    pytest.param("/x%", id="bare-percent"),
    pytest.param("/%zz", id="bad-escape"),
    pytest.param("/ü", id="non-ascii"),
]


@pytest.mark.parametrize(("connector", "region"), TARGETS)
@pytest.mark.parametrize("endpoint", REFUSED_ENDPOINTS)
def test_endpoint_refused(rt: Runtime, connector: str, region: str, endpoint: str) -> None:
    with pytest.raises(InputValidationError) as info:
        raw(rt, connector, region, method="GET", endpoint=endpoint)
    assert "/endpoint" in pointers(info.value)
    text = str(info.value)
    assert "evil" not in text and "api_key=1" not in text  # the error names the field, not the value


@pytest.mark.parametrize(("connector", "region"), TARGETS)
def test_full_url_to_the_right_host_refused(rt: Runtime, connector: str, region: str) -> None:
    with pytest.raises(InputValidationError) as info:
        raw(rt, connector, region, method="GET", endpoint=BASES[connector, region] + "/x")
    assert "/endpoint" in pointers(info.value)


ACCEPTED_ENDPOINTS = [
    pytest.param("/", id="root"),
    pytest.param("/@evil.example/x", id="slash-at-host"),
    pytest.param("/.evil.example/x", id="slash-dot-host"),
    pytest.param("/:1@evil.example/", id="slash-port-userinfo"),
    pytest.param("/x@evil.example", id="userinfo-like-segment"),
    pytest.param("/v1/customers/ada%40example.com", id="encoded-email"),
    pytest.param("/x/..y", id="dotdot-prefix-segment"),
    pytest.param("/x/...", id="three-dots"),
    pytest.param("/~user;v=1", id="tilde-semicolon"),
    pytest.param("/x//y", id="empty-segment"),
]


@pytest.mark.parametrize(("connector", "region"), TARGETS)
@pytest.mark.parametrize("endpoint", ACCEPTED_ENDPOINTS)
def test_endpoint_rendered_under_base(rt: Runtime, connector: str, region: str, endpoint: str) -> None:
    base = BASES[connector, region]
    request = raw(rt, connector, region, method="GET", endpoint=endpoint)
    assert request.url == base + endpoint
    assert_on_base(request.url, base)


@pytest.mark.parametrize("endpoint", [
    pytest.param("/x", id="plain"),
    pytest.param("/", id="root"),
    pytest.param("customers", id="relative"),
    pytest.param("/a/b%20c/d", id="encoded-space"),
])
def test_check_endpoint_accepts_or_problem_has_pointer(endpoint: str) -> None:
    problem = check_endpoint(endpoint)
    if endpoint.startswith("/"):
        assert problem is None
    else:
        assert problem is not None and problem.pointer == "/endpoint"


@pytest.mark.parametrize("endpoint", [p for p in REFUSED_ENDPOINTS if p.id != "100kb"])
def test_check_endpoint_refuses_catalogue(endpoint: str) -> None:
    problem = check_endpoint(endpoint)
    assert problem is not None and problem.pointer == "/endpoint"
    assert len(endpoint) < 3 or endpoint not in problem.message


@pytest.mark.parametrize(("url", "base", "ok"), [
    pytest.param("https://cdp.customer.io/v1/x", "https://cdp.customer.io", True, id="same"),
    pytest.param("https://CDP.customer.io./v1/x", "https://cdp.customer.io", True, id="case-and-trailing-dot"),
    pytest.param("https://track.customer.io/api/x", "https://track.customer.io/api/", True, id="base-trailing-slash"),
    pytest.param("https://cdp.customer.io@evil.example/v1", "https://cdp.customer.io", False, id="userinfo"),
    pytest.param("https://cdp.customer.io.evil.example/v1", "https://cdp.customer.io", False, id="host-suffix"),
    pytest.param("https://cdp.customer.io%2eevil.example/v1", "https://cdp.customer.io", False, id="encoded-dot"),
    pytest.param("https://cdp.customer.io:1@evil.example/", "https://cdp.customer.io", False, id="port-userinfo"),
    pytest.param("https://u:p@cdp.customer.io/x", "https://cdp.customer.io", False, id="auth-same-host"),
    pytest.param("http://cdp.customer.io/x", "https://cdp.customer.io", False, id="scheme"),
    pytest.param("https://cdp.customer.io:8443/x", "https://cdp.customer.io", False, id="port"),
    pytest.param("https://evil.example\\.track.customer.io/api/x", "https://track.customer.io/api", False,
                 id="backslash-differential"),
    pytest.param("https://track.customer.io/apix", "https://track.customer.io/api", False, id="path-prefix-no-slash"),
    pytest.param("https://track.customer.io/api", "https://track.customer.io/api", False, id="path-equals-base"),
    pytest.param("https://track.customer.io/v1/x", "https://track.customer.io/api", False, id="other-path"),
])
def test_assert_same_origin(url: str, base: str, ok: bool) -> None:
    if ok:
        assert_same_origin(url, base)
    else:
        with pytest.raises(ValueError):
            assert_same_origin(url, base)


ENDPOINT_TOKENS = [
    "/", "/", "/", ".", "..", "%", "%2e", "%2E", "%2f", "%2F", "%25", "%40", "%5c", "%00", "%0d%0a", "@", "\\",
    ":", "?", "#", "~", "//", ":1@", "evil.example", "v1", "customers", "a", "\r", "\n", "\x00", "\t", " ",
    "\x7f", "\u202e", "é", "{{", "}}", "https://", ";",
]
RISKY = st.lists(
    st.sampled_from(ENDPOINT_TOKENS) | st.text(alphabet=st.sampled_from(list("/.%@\\:?#~abcdef0123456789")),
                                               max_size=4)
    | st.characters(max_codepoint=0x7F),
    max_size=12,
).map("".join)
SAFE_TEXT = st.text(alphabet=st.sampled_from(list("abcXYZ019-_.~@:;=!$&'()*+,")), min_size=1, max_size=6)
RISKY_TOKEN = st.sampled_from(["%2e", "%2E", "%40", "%3A", "%25", "%5c", "%2f", "%0a", "..", "evil.example",
                                ":1@evil.example", "%2e%2e", "%"])
# one piece in eight is a risky token, otherwise plain path characters
SEGMENT = st.lists(
    st.tuples(st.integers(0, 7), SAFE_TEXT, RISKY_TOKEN).map(lambda t: t[2] if t[0] == 0 else t[1]),
    min_size=1, max_size=3,
).map("".join)
PLAUSIBLE = st.lists(SEGMENT, min_size=1, max_size=6).map(lambda parts: "/" + "/".join(parts))
# plausible paths (over half of them render) and free-form probes of the refusals
ENDPOINTS = st.one_of(PLAUSIBLE, RISKY)


@pytest.mark.slow
@pytest.mark.parametrize(("connector", "region"), [pytest.param(c, "us", id=c) for c in CONNECTIONS])
@given(endpoint=ENDPOINTS)
@settings(max_examples=10_000, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_endpoint_property_never_leaves_base(rt: Runtime, connector: str, region: str, endpoint: str) -> None:
    """S1: every generated suffix is refused before sending or rendered under the pinned base URL."""
    try:
        request = raw(rt, connector, region, method="POST", endpoint=endpoint, body={"json": {}})
    except (InputValidationError, RenderError) as exc:
        assert "/endpoint" in pointers(exc) or "/body" in pointers(exc)
        event("refused")
        return
    event("rendered")
    assert_on_base(request.url, BASES[connector, region])


# ---------------------------------------------------------------------------------------------
# Methods and headers


@pytest.mark.parametrize("method", [
    pytest.param("get", id="lower"),
    pytest.param("GET ", id="trailing-space"),
    pytest.param("GET\r\nX: y", id="crlf"),
    pytest.param("CONNECT", id="connect"),
    pytest.param("TRACE", id="trace"),
    pytest.param("PROPFIND", id="propfind"),
    pytest.param("", id="empty"),
    pytest.param("G" * 1000, id="long"),
])
def test_bad_method_refused_by_schema(rt: Runtime, method: str) -> None:
    with pytest.raises(InputValidationError) as info:
        raw(rt, "customerio-app", method=method, endpoint="/x")
    assert pointers(info.value) == ["/method"]


RESERVED = ["authorization", "Proxy-Authorization", "Cookie", "Host", "Content-Length", "Transfer-Encoding",
            "Connection", "X-Forwarded-Host", "X-Forwarded-For", "TE", "Upgrade", "Expect",
            # issue 12, item 4: routing and hop-by-hop headers passed through raw HTTP
            "Forwarded", "X-Forwarded-Proto", "X-Original-URL", "X-Rewrite-URL", "X-HTTP-Method-Override",
            "X-HTTP-Method", "X-Method-Override", "Via", "Keep-Alive", "Proxy-Connection", "Trailer",
            "X_Forwarded_For", "X_HTTP_Method_Override"]


@pytest.mark.parametrize("name", [
    pytest.param(variant, id=f"{base}-{how}") for base in RESERVED
    for how, variant in (("as-given", base), ("lower", base.lower()), ("upper", base.upper()),
                         ("title", base.title()))
])
def test_reserved_header_refused_any_case(rt: Runtime, name: str) -> None:
    problem = check_header(name, "v", "/headers/x")
    assert problem is not None and "cannot be given" in problem.message
    with pytest.raises(InputValidationError) as info:
        raw(rt, "customerio-app", method="GET", endpoint="/x", headers={name: "v"})
    assert pointers(info.value) == [f"/headers/{name}"]


def test_reserved_set_covers_the_catalogue() -> None:
    for name in ("authorization", "proxy-authorization", "cookie", "host", "content-length", "transfer-encoding",
                 "connection"):
        assert name in RESERVED_HEADERS


@pytest.mark.parametrize(("name", "value", "fragment"), [
    pytest.param("X-Test", "a\rb", "control", id="cr"),
    pytest.param("X-Test", "a\nb", "control", id="lf"),
    pytest.param("X-Test", "a\r\nX-Evil: 1", "control", id="crlf-injection"),
    pytest.param("X-Test", "a\x00b", "control", id="nul"),
    pytest.param("X-Test", "a\tb", "control", id="tab"),
    pytest.param("X-Test", "\x7f", "control", id="del"),
    pytest.param("X-Test", " a", "whitespace", id="leading-space"),
    pytest.param("X-Test", "a ", "whitespace", id="trailing-space"),
    pytest.param("X-Test", "\U0001f600", "latin-1", id="emoji"),
    pytest.param("X-Test", 1, "strings", id="not-a-string"),
    pytest.param("X-Api:Key", "v", "token", id="colon-in-name"),
    pytest.param("Bad Name", "v", "token", id="space-in-name"),
    pytest.param("X\r\nY", "v", "token", id="crlf-in-name"),
    pytest.param("", "v", "token", id="empty-name"),
    pytest.param("Näme", "v", "token", id="non-ascii-name"),
])
def test_check_header_refuses(name: str, value: Any, fragment: str) -> None:
    problem = check_header(name, value, "/headers/h")
    assert problem is not None and problem.pointer == "/headers/h"
    assert fragment in problem.message


@pytest.mark.parametrize(("name", "value"), [
    pytest.param("X-Test", "v", id="plain"),
    pytest.param("X-Test", "é", id="latin-1"),
    pytest.param("X-Test", "a b", id="inner-space"),
    pytest.param("X-Test", "", id="empty-value"),
    pytest.param("Accept", "text/plain", id="accept"),
])
def test_check_header_accepts(name: str, value: str) -> None:
    assert check_header(name, value, "/headers/h") is None


@pytest.mark.parametrize("value", [
    pytest.param("a\rb", id="cr"), pytest.param("a\nb", id="lf"), pytest.param("a\x00b", id="nul"),
])
def test_control_characters_in_header_values_refused_in_dry_run(rt: Runtime, value: str) -> None:
    with pytest.raises(InputValidationError) as info:
        raw(rt, "customerio-pipelines", method="GET", endpoint="/v1/x", headers={"X-Test": value})
    assert pointers(info.value) == ["/headers/X-Test"]


@pytest.mark.parametrize(("headers", "pointer"), [
    pytest.param({"X-Test": "v" * 8193}, "/headers/X-Test", id="value-over-8kb"),
    pytest.param({"X-Test": "v" * 100_000}, "/headers/X-Test", id="value-100kb"),
    pytest.param({f"X-H{i}": "v" for i in range(1000)}, "/headers", id="1000-headers"),
])
def test_oversized_headers_refused(rt: Runtime, headers: dict[str, str], pointer: str) -> None:
    with pytest.raises(InputValidationError) as info:
        raw(rt, "customerio-app", method="GET", endpoint="/x", headers=headers)
    assert pointers(info.value) == [pointer]


def test_header_pointer_escapes_slash_and_tilde(rt: Runtime) -> None:
    with pytest.raises(InputValidationError) as info:
        raw(rt, "customerio-app", method="GET", endpoint="/x", headers={"X/~y": "v"})
    assert pointers(info.value) == ["/headers/X~1~0y"]


# ---------------------------------------------------------------------------------------------
# Bodies


@pytest.mark.parametrize(("value", "encoded"), [
    pytest.param({"a": 1, "b": [True, None]}, b'{"a":1,"b":[true,null]}', id="compact"),
    pytest.param({"é": "ü"}, '{"é":"ü"}'.encode(), id="utf-8-not-escaped"),
    pytest.param(Decimal("2"), b"2", id="decimal-integral"),
    pytest.param(Decimal("2.50"), b"2.5", id="decimal-fraction"),
    pytest.param(Decimal("1E+2"), b"100", id="decimal-exponent"),
    pytest.param(1.5, b"1.5", id="float"),
    pytest.param("</script>", b'"</script>"', id="string"),
])
def test_dump_json(value: Any, encoded: bytes) -> None:
    assert dump_json(value) == encoded


def _circular() -> dict[str, Any]:
    d: dict[str, Any] = {}
    d["self"] = d
    return d


def _deep(n: int) -> list[Any]:
    root: list[Any] = []
    node = root
    for _ in range(n):
        child: list[Any] = []
        node.append(child)
        node = child
    return root


@pytest.mark.parametrize("value", [
    pytest.param(math.nan, id="nan"),
    pytest.param({"a": math.inf}, id="inf"),
    pytest.param([-math.inf], id="minus-inf"),
    pytest.param(Decimal("NaN"), id="decimal-nan"),
    pytest.param(Decimal("sNaN"), id="decimal-snan"),
    pytest.param(Decimal("-Infinity"), id="decimal-inf"),
    pytest.param(b"x", id="bytes"),
    pytest.param({1, 2}, id="set"),
    pytest.param(object(), id="object"),
    pytest.param(_circular(), id="circular"),
    pytest.param(_deep(10_000), id="depth-10000"),
])
def test_dump_json_refuses(value: Any) -> None:
    with pytest.raises(ValueError):
        dump_json(value)


@pytest.mark.parametrize("json_body", [
    pytest.param({"a": math.nan}, id="nan"),
    pytest.param({"a": math.inf}, id="inf"),
    pytest.param({"a": -math.inf}, id="minus-inf"),
    pytest.param({"a": Decimal("Infinity")}, id="decimal-inf"),
])
def test_non_finite_body_refused(rt: Runtime, json_body: Any) -> None:
    # refused with the input's own pointer before rendering (specs.values); dump_json refuses it too (above)
    with pytest.raises(InputValidationError) as info:
        raw(rt, "customerio-app", method="POST", endpoint="/x", body={"json": json_body})
    assert [p.pointer for p in info.value.problems] == ["/body/json/a"]


def test_non_finite_event_data_refused(rt: Runtime) -> None:
    with pytest.raises(InputValidationError) as info:
        rt.dry_run("customerio-track.track_event", {"identifier": "a", "name": "n", "data": {"x": math.nan}},
                   CONNECTIONS["customerio-track"])
    assert [p.pointer for p in info.value.problems] == ["/data/x"]


def test_decimal_allowed(rt: Runtime) -> None:
    request = rt.dry_run("customerio-track.track_event",
                         {"identifier": "a", "name": "n", "data": {"amount": Decimal("19.99"), "qty": Decimal("3")}},
                         CONNECTIONS["customerio-track"])
    assert json.loads(request.body)["data"] == {"amount": 19.99, "qty": 3}
    request = raw(rt, "customerio-app", method="POST", endpoint="/x", body={"json": {"a": Decimal("1.50")}})
    assert request.body == b'{"a":1.5}'


def test_spread_explicit_keys_win(rt: Runtime) -> None:
    request = rt.dry_run("customerio-track.create_or_update_customer", {
        "identifier": "ada@example.com",
        "email": "explicit@example.com",
        "created_at": 1700000000,
        "attributes": {"email": "attr@example.com", "created_at": 1, "plan": "pro"},
    }, CONNECTIONS["customerio-track"])
    assert json.loads(request.body) == {"plan": "pro", "email": "explicit@example.com", "created_at": 1700000000}


def test_spread_fills_absent_explicit_keys(rt: Runtime) -> None:
    request = rt.dry_run("customerio-track.create_or_update_customer",
                         {"identifier": "a", "attributes": {"email": "attr@example.com", "plan": "pro"}},
                         CONNECTIONS["customerio-track"])
    assert json.loads(request.body) == {"email": "attr@example.com", "plan": "pro"}


def test_spread_key_inside_user_data_stays_data(rt: Runtime) -> None:
    data = {"nested": {"...": {"a": 1}, "b": 2}}
    request = rt.dry_run("customerio-track.track_event", {"identifier": "a", "name": "n", "data": data},
                         CONNECTIONS["customerio-track"])
    assert json.loads(request.body)["data"] == data


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("body", [
    pytest.param({"json": {"a": 1}}, id="json"),
    pytest.param({"json": None}, id="json-null"),
    pytest.param({"form": {"a": "1"}}, id="form"),
    pytest.param({"raw": "x", "content_type": "text/plain"}, id="raw"),
])
def test_body_on_get_or_head_refused(rt: Runtime, method: str, body: dict[str, Any]) -> None:
    with pytest.raises(InputValidationError) as info:
        raw(rt, "customerio-app", method=method, endpoint="/x", body=body)
    assert pointers(info.value) == ["/body"]


@pytest.mark.parametrize("body", [
    pytest.param({"json": {"a": 1}, "form": {"b": "2"}}, id="json-and-form"),
    pytest.param({"json": None, "form": {"b": "2"}}, id="null-json-and-form"),
])
def test_two_body_kinds_refused(rt: Runtime, body: dict[str, Any]) -> None:
    with pytest.raises(InputValidationError) as info:
        raw(rt, "customerio-app", method="POST", endpoint="/x", body=body)
    assert "/body" in pointers(info.value)


@pytest.mark.parametrize(("body", "payload", "content_type"), [
    pytest.param({"json": {"a": 1}}, b'{"a":1}', "application/json", id="json"),
    pytest.param({"form": {"a": "1 2", "b": "&"}}, b"a=1+2&b=%26", "application/x-www-form-urlencoded", id="form"),
    pytest.param({"raw": "hello", "content_type": "text/plain"}, b"hello", "text/plain", id="raw"),
])
def test_body_kinds_rendered(rt: Runtime, body: dict[str, Any], payload: bytes, content_type: str) -> None:
    request = raw(rt, "customerio-app", method="POST", endpoint="/x", body=body)
    assert request.body == payload
    assert request.headers["Content-Type"] == content_type


# ---------------------------------------------------------------------------------------------
# Query strings


@pytest.mark.parametrize(("query", "expected"), [
    pytest.param({"a": [1, 2]}, "a=1&a=2", id="list-repeats"),
    pytest.param({"t": True, "f": False}, "t=true&f=false", id="booleans"),
    pytest.param({"q": "é&=?#"}, "q=%C3%A9%26%3D%3F%23", id="reserved-chars"),
    pytest.param({"q": "x\r\ny"}, "q=x%0D%0Ay", id="crlf"),
    pytest.param({"q": "a b+c"}, "q=a%20b%2Bc", id="space-plus"),
    pytest.param({"a b": "1"}, "a%20b=1", id="key-encoded"),
    pytest.param({"api_key": "x"}, "api_key=x", id="reserved-looking-key"),
])
def test_query_encoding(rt: Runtime, query: dict[str, Any], expected: str) -> None:
    request = raw(rt, "customerio-app", method="GET", endpoint="/x", query=query)
    assert request.url == "https://api.customer.io/v1/x?" + expected
    assert_on_base(request.url, "https://api.customer.io/v1")


@pytest.mark.parametrize("query", [
    pytest.param({"a": {"b": 1}}, id="nested-mapping"),
    pytest.param({"a": [{"b": 1}]}, id="mapping-in-list"),
    pytest.param({"a": [[1]]}, id="nested-list"),
    pytest.param({"a": None}, id="none"),
    pytest.param({"a": 1.5}, id="float"),
])
def test_query_refused_by_schema(rt: Runtime, query: dict[str, Any]) -> None:
    with pytest.raises(InputValidationError) as info:
        raw(rt, "customerio-app", method="GET", endpoint="/x", query=query)
    assert pointers(info.value) == ["/query/a"]


@pytest.mark.parametrize(("query", "expected"), [
    pytest.param(None, "", id="none"),
    pytest.param({}, "", id="empty"),
    pytest.param({"a": None, "b": 1}, "b=1", id="none-skipped"),
    pytest.param({"a": [True, 0, "x"]}, "a=true&a=0&a=x", id="mixed-list"),
])
def test_query_string(query: Any, expected: str) -> None:
    assert _query_string(query) == expected


@pytest.mark.parametrize("query", [
    pytest.param({"a": {"b": 1}}, id="mapping"),
    pytest.param({"a": [{"b": 1}]}, id="mapping-in-list"),
    pytest.param({"a": [[1]]}, id="list-in-list"),
])
def test_query_string_refuses_nesting(query: Any) -> None:
    with pytest.raises(ValueError):
        _query_string(query)


# ---------------------------------------------------------------------------------------------
# Keyed idempotency


def test_track_event_id_generated_when_absent(rt: Runtime) -> None:
    first = rt.dry_run("customerio-track.track_event", {"identifier": "a", "name": "n"},
                       CONNECTIONS["customerio-track"])
    second = rt.dry_run("customerio-track.track_event", {"identifier": "a", "name": "n"},
                        CONNECTIONS["customerio-track"])
    for request in (first, second):
        body = json.loads(request.body)
        assert ULID.match(body["id"])
        assert request.idempotency == "keyed"
        assert request.idempotency_key == body["id"] == request.json["id"]
    assert first.idempotency_key != second.idempotency_key


def test_track_event_id_kept_when_given(rt: Runtime) -> None:
    given_id = "01HZY7K8Q4W9X2M5N6P3R1T0VA"
    request = rt.dry_run("customerio-track.track_event", {"identifier": "a", "name": "n", "event_id": given_id},
                         CONNECTIONS["customerio-track"])
    assert json.loads(request.body)["id"] == given_id
    assert request.idempotency_key == given_id


def test_pipelines_batch_one_message_id_per_item(rt: Runtime) -> None:
    given_id = "01HZY7K8Q4W9X2M5N6P3R1T0VJ"
    batch = [
        {"type": "track", "userId": "1", "event": "a"},
        {"type": "identify", "userId": "2", "messageId": given_id},
        {"type": "track", "userId": "3", "event": "b"},
    ]
    request = rt.dry_run("customerio-pipelines.batch", {"batch": batch}, CONNECTIONS["customerio-pipelines"])
    ids = [item["messageId"] for item in json.loads(request.body)["batch"]]
    assert ids[1] == given_id
    assert ULID.match(ids[0]) and ULID.match(ids[2])
    assert len(set(ids)) == 3
    assert request.idempotency == "keyed" and request.idempotency_key == ids[0]


@pytest.mark.parametrize(("endpoint", "body", "where"), [
    pytest.param("/v1/track", {"userId": "1", "event": "x"}, "/messageId", id="single"),
    pytest.param("/v1/batch", {"batch": [{"type": "track", "userId": "1", "event": "x"},
                                         {"type": "track", "userId": "2", "event": "y"}]},
                 "/batch/*/messageId", id="batch"),
])
def test_raw_pipelines_keyed_without_mutating_input(rt: Runtime, endpoint: str, body: dict[str, Any],
                                                    where: str) -> None:
    data = {"method": "POST", "endpoint": endpoint, "body": {"json": body}}
    snapshot = json.dumps(data, sort_keys=True)
    first = rt.dry_run("customerio-pipelines.raw_http_request", data, CONNECTIONS["customerio-pipelines"])
    second = rt.dry_run("customerio-pipelines.raw_http_request", data, CONNECTIONS["customerio-pipelines"])
    assert json.dumps(data, sort_keys=True) == snapshot  # the caller's input is left alone
    for request in (first, second):
        sent = json.loads(request.body)
        ids = [sent["messageId"]] if where == "/messageId" else [item["messageId"] for item in sent["batch"]]
        assert all(ULID.match(i) for i in ids) and len(set(ids)) == len(ids)
        assert request.idempotency == "keyed" and request.idempotency_key == ids[0]
    assert first.idempotency_key != second.idempotency_key  # a reused input dict is a new call


# ---------------------------------------------------------------------------------------------
# Secrets in dry-run output


def _secret_forms() -> list[str]:
    basic = f"{SITE_ID}:{TRACK_KEY}".encode()
    forms = [TRACK_KEY, APP_KEY, PIPE_KEY, f"{SITE_ID}:{TRACK_KEY}", f"{PIPE_KEY}:"]
    for raw_bytes in (basic, f"{PIPE_KEY}:".encode()):
        for enc in (base64.b64encode(raw_bytes), base64.urlsafe_b64encode(raw_bytes)):
            forms += [enc.decode(), enc.decode().rstrip("=")]
    forms += [quote(f, safe="") for f in forms]
    return forms


DRY_RUNS = [
    pytest.param("customerio-track.track_event", {"identifier": "ada@example.com", "name": "n"}, id="track_event"),
    pytest.param("customerio-track.raw_http_request", {"method": "GET", "endpoint": "/v1/accounts/region"},
                 id="track-raw"),
    pytest.param("customerio-app.trigger_broadcast", {"broadcast_id": 8, "data": {"a": 1}}, id="app-trigger"),
    pytest.param("customerio-beta.raw_http_request", {"method": "GET", "endpoint": "/campaigns"}, id="beta-raw"),
    pytest.param("customerio-pipelines.track", {"userId": "1", "event": "x"}, id="pipelines-track"),
]


@pytest.mark.parametrize(("name", "data"), DRY_RUNS)
def test_dry_run_output_has_no_secret(rt: Runtime, name: str, data: dict[str, Any]) -> None:
    connector = name.split(".")[0]
    request = rt.dry_run(name, data, CONNECTIONS[connector])
    assert request.display_headers()["Authorization"] == "***"
    outputs = [json.dumps(request.to_dict(), default=str), request.to_curl(), repr(request), str(request)]
    for text in outputs:
        for form in _secret_forms():
            assert form not in text
    assert "Authorization" not in request.headers  # credentials are applied by the transport only


def test_render_error_has_no_secret(rt: Runtime) -> None:
    with pytest.raises(RelaykitError) as info:
        raw(rt, "customerio-track", method="GET", endpoint=f"/{TRACK_KEY}?x")
    text = str(info.value) + repr(info.value) + json.dumps(info.value.to_dict())
    for form in _secret_forms():
        assert form not in text
