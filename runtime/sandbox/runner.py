"""`Sandbox`: build the workspace, dispatcher and listeners, run them in threads, expose inspection helpers."""

from __future__ import annotations

import functools
import ipaddress
import json
import secrets
import ssl
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
from .reporting import DEFAULT_RETRY_DELAYS, ReportingDelivery
from .routing import BASE_PATHS, CONNECTORS, REGIONS, HostApi, base_urls, host_apis
from .server import SandboxHTTPServer
from .state import Workspace
from .tls import TlsMaterial


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Sandbox:
    """A local Customer.io workspace behind real HTTP, in daemon threads.

    One port serves every API under a `/{connector}/{region}` prefix (what relaykit's `sandbox_url`
    uses). With `hosts=True` every API and region also gets a port of its own that serves the real
    paths from its root, the way official client libraries build URLs; with `tls=True` those ports
    speak HTTPS with a certificate made at start (CA bundle at `ca_bundle`).
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
        webhook_retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS,
        log_requests: bool = False,
        hosts: bool = False,
        tls: bool = False,
        hosts_port: int = 0,
    ) -> None:
        if region not in REGIONS:
            raise ValueError(f"region must be one of {', '.join(REGIONS)}")
        if not is_loopback(host) and not allow_remote:
            raise ValueError(f"refusing to bind to non-loopback host {host!r} without allow_remote=True")
        if hosts_port and not 0 < hosts_port <= 65535 - len(host_apis()):
            raise ValueError("hosts_port must leave room for one port per API and region")
        self.host = host
        self.region = region
        #: Real-path listeners (one per API and region) are served; implied by `tls`.
        self.hosts = hosts or tls
        self.tls = tls
        self._hosts_port = hosts_port
        self._requested_port = port
        self._creds = Credentials(site_id, track_api_key, app_api_key, pipelines_api_key)
        self.workspace = Workspace(region=region, processing_delay=processing_delay)
        self._journal = Journal(journal_limit, journal_body_limit)
        self._faults = FaultInjector(faults, default_seed=seed)
        self._limiter = RateLimiter(rate_limits)
        self._stats = Stats()
        self._stop_event = threading.Event()
        self._server: SandboxHTTPServer | None = None
        self._host_servers: dict[HostApi, SandboxHTTPServer] = {}
        self._threads: list[threading.Thread] = []
        self._tls: TlsMaterial | None = None
        #: The workspace's webhook signing key: every reporting webhook is signed with it.
        self.webhook_signing_key = webhook_signing_key or f"sbx-whsec-{secrets.token_hex(16)}"
        self._webhooks = ReportingDelivery(self.workspace, self.webhook_signing_key, static_url=webhook_url,
                                           retry_delays=webhook_retry_delays)
        self._dispatcher = Dispatcher(
            workspace=self.workspace,
            journal=self._journal,
            faults=self._faults,
            limiter=self._limiter,
            stats=self._stats,
            credentials=self._creds,
            root=lambda: self.url,
            host_root=self.host_url,
            inspector=self._inspect,
            on_delivery=self._webhooks.deliver,
            log_requests=log_requests,
        )

    # ------------------------------------------------------------------------------ lifecycle
    def start(self) -> Sandbox:
        """Bind every listener and serve each in a daemon thread; returns self."""
        if self._server is not None:
            return self
        self._stop_event.clear()
        bound: list[SandboxHTTPServer] = []
        try:
            if self.tls:
                self._tls = TlsMaterial()
            context = self._tls.context if self._tls is not None else None
            bound.append(self._listen(self._requested_port, None, None))
            if self.hosts:
                for index, api in enumerate(host_apis()):
                    port = self._hosts_port + index if self._hosts_port else 0
                    bound.append(self._listen(port, api, context))
                    self._host_servers[api] = bound[-1]
        except BaseException:
            for server in bound:  # nothing serves yet: just release the sockets
                server.server_close()
            self._host_servers = {}
            if self._tls is not None:
                self._tls.close()
                self._tls = None
            raise
        self._server = bound[0]
        for name, server in [("relaykit-sandbox", self._server), *(
                (f"relaykit-sandbox-{c}-{r}", s) for (c, r), s in self._host_servers.items())]:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name,
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        self._webhooks.start()
        return self

    def _listen(self, port: int, api: HostApi | None, context: ssl.SSLContext | None) -> SandboxHTTPServer:
        return SandboxHTTPServer(
            (self.host, port), functools.partial(self._dispatcher.dispatch, host_api=api), self._stats.connection,
            self._stop_event, reject=functools.partial(self._dispatcher.reject, host_api=api), ssl_context=context,
        )

    def stop(self) -> None:
        """Stop serving; stalled or dripping handlers notice and give up at once."""
        servers = [s for s in (self._server, *self._host_servers.values()) if s is not None]
        self._server, self._host_servers = None, {}
        if not servers:
            return
        self._stop_event.set()
        waiters = [threading.Thread(target=server.shutdown, daemon=True) for server in servers]
        for waiter in waiters:  # each accept loop notices within one poll interval; wait for all at once
            waiter.start()
        for waiter in waiters:
            waiter.join()
        for server in servers:
            server.close_clients()
            server.server_close()
        threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout=5)
        if self._tls is not None:
            self._tls.close()
            self._tls = None
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

    def host_url(self, connector: str, region: str) -> str:
        """Root of the real-path listener of one API and region, e.g. `https://127.0.0.1:PORT`."""
        server = self._host_servers.get((connector, region))
        if server is None:
            raise RuntimeError("real-path listeners run only with hosts=True (or tls=True) while started")
        scheme = "https" if server.ssl_context is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{server.server_address[1]}"

    @property
    def ca_bundle(self) -> str | None:
        """Path of the PEM CA bundle that verifies the HTTPS listeners (None without TLS)."""
        return self._tls.ca_bundle if self._tls is not None else None

    def host_info(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Per API and region: what a client's own host/port/URL options need to reach the real paths."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for (connector, region), server in self._host_servers.items():
            root = self.host_url(connector, region)
            out.setdefault(connector, {})[region] = {
                "url": root, "host": self.host, "port": int(server.server_address[1]),
                "base_url": root + BASE_PATHS[connector], "tls": server.ssl_context is not None,
            }
        return out

    @property
    def credentials(self) -> dict[str, str]:
        return self._creds.as_dict()

    def info(self) -> dict[str, Any]:
        """Base URLs per connector and region, plus the accepted credentials (the CLI's first line)."""
        info = {**self.base_urls, "credentials": self.credentials, "region": self.region, "sandbox_url": self.url,
                "webhook_signing_key": self.webhook_signing_key}
        if self._host_servers:
            info["hosts"] = self.host_info()
        if self._tls is not None:
            info["ca_bundle"] = self._tls.ca_bundle
        return info

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
        for message in deliveries:
            self._webhooks.deliver(message)
        return snapshot

    def stats(self) -> dict[str, Any]:
        out = self._stats.snapshot()
        out["journal_entries"] = len(self._journal.entries())
        with self.workspace.lock:
            out["webhooks_posted"] = sum(1 for e in self.workspace.webhook_deliveries if e["attempts"])
        return out

    def webhook_results(self, wait: float = 0.0) -> list[dict[str, Any]]:
        """The reporting-webhook deliveries journaled so far (optionally waiting until none is queued).

        One entry per event and endpoint: `webhook_id` (None for `webhook_url`), `endpoint`, `event_id`,
        `event` (`email_sent`), `state` (pending, retrying, delivered, failed, not_delivered,
        cancelled), `status` (the last HTTP status), `attempts`, `reason`.
        """
        self.state()  # hand over deliveries a due broadcast trigger created
        if wait:
            self._webhooks.flush(wait)
        with self.workspace.lock:
            return json.loads(json.dumps(self.workspace.webhook_deliveries))

    def reset(self) -> None:
        """Clear state (back to the seed), journal, counters and rate-limit buckets; re-arm faults."""
        self.workspace.reset()
        self._webhooks.clear()
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
