"""`Sandbox`: build the workspace, dispatcher and server, run them in a thread, expose inspection helpers."""

from __future__ import annotations

import ipaddress
import threading
from typing import Any

from . import inspect_api
from .app_broadcasts import process_trigger
from .auth import (
    DEFAULT_APP_KEY,
    DEFAULT_PIPELINES_KEY,
    DEFAULT_SITE_ID,
    DEFAULT_TRACK_KEY,
    Credentials,
)
from .dispatch import Dispatcher, RawRequest, Reply, Stats
from .faults import FaultInjector
from .journal import DEFAULT_BODY_LIMIT, DEFAULT_LIMIT, Journal
from .ratelimit import RateLimiter
from .routing import CONNECTORS, REGIONS, base_urls
from .server import SandboxHTTPServer
from .state import Workspace
from .webhooks import WebhookSender


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Sandbox:
    """A local Customer.io workspace behind real HTTP, on one port, in daemon threads.

    Use as a context manager (`with Sandbox() as sb:`) or call `start()` / `stop()`.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        faults: str | dict[str, Any] | None = None,
        rate_limits: bool | dict[str, Any] = False,
        region: str = "us",
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote: bool = False,
        site_id: str = DEFAULT_SITE_ID,
        track_api_key: str = DEFAULT_TRACK_KEY,
        app_api_key: str = DEFAULT_APP_KEY,
        pipelines_api_key: str = DEFAULT_PIPELINES_KEY,
        journal_limit: int = DEFAULT_LIMIT,
        journal_body_limit: int = DEFAULT_BODY_LIMIT,
        processing_delay: float = 0.5,
        webhook_url: str | None = None,
        webhook_signing_key: str | None = None,
        log_requests: bool = False,
    ) -> None:
        if region not in REGIONS:
            raise ValueError(f"region must be one of {', '.join(REGIONS)}")
        if not is_loopback(host) and not allow_remote:
            raise ValueError(f"refusing to bind to non-loopback host {host!r} without allow_remote=True")
        self.host = host
        self.region = region
        self._requested_port = port
        self._creds = Credentials(site_id, track_api_key, app_api_key, pipelines_api_key)
        self.workspace = Workspace(region=region, processing_delay=processing_delay)
        self._journal = Journal(journal_limit, journal_body_limit)
        self._faults = FaultInjector(faults, default_seed=seed)
        self._limiter = RateLimiter(rate_limits)
        self._stats = Stats()
        self._stop_event = threading.Event()
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._webhooks = WebhookSender(webhook_url, webhook_signing_key or "") if webhook_url else None
        self._dispatcher = Dispatcher(
            workspace=self.workspace,
            journal=self._journal,
            faults=self._faults,
            limiter=self._limiter,
            stats=self._stats,
            credentials=self._creds,
            root=lambda: self.url,
            inspector=self._inspect,
            on_delivery=self._webhooks.deliver if self._webhooks else None,
            log_requests=log_requests,
        )

    # ------------------------------------------------------------------------------ lifecycle
    def start(self) -> Sandbox:
        """Bind and serve in a daemon thread; returns self."""
        if self._server is not None:
            return self
        self._stop_event.clear()
        self._server = SandboxHTTPServer(
            (self.host, self._requested_port), self._dispatcher.dispatch, self._stats.connection, self._stop_event
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="relaykit-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; stalled or dripping handlers notice and give up at once."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stop_event.set()
        server.shutdown()
        server.close_clients()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._webhooks is not None:
            self._webhooks.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------ addresses
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The root URL, e.g. `http://127.0.0.1:PORT` (what a connection's `sandbox_url` holds)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_urls(self) -> dict[str, dict[str, str]]:
        return base_urls(self.url)

    @property
    def credentials(self) -> dict[str, str]:
        return self._creds.as_dict()

    def info(self) -> dict[str, Any]:
        """Base URLs per connector and region, plus the accepted credentials (the CLI's first line)."""
        return {**self.base_urls, "credentials": self.credentials, "region": self.region, "sandbox_url": self.url}

    def connection(self, connector: str, region: str | None = None) -> dict[str, str]:
        """A relaykit connection config pointing at this sandbox."""
        if connector not in CONNECTORS:
            raise ValueError(f"unknown connector {connector!r}")
        region = region or self.region
        if connector == "customerio-track":
            return {"site_id": self._creds.site_id, "api_key": self._creds.track_api_key, "region": region,
                    "sandbox_url": self.url}
        key = self._creds.pipelines_api_key if connector == "customerio-pipelines" else self._creds.app_api_key
        return {"api_key": key, "region": region, "sandbox_url": self.url}

    # ------------------------------------------------------------------------------ inspection
    def journal(self, since: int | None = None) -> list[dict[str, Any]]:
        return self._journal.entries(since)

    def state(self) -> dict[str, Any]:
        with self.workspace.lock:
            self.workspace.process_due(process_trigger)
            deliveries = self.workspace.drain_deliveries()
            snapshot = self.workspace.snapshot()
        if self._webhooks is not None:
            for message in deliveries:
                self._webhooks.deliver(message)
        return snapshot

    def stats(self) -> dict[str, Any]:
        out = self._stats.snapshot()
        out["journal_entries"] = len(self._journal.entries())
        if self._webhooks is not None:
            out["webhooks_posted"] = len(self._webhooks.results)
        return out

    def webhook_results(self, wait: float = 0.0) -> list[dict[str, Any]]:
        """What the webhook sender posted so far (optionally waiting for its queue to drain)."""
        if self._webhooks is None:
            return []
        if wait:
            self._webhooks.flush(wait)
        return list(self._webhooks.results)

    def reset(self) -> None:
        """Clear state (back to the seed), journal, counters and rate-limit buckets; re-arm faults."""
        self.workspace.reset()
        self._journal.clear()
        self._stats.reset()
        self._limiter.reset()
        self._faults.rearm()

    def set_faults(self, spec: str | dict[str, Any] | None) -> None:
        self._faults.configure(spec)

    def faults_config(self) -> dict[str, Any] | None:
        return self._faults.config()

    def set_rate_limits(self, spec: bool | dict[str, Any]) -> None:
        self._limiter.configure(spec)

    def rate_limits_config(self) -> dict[str, Any]:
        return self._limiter.config()

    def export_rows(self, export_id: str) -> list[dict[str, Any]] | None:
        with self.workspace.lock:
            self.workspace.process_due(process_trigger)
            try:
                export = self.workspace.exports.get(int(export_id))
            except ValueError:
                return None
            if export is None or export["status"] != "done":
                return None
            return list(export.get("_rows", []))

    def _inspect(self, raw: RawRequest, target: Any) -> Reply:
        return inspect_api.handle(self, raw, target)
