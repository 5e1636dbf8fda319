"""The request pipeline: layout → fault → route → region → auth → rate limit → handler → journal.

It knows nothing about sockets; the server hands it a `RawRequest` and delivers the `Reply`
(including socket-level faults such as resets and stalls).
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import app_api, auth, pipelines_api, track_api
from .app_broadcasts import process_trigger
from .faults import PRE_KINDS
from .journal import Journal
from .messages import ApiError, Request, Response, dumps, json_response
from .ratelimit import RateLimiter
from .routing import CONNECTORS, REGIONS, HostApi, Router, split_target
from .state import Workspace

log = logging.getLogger("relaykit.sandbox")


@dataclass
class RawRequest:
    """What the server read from the wire."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    body_error: str | None = None


@dataclass
class Reply:
    """What to send back: a response (None when a fault sends nothing) and the fault to apply."""

    response: Response | None
    fault: dict[str, Any] | None = None


@dataclass(frozen=True)
class Api:
    """Per-API policy: route table, error shape, default rate class."""

    router: Router
    error_body: Callable[[int, str], Any]
    rate_class: str


def build_apis() -> dict[str, Api]:
    """The policy of every API, keyed by connector name."""
    return {
        "customerio-track": Api(track_api.routes(), track_api.error_body, "track"),
        "customerio-app": Api(app_api.routes("v1"), app_api.error_body, "app"),
        "customerio-beta": Api(app_api.routes("v1/api"), app_api.error_body, "app"),
        "customerio-pipelines": Api(pipelines_api.routes(), pipelines_api.error_body, "pipelines"),
    }


