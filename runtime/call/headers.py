"""Which request headers a caller may not set, and why: one table for raw HTTP calls and webhook steps.

Three kinds are refused before anything is sent, each with its reason:
- routing headers, which proxies and frameworks obey to change a request's target, client address
  or method after relaykit checked it: `Forwarded`, `X-Forwarded-*`, `X-Original-URL`,
  `X-Rewrite-URL`, `X-HTTP-Method-Override` and its variants, `Via`, ...;
- hop-by-hop headers (RFC 9110 §7.6.1), which manage one connection that relaykit's transport owns:
  `Connection`, `Keep-Alive`, `Proxy-*`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`;
- (raw HTTP only, see `OWNED`) the headers relaykit sets itself: credentials, `Host`, the body's framing.

Names are compared case-insensitively and with `_` read as `-`, as CGI, WSGI and several proxies
do (`X_Forwarded_For` arrives as `HTTP_X_FORWARDED_FOR`, the same variable as `X-Forwarded-For`).
"""

from __future__ import annotations

ROUTING = ("reroutes or rewrites the request at a proxy or framework (its target, client address or method), so "
           "the server could act on something other than what relaykit checked")
HOP_BY_HOP = "is a hop-by-hop header: it manages the connection, which relaykit's transport owns"
CREDENTIALS = "carries credentials, which come only from the connection"
TARGET = "names the target host, which comes only from the connector's base URL"
FRAMING = "frames the body, which relaykit sends itself"

_ROUTING_NAMES = ("forwarded", "via", "x-original-url", "x-rewrite-url", "x-http-method-override", "x-http-method",
                  "x-method-override", "x-real-ip", "x-host", "x-http-host-override", "x-forwarded")
_ROUTING_PREFIXES = ("x-forwarded-", "x-original-")
_HOP_BY_HOP_NAMES = ("connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
                     "proxy-connection")
_HOP_BY_HOP_PREFIXES = ("proxy-",)

REFUSED: dict[str, str] = {**dict.fromkeys(_ROUTING_NAMES, ROUTING), **dict.fromkeys(_HOP_BY_HOP_NAMES, HOP_BY_HOP)}
"""Exact names (lower case) refused on every surface, with the reason; prefixes are in `refusal`."""

OWNED: dict[str, str] = {"authorization": CREDENTIALS, "proxy-authorization": CREDENTIALS, "cookie": CREDENTIALS,
                         "host": TARGET, "content-length": FRAMING, "expect": FRAMING}
"""Headers relaykit sets on a connector's request itself (a webhook step may carry its own credentials)."""


def normalise(name: str) -> str:
    """A header name as the servers that act on it compare it: lower case, `_` read as `-`."""
    return name.lower().replace("_", "-")


def refusal(name: str) -> str | None:
    """Why a routing or hop-by-hop header may not be given, or None when the name is neither."""
    key = normalise(name)
    reason = REFUSED.get(key)
    if reason is not None:
        return reason
    if key.startswith(_ROUTING_PREFIXES):
        return ROUTING
    if key.startswith(_HOP_BY_HOP_PREFIXES):
        return HOP_BY_HOP
    return None
