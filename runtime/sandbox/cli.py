"""Command line for the sandbox: parse options, print the base URLs and credentials, serve until a signal."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from typing import Any

from .auth import DEFAULT_APP_KEY, DEFAULT_PIPELINES_KEY, DEFAULT_SITE_ID, DEFAULT_TRACK_KEY
from .faults import load_spec
from .routing import REGIONS
from .runner import Sandbox, is_loopback
from .tls import TlsUnavailable

#: Where `relaykit serve` reads its signing keys (the sandbox imports nothing of relaykit, so the name
#: is repeated here; a test keeps the two equal): a sandbox started in the same shell signs with the first.
SIGNING_KEYS_ENV = "RELAYKIT_WEBHOOK_SIGNING_KEYS"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox options to a parser (used by `relaykit sandbox`)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback only unless --allow-remote)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free port (default)")
    parser.add_argument("--seed", type=int, default=0, help="seed for fault injection (default 0)")
    parser.add_argument("--faults", default=None, metavar="SPEC",
                        help="fault preset name (e.g. F20), a JSON object, or @file.json")
    parser.add_argument("--rate-limits", choices=("on", "off"), default="on",
                        help="enforce the documented rate limits (default on)")
    parser.add_argument("--region", choices=REGIONS, default="us", help="the workspace's home region")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow binding to a non-loopback address (anyone who can reach it can use it)")
    parser.add_argument("--quiet", action="store_true", help="do not log one line per request to stderr")
    parser.add_argument("--hosts", action="store_true",
                        help="also serve each API and region at its real paths on a port of its own "
                             "(for official client libraries)")
    parser.add_argument("--tls", action="store_true",
                        help="serve the per-API ports over HTTPS with a certificate made at start "
                             "(implies --hosts; needs relaykit[tls]); the CA bundle path is printed")
    parser.add_argument("--hosts-port", type=int, default=0, metavar="PORT",
                        help="first of 8 consecutive ports for the per-API listeners (default: free ports)")
    parser.add_argument("--site-id", default=DEFAULT_SITE_ID, help="Track site id to accept")
    parser.add_argument("--track-api-key", default=DEFAULT_TRACK_KEY, help="Track API key to accept")
    parser.add_argument("--app-api-key", default=DEFAULT_APP_KEY, help="App/Beta API key to accept")
    parser.add_argument("--pipelines-api-key", default=DEFAULT_PIPELINES_KEY, help="Pipelines API key to accept")
    parser.add_argument("--webhook-signing-key", default=None, metavar="KEY",
                        help=f"the workspace's reporting-webhook signing key; default: the first key in "
                             f"${SIGNING_KEYS_ENV} (what `relaykit serve` reads), else a random one "
                             "(printed in the first line)")


def run(args: argparse.Namespace, *, exit_process: bool = True) -> int:
    """Serve until SIGINT/SIGTERM; return the exit status.

    With `exit_process` (the command line) the process ends right after the listeners are closed:
    tearing the workspace and journal down object by object took seconds after heavy traffic.
    """
    if not is_loopback(args.host) and not args.allow_remote:
        print(f"relaykit sandbox: refusing to bind to non-loopback host {args.host!r}; "
              "pass --allow-remote if you really mean it", file=sys.stderr)
        return 2
    try:
        faults = load_spec(args.faults)
    except (ValueError, OSError) as exc:
        print(f"relaykit sandbox: bad --faults: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    try:
        sandbox = Sandbox(
            seed=args.seed, faults=faults, rate_limits=args.rate_limits == "on", region=args.region,
            host=args.host, port=args.port, allow_remote=args.allow_remote, site_id=args.site_id,
            track_api_key=args.track_api_key, app_api_key=args.app_api_key,
            pipelines_api_key=args.pipelines_api_key, log_requests=not args.quiet,
            hosts=args.hosts, tls=args.tls, hosts_port=args.hosts_port,
            webhook_signing_key=_signing_key(args),
        )
        sandbox.start()
    except (ValueError, OSError, TlsUnavailable) as exc:
        print(f"relaykit sandbox: cannot start: {exc}", file=sys.stderr)
        return 2
    if not is_loopback(args.host):
        print(f"relaykit sandbox: WARNING: listening on {args.host}, not loopback; "
              "anyone who can reach this address can read and change the sandbox", file=sys.stderr)
    done = threading.Event()

    def _stop(signum: int, frame: Any) -> None:
        done.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _stop)
    try:
        print(json.dumps(sandbox.info()), flush=True)
        print(f"relaykit sandbox: serving on {sandbox.url} (region {args.region}); Ctrl-C to stop",
              file=sys.stderr, flush=True)
        for line in _host_lines(sandbox):
            print(f"relaykit sandbox: {line}", file=sys.stderr, flush=True)
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if exit_process:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(0)
    return 0


def _signing_key(args: argparse.Namespace) -> str | None:
    given = getattr(args, "webhook_signing_key", None)
    if given and given.strip():
        return str(given).strip()
    keys = [k.strip() for k in os.environ.get(SIGNING_KEYS_ENV, "").split(",") if k.strip()]
    return keys[0] if keys else None


def _host_lines(sandbox: Sandbox) -> list[str]:
    """Human-readable lines for the real-path listeners (the JSON first line holds the same)."""
    lines = [f"{connector} {region}: {entry['base_url']} (host {entry['host']}, port {entry['port']})"
             for connector, regions in sandbox.host_info().items() for region, entry in regions.items()]
    if sandbox.ca_bundle:
        lines.append(f"CA bundle: {sandbox.ca_bundle} (REQUESTS_CA_BUNDLE / NODE_EXTRA_CA_CERTS)")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m relaykit.sandbox`."""
    parser = argparse.ArgumentParser(prog="relaykit sandbox", description="Run a local Customer.io emulator.")
    add_arguments(parser)
    return run(parser.parse_args(argv))
