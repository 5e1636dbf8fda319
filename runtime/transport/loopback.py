"""The loopback promise behind a `sandbox_url`: which hosts count as loopback, and which peers do.

Credentials go to a sandbox only because it is on this machine, so that promise must never rest on
a name lookup: `localhost.`, `127.0.0.1.` or `[::1%25lo]` look loopback but go to the system
resolver, and a hostile one can answer with any address. A sandbox host is therefore accepted only
as a canonical loopback IP literal (`127.0.0.0/8` in dotted-quad form, `::1`) or as plain
`localhost`, which relaykit maps to `127.0.0.1` itself. As a second, independent check, relaykit's
connections look at the connected socket's peer before writing a request to any host that claims
to be loopback (`peer_is_loopback`).
"""

from __future__ import annotations

import ipaddress
import socket

from ..errors import RelaykitError

LOCALHOST = "127.0.0.1"  # what `localhost` means here, decided without asking any resolver


class NotLoopbackPeer(RelaykitError):
    """A connection to a host that claims loopback reached another peer; nothing was written to it."""


def loopback_literal(host: str) -> str | None:
    """The address to connect to for a sandbox host, or None when the host is not a loopback literal.

    `host` is a URL's host without brackets, as `urlsplit(...).hostname` gives it. Only canonical
    spellings pass (`127.0.0.1`, not `127.1`, `0x7f.0.0.1` or `127.0.0.1.`), no IPv6 zone, no
    IPv4-mapped form; `localhost` in any case becomes `127.0.0.1`.
    """
    if host.lower() == "localhost":
        return LOCALHOST
    if "%" in host:  # an IPv6 zone id: resolved by getaddrinfo, and never needed for ::1
        return None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    text = str(ip)
    if text != host.lower():
        return None
    if ip.version == 4:
        return text if ip in _V4_LOOPBACK else None
    return text if ip == _V6_LOOPBACK else None


def is_loopback_host(host: str) -> bool:
    """True for `localhost`, canonical 127.0.0.0/8 literals and `::1` (bracketed or not)."""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return loopback_literal(host) is not None


def claims_loopback(host: str) -> bool:
    """True when a host *looks* loopback by any spelling: such a connection must reach a loopback peer.

    Deliberately generous (trailing dots, case, zones, `*.localhost`, the /etc/hosts names of
    common distributions, IPv4-mapped), the opposite of `loopback_literal`: it decides where the
    peer is checked, not what is accepted.
    """
    name = host.strip("[]").lower().rstrip(".").split("%", 1)[0]
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def peer_is_loopback(sock: socket.socket) -> bool:
    """True when a connected socket's peer is a loopback IP address (IPv4-mapped included)."""
    try:
        peer = sock.getpeername()
    except OSError:
        return False
    if not isinstance(peer, tuple) or not peer or not isinstance(peer[0], str):
        return False  # a Unix socket or another family: not an IP peer at all
    try:
        ip = ipaddress.ip_address(peer[0].split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


_LOOPBACK_NAMES = frozenset({"localhost", "localhost6", "ip6-localhost", "ip6-loopback", "localhost.localdomain",
                             "localhost4", "localhost4.localdomain4", "localhost6.localdomain6"})
_V4_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
_V6_LOOPBACK = ipaddress.ip_address("::1")
