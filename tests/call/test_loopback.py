"""Issue 12, item 1: a `sandbox_url` never makes relaykit depend on a name lookup for its loopback promise.

`localhost.`, `127.0.0.1.`, `LocalHost.` and `[::1%25lo]` used to pass the loopback check (the
trailing dot was stripped before it) and were then handed to the system resolver, which may answer
with any address. Now only canonical loopback IP literals pass, and `localhost` is mapped to
127.0.0.1 by relaykit itself. The properties below hold for every spelling a grammar of near-misses
produces: whatever is accepted connects to a numeric loopback address, with no lookup.
"""

from __future__ import annotations

import ipaddress
import socket

from canary_scan import SITE_ID, TRACK_KEY
from hypothesis import given, settings
from hypothesis import strategies as st
from relaykit.errors import ConnectionConfigError
from relaykit.runtime import Runtime
from relaykit.transport.loopback import claims_loopback, loopback_literal

BASES = ["localhost", "127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "0.0.0.0", "::ffff:127.0.0.1", "127.1",
         "2130706433", "0x7f.0.0.1", "0177.0.0.1", "localhost6", "ip6-localhost", "app.localhost", "::", "128.0.0.1",
         "0:0:0:0:0:0:0:1", "::0:1", "127.0.0.1.nip.io", "example.org"]


def _mutate(base: str, how: str, n: int) -> str:
    if how == "dots":
        return base + "." * n
    if how == "upper":
        return "".join(c.upper() if (i + n) % 2 else c for i, c in enumerate(base))
    if how == "zone":
        return base + ["%25lo", "%lo", "%251", "%25eth0", "%"][n % 5]
    if how == "zeros":
        return base.replace(".", ".0", 1) if "." in base else base.replace(":", ":0", 1)
    if how == "fullwidth-dot":
        return base.replace(".", "\u3002")
    if how == "unicode-digit":
        return base.replace("1", "\u0661", 1)
    if how == "suffix":
        return base + [".evil.example", ".localdomain", ".", "..nip.io"][n % 4]
    if how == "space":
        return [" ", "\t", "\u00a0"][n % 3] + base
    return base


hosts = st.one_of(
    st.builds(_mutate, st.sampled_from(BASES),
              st.sampled_from(["none", "dots", "upper", "zone", "zeros", "fullwidth-dot", "unicode-digit", "suffix",
                               "space"]), st.integers(1, 3)),
    st.text(alphabet=st.sampled_from("0127.:[]%lochastLOCAHST5x\u3002"), max_size=24),
)


def _numeric(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `host` stands for *without any lookup* (AI_NUMERICHOST), or None if it would need one."""
    try:
        infos = socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return ipaddress.ip_address(infos[0][4][0])


@settings(max_examples=1000, deadline=None)
@given(hosts)
def test_an_accepted_host_needs_no_lookup_and_is_loopback(host: str) -> None:
    literal = loopback_literal(host)
    if literal is None:
        return
    address = _numeric(literal)
    assert address is not None and address.is_loopback, (host, literal)
    assert host.lower() == "localhost" or literal == host.lower()
    assert claims_loopback(host)  # the peer check covers everything the sandbox check accepts


@settings(max_examples=600, deadline=None)
@given(hosts, st.sampled_from(["http", "https", "HTTP"]), st.sampled_from(["", ":1", ":8080", ":65535"]),
       st.sampled_from(["", "/"]))
def test_an_accepted_sandbox_url_connects_to_a_numeric_loopback_address(host: str, scheme: str, port: str,
                                                                        slash: str) -> None:
    from urllib3.util import parse_url  # the parser requests connects with

    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    url = f"{scheme}://{shown}{port}{slash}"
    try:
        resolved = RT.resolve_connection("customerio-track", {"site_id": SITE_ID, "api_key": TRACK_KEY,
                                                              "sandbox_url": url})
    except ConnectionConfigError as exc:
        assert [p.pointer for p in exc.problems] == ["/sandbox_url"]
        return
    target = parse_url(resolved.base_url).host or ""
    address = _numeric(target.strip("[]"))
    assert address is not None and address.is_loopback, (url, resolved.base_url)


RT = Runtime()


def test_the_reported_spellings_are_refused_and_localhost_is_mapped() -> None:
    for host in ("localhost.", "127.0.0.1.", "127.0.0.2.", "LocalHost.", "::1%25lo", "::1%lo"):
        assert loopback_literal(host) is None, host
        assert claims_loopback(host), host  # ...and a connection to any of them still has its peer checked
    assert loopback_literal("LOCALHOST") == "127.0.0.1"
    assert loopback_literal("::1") == "::1"
    assert loopback_literal("127.9.9.9") == "127.9.9.9"
