"""URL layouts of the sandbox (the `/{connector}/{region}` prefix, or one root per API and region) and route tables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from .messages import Request, Response

CONNECTORS = ("customerio-track", "customerio-app", "customerio-beta", "customerio-pipelines")
REGIONS = ("us", "eu")

#: The path of each connector's real base URL, appended to `{root}/{connector}/{region}`.
BASE_PATHS = {
    "customerio-track": "/api",
    "customerio-app": "/v1",
    "customerio-beta": "/v1/api",
    "customerio-pipelines": "",
}

Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    """One method + path pattern of an API, with the policies that apply to it."""

    method: str
    pattern: tuple[str, ...]
    handler: Handler
    auth: bool = True
    rate_class: str | None = None
    max_body: int | None = None
    any_region: bool = False

    @property
    def params(self) -> int:
        return sum(1 for part in self.pattern if part.startswith("{"))


def route(method: str, path: str, handler: Handler, **policy: object) -> Route:
    """Declare a route; `path` is relative to the connector prefix, e.g. `api/v1/customers/{identifier}`."""
    return Route(method, tuple(path.strip("/").split("/")), handler, **policy)  # type: ignore[arg-type]


class Router:
    """Match decoded path segments against a table of routes; literal segments win over parameters."""

    def __init__(self, routes: list[Route]) -> None:
        self._routes = sorted(routes, key=lambda r: r.params)

    def match(self, method: str, segments: list[str]) -> tuple[Route | None, dict[str, str], list[str]]:
        """Return (route, params, allowed methods). A None route with allowed methods means 405."""
        allowed: list[str] = []
        for candidate in self._routes:
            params = _match(candidate.pattern, segments)
            if params is None:
                continue
            if candidate.method == method:
                return candidate, params, []
            if candidate.method not in allowed:
                allowed.append(candidate.method)
        return None, {}, allowed


def _match(pattern: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    if len(pattern) != len(segments):
        return None
    params: dict[str, str] = {}
    for part, seg in zip(pattern, segments, strict=True):
        if part.startswith("{"):
            params[part[1:-1]] = seg
        elif part != seg:
            return None
    return params


@dataclass(frozen=True)
class Target:
    """A request target split into the sandbox prefix and the API's own path."""

    path: str
    query: dict[str, list[str]]
    connector: str | None
    region: str | None
    segments: list[str]


#: A listener that serves one API in one region at its real paths, as `(connector, region)`.
HostApi = tuple[str, str]


def split_target(target: str, host_api: HostApi | None = None) -> Target:
    """Split `/customerio-track/us/api/v1/customers/a%2Fb?x=1` into its parts.

    With `host_api` the listener serves that API and region from its root, so the whole path is the
    API's own (`/api/v1/customers/a%2Fb`); `/_sandbox/...` is the inspection API on every listener.
    Segments are percent-decoded one by one, so an encoded slash stays inside its segment.
    """
    parts = urlsplit(target)
    path = parts.path
    query = parse_qs(parts.query, keep_blank_values=True)
    raw = path.split("/")[1:] if path.startswith("/") else path.split("/")
    decoded = [unquote(seg, errors="replace") for seg in raw]
    if host_api is not None and (not decoded or decoded[0] != "_sandbox"):
        return Target(path, query, host_api[0], host_api[1], decoded)
    if len(decoded) >= 2 and decoded[0] in CONNECTORS:
        return Target(path, query, decoded[0], decoded[1], decoded[2:])
    return Target(path, query, decoded[0] if decoded else None, None, decoded[1:])


def base_urls(root: str) -> dict[str, dict[str, str]]:
    """Base URL of every connector in every region, as a connection's `base_url` would hold."""
    return {c: {r: f"{root}/{c}/{r}{BASE_PATHS[c]}" for r in REGIONS} for c in CONNECTORS}


def host_apis() -> list[HostApi]:
    """Every API and region, in the fixed order the real-path listeners take their ports."""
    return [(c, r) for c in CONNECTORS for r in REGIONS]