class Stats:
    """Thread-safe counters reported by `Sandbox.stats()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests = 0
            self.connections_accepted = 0
            self.by_api: Counter[str] = Counter()
            self.writes: Counter[str] = Counter()
            self.duplicates: Counter[str] = Counter()
            self.faults: Counter[str] = Counter()
            self.outcomes: Counter[str] = Counter()
            self.statuses: Counter[str] = Counter()

    def connection(self) -> None:
        with self._lock:
            self.connections_accepted += 1

    def count(self, connector: str | None, response: Response | None, outcome: str, fault: str | None) -> None:
        with self._lock:
            self.requests += 1
            if connector:
                self.by_api[connector] += 1
            self.outcomes[outcome] += 1
            if fault:
                self.faults[fault] += 1
            if response is not None:
                self.statuses[str(response.status)] += 1
                if connector and response.writes:
                    self.writes[connector] += response.writes
                if connector and response.duplicates:
                    self.duplicates[connector] += response.duplicates

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "connections_accepted": self.connections_accepted,
                "requests_by_api": dict(self.by_api),
                "writes": {c: self.writes.get(c, 0) for c in CONNECTORS},
                "duplicates": {c: self.duplicates.get(c, 0) for c in CONNECTORS},
                "faults": dict(self.faults),
                "outcomes": dict(self.outcomes),
                "statuses": dict(self.statuses),
            }


class Dispatcher:
    """Turns raw requests into replies against one workspace."""

    def __init__(
        self,
        *,
        workspace: Workspace,
        journal: Journal,
        faults: Any,
        limiter: RateLimiter,
        stats: Stats,
        credentials: auth.Credentials,
        root: Callable[[], str],
        inspector: Callable[[RawRequest, Any], Reply],
        host_root: Callable[[str, str], str] | None = None,
        on_delivery: Callable[[dict[str, Any]], None] | None = None,
        log_requests: bool = False,
    ) -> None:
        self.ws = workspace
        self.journal = journal
        self.faults = faults
        self.limiter = limiter
        self.stats = stats
        self.credentials = credentials
        self.root = root
        self.host_root = host_root
        self.inspector = inspector
        self.on_delivery = on_delivery
        self.log_requests = log_requests
        self.apis = build_apis()

    def dispatch(self, raw: RawRequest, host_api: HostApi | None = None) -> Reply:
        """Answer one request; `host_api` names the API and region of a real-path listener."""
        target = split_target(raw.target, host_api)
        if target.connector == "_sandbox":
            return self.inspector(raw, target)
        if target.connector not in CONNECTORS or target.region not in REGIONS:
            body = {"errors": [{"detail": "no API here: sandbox APIs live under /{connector}/{region}/",
                                "status": "404"}]}
            return self._finish(raw, None, None, json_response(404, body, outcome="not_found"), None)
        connector, region = target.connector, target.region
        assert connector is not None and region is not None
        api = self.apis[connector]
        fault = self.faults.pick(connector)
        if fault is not None and fault["kind"] in PRE_KINDS:
            return self._finish(raw, connector, region, _fault_response(fault, api), fault)
        response = self._process(raw, target, connector, region, api, host_api is not None)
        return self._finish(raw, connector, region, response, fault)

    def reject(self, line: str, status: int, reason: str, host_api: HostApi | None = None) -> Reply:
        """Answer (and journal) a request the server could not parse: JSON in the API's shape, never HTML."""
        words = line.split(" ")
        target = split_target(words[1], host_api) if len(words) >= 2 and words[1].startswith("/") else None
        connector = target.connector if target is not None and target.connector in CONNECTORS else None
        region = target.region if connector is not None and target is not None else None
        if connector is not None:
            body = self.apis[connector].error_body(status, reason)
        else:
            body = {"errors": [{"detail": reason, "status": str(status)}]}
        raw = RawRequest(words[0] if words[0].isalpha() else "", line[:2048], [], b"")
        return self._finish(raw, connector, region, json_response(status, body, outcome="rejected"), None)

    def api_root(self, connector: str, region: str, real_paths: bool) -> str:
        """Where an API and region live in a layout: a prefix of the root, or a real-path listener's root."""
        if real_paths and self.host_root is not None:
            return self.host_root(connector, region)
        return f"{self.root()}/{connector}/{region}"

    # --------------------------------------------------------------------------------------------
    def _process(
        self, raw: RawRequest, target: Any, connector: str, region: str, api: Api, real_paths: bool
    ) -> Response:
        def error(status: int, message: str, outcome: str, headers: list[tuple[str, str]] | None = None) -> Response:
            return json_response(status, api.error_body(status, message), outcome=outcome, headers=headers)

        if raw.body_error:
            return error(413 if raw.body_error == "too_large" else 400, _BODY_ERRORS[raw.body_error], "rejected")
        route, params, allowed = api.router.match(raw.method, target.segments)
        if route is None:
            if allowed:
                return error(405, f"method {raw.method} is not allowed here", "method_not_allowed",
                             [("Allow", ", ".join(allowed))])
            return error(404, "no such endpoint", "not_found")
        home = self.ws.region
        home_root = self.api_root(connector, home, real_paths)
        headers = _lower(raw.headers)
        authorized = not route.auth or auth.check(connector, headers.get("authorization"), self.credentials)
        if region != home and not route.any_region:
            if connector == "customerio-track":
                if not authorized:
                    return error(401, "unauthorized: check the site id and API key", "unauthorized")
                prefix = "" if real_paths else f"/{connector}/{region}"
                rest = raw.target[len(prefix):] if raw.target.startswith(prefix) else target.path
                location = f"{home_root}{rest}"
                return error(301, f"wrong datacenter: this workspace is in region {home}", "wrong_region",
                             [("Location", location)])
            return error(401, f"unauthorized: these credentials belong to a workspace in region {home}",
                         "wrong_region")
        if not authorized:
            return error(401, "unauthorized: check your credentials", "unauthorized")
        allowed_now, retry_after = self.limiter.check(route.rate_class or api.rate_class)
        if not allowed_now:
            return error(429, "rate limit exceeded", "rate_limited",
                         [("Retry-After", retry_after)] if retry_after is not None else None)
        if route.max_body is not None and len(raw.body) > route.max_body:
            return error(400, f"the request body is larger than {route.max_body // 1024} KB", "rejected")
        req = Request(
            method=raw.method, target=raw.target, headers=headers, body=raw.body, connector=connector,
            region=region, segments=target.segments, query=target.query, root=self.root(), ws=self.ws,
            params=params, home_root=home_root,
        )
        with self.ws.lock:
            self.ws.process_due(process_trigger)
            try:
                response = route.handler(req)
            except ApiError as exc:
                body = exc.body if exc.body is not None else api.error_body(exc.status, exc.message)
                response = json_response(exc.status, body, outcome=exc.outcome, headers=exc.headers)
            except Exception:  # a sandbox bug must still answer, in the API's shape
                log.error("sandbox handler failed:\n%s", traceback.format_exc())
                response = error(500, "internal sandbox error", "error")
            deliveries = self.ws.drain_deliveries()
        if self.on_delivery is not None:
            for message in deliveries:
                self.on_delivery(message)
        return response

    def _finish(
        self,
        raw: RawRequest,
        connector: str | None,
        region: str | None,
        response: Response | None,
        fault: dict[str, Any] | None,
    ) -> Reply:
        kind = fault["kind"] if fault else None
        if kind in PRE_KINDS:
            outcome = "fault"
        else:
            outcome = response.outcome if response is not None else "fault"
        status: int | None = response.status if response is not None else None
        if kind in ("reset_before", "reset_after", "stall", "raw"):
            status = None
        committed = bool(response is not None and kind not in PRE_KINDS and (response.writes or 0) > 0)
        self.stats.count(connector, response if kind not in PRE_KINDS else None, outcome, kind)
        self.journal.record(
            connector=connector, region=region, method=raw.method, target=raw.target,
            headers=auth.mask_headers(raw.headers), body=raw.body, status=status, fault=kind,
            outcome=outcome, committed=committed,
        )
        if self.log_requests:
            path = raw.target.split("?", 1)[0]
            log.info("%s %s -> %s %s%s", raw.method, path, status if status is not None else "-", outcome,
                     f" [{kind}]" if kind else "")
        return Reply(response, fault)


_BODY_ERRORS = {
    "too_large": "the request body is too large",
    "bad_length": "Content-Length is not a valid number",
    "bad_chunked": "the chunked request body is malformed",
    "bad_encoding": "the request body could not be decoded (Content-Encoding)",
}


def _lower(headers: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _fault_response(fault: dict[str, Any], api: Api) -> Response | None:
    """The answer a pre-processing fault gives instead of the real one (None: nothing is sent)."""
    kind = fault["kind"]
    if kind in ("status", "429"):
        status = 429 if kind == "429" else int(fault.get("status", 500))
        headers = [("Retry-After", fault["retry_after"])] if fault.get("retry_after") is not None else []
        message = "rate limit exceeded" if status == 429 else "injected server error"
        return json_response(status, api.error_body(status, message), outcome="fault", headers=headers)
    if kind == "redirect":
        return json_response(int(fault.get("status", 302)), {}, outcome="fault",
                             headers=[("Location", str(fault.get("location", "/")))])
    if kind == "body":
        body = fault.get("body", "")
        data = body.encode("utf-8") if isinstance(body, str) else dumps(body)
        return Response(int(fault.get("status", 200)), data,
                        [("Content-Type", str(fault.get("content_type", "text/html; charset=utf-8")))], "fault")
    return None
