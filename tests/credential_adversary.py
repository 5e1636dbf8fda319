"""Issue 12's adversarial run: crafted inputs thrown at the four fixed credential surfaces, counted per area.

    .venv/bin/python tests/credential_adversary.py [--seed 12] [--scale 1]

Each area draws its inputs from a seeded grammar of near-misses and judges every outcome with its
own oracle, never with relaykit's tables:

* `sandbox_url`: an accepted URL must connect to a numeric loopback address (no lookup);
* `peer`: a connection to any host that reads as loopback to a lenient parser, pointed elsewhere by a
  hostile resolver (`socket.getaddrinfo` answering a Unix socket), must deliver no byte;
* `debug-print`: with `debuglevel` set on any set of connection classes, calls print nothing;
* `locals`: a refused connection from the environment or a plugin leaves the key in no form in any
  traceback frame's locals (walked through containers);
* `headers` / `webhook-headers`: routing and hop-by-hop names, respelled, are refused, other tokens
  are not; `headers-reason`: each refusal says why; `headers-wire`: a refused header never reaches
  the sandbox.

A failure is printed with its input (keys are generated, never real). The suite runs a small scale
(`tests/test_credential_adversary.py`); the figures in docs/reliability.md come from `--scale 1`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import io
import ipaddress
import json
import os
import random
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import quote, quote_plus

ROOT = Path(__file__).resolve().parents[1]


# -- shared with the tests -------------------------------------------------------------------------
class UnixRecorder:
    """A Unix-socket server: the "other address" a hostile resolver points at. Records what arrives."""

    REPLY = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"

    def __init__(self, path: str) -> None:
        self.path = path
        self.connections = 0
        self.received = b""
        self._handled = threading.Semaphore(0)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(2)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    if data:
                        conn.sendall(self.REPLY)
                except OSError:
                    pass
                self.received += data
            self._handled.release()

    def settle(self, connections: int = 1) -> UnixRecorder:
        """Wait until `connections` more connections have been served to the end, so the counts are final."""
        for _ in range(connections):
            assert self._handled.acquire(timeout=5), "the recorder never saw the expected connection"
        return self

    def close(self) -> None:
        self.sock.close()


def hostile_getaddrinfo(path: str) -> Any:
    """A `socket.getaddrinfo` that answers every name and literal with the Unix socket at `path`."""
    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        return [(socket.AF_UNIX, socket.SOCK_STREAM, 0, "", path)]
    return getaddrinfo


def secret_forms(key: str, site: str) -> set[str]:
    """A key as it may appear anywhere: raw, repr, JSON, URL-encoded, Basic base64 of site:key and key:."""
    out = {key, repr(key)[1:-1], json.dumps(key)[1:-1], json.dumps(key, ensure_ascii=False)[1:-1],
           quote(key, safe=""), quote(key), quote_plus(key)}
    for user, password in ((site, key), (key, "")):
        raw = f"{user}:{password}".encode()
        for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
            out |= {encoded.decode(), encoded.decode().rstrip("=")}
    return {f for f in out if len(f) >= 6}


def traceback_frames(exc: BaseException, skip_file: str = "") -> Iterator[FrameType]:
    """Every frame in the traceback of `exc` and of its cause and context chains (but `skip_file`'s)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        err = todo.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        tb = err.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename != skip_file:
                yield tb.tb_frame
            tb = tb.tb_next
        todo += [e for e in (err.__cause__, err.__context__) if e is not None]


def reachable_strings(value: Any, seen: set[int] | None = None) -> Iterator[str]:
    """Every string reachable through containers (dict subclasses by their real items), else the repr."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes | bytearray):
        yield bytes(value).decode("latin-1")
    elif isinstance(value, Mapping):
        for k, v in (dict.items(value) if isinstance(value, dict) else value.items()):
            yield from reachable_strings(k, seen)
            yield from reachable_strings(v, seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from reachable_strings(item, seen)
    elif isinstance(value, BaseException):
        yield from reachable_strings(value.args, seen)
        yield repr(value)
    else:
        yield repr(value)


def leaking_locals(exc: BaseException, key: str, site: str, skip_file: str = "") -> list[str]:
    """`function:local` for every traceback frame local from which some form of `key` is reachable."""
    wanted = secret_forms(key, site)
    return sorted({f"{frame.f_code.co_name}:{name}" for frame in traceback_frames(exc, skip_file)
                   for name, value in frame.f_locals.items()
                   if any(form in text for text in reachable_strings(value) for form in wanted)})


# -- the grammar ---------------------------------------------------------------------------------------
HOST_BASES = ["localhost", "127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "0.0.0.0", "::ffff:127.0.0.1",
              "127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1", "localhost6", "ip6-localhost", "app.localhost",
              "::", "128.0.0.1", "0:0:0:0:0:0:0:1", "::0:1", "127.0.0.1.nip.io", "example.org", "10.0.0.1",
              "169.254.169.254", "[::1]", "localhost.localdomain", "LOCALHOST"]


def mutate_host(rng: random.Random, host: str) -> str:
    how = rng.choice(["dots", "case", "zone", "zeros", "fullwidth", "digit", "suffix", "space", "encode", "none",
                      "brackets", "prefix"])
    if how == "dots":
        return host + "." * rng.randint(1, 3)
    if how == "case":
        return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in host)
    if how == "zone":
        return host + rng.choice(["%25lo", "%lo", "%251", "%25eth0", "%", "%2525lo"])
    if how == "zeros":
        return host.replace(".", ".0", 1) if "." in host else host.replace(":", ":0", 1)
    if how == "fullwidth":
        return host.replace(".", rng.choice(["\u3002", "\uff0e", "\uff61"]))
    if how == "digit":
        return host.replace("1", rng.choice(["\u0661", "\uff11", "\u00b9"]), 1)
    if how == "suffix":
        return host + rng.choice([".evil.example", ".localdomain", ".", "..nip.io", ":80", "#", "?", "\\"])
    if how == "space":
        return rng.choice([" ", "\t", "\u00a0", "\n"]) + host
    if how == "encode":
        i = rng.randrange(len(host)) if host else 0
        return host[:i] + "".join(f"%{b:02x}" for b in host[i:i + 1].encode()) + host[i + 1:]
    if how == "brackets":
        return f"[{host}]"
    if how == "prefix":
        return rng.choice(["user@", "a:b@", "127.0.0.1@", "evil.example\\@"]) + host
    return host


def crafted_host(rng: random.Random) -> str:
    host = rng.choice(HOST_BASES)
    for _ in range(rng.randint(0, 3)):
        host = mutate_host(rng, host)
    return host


def crafted_sandbox_url(rng: random.Random) -> str:
    host = crafted_host(rng)
    shown = f"[{host}]" if ":" in host and not host.startswith("[") and rng.random() < 0.8 else host
    return (rng.choice(["http", "https", "HTTP", "hTtPs"]) + "://" + shown
            + rng.choice(["", ":1", ":8080", ":65535", ":0", ":"]) + rng.choice(["", "", "/", "//", "/x"]))


def looks_loopback(host: str) -> bool:
    """A lenient reader's verdict (the old check and then some): the hosts a peer check must cover."""
    name = host.strip("[]").lower().rstrip(".").split("%", 1)[0]
    if name in ("localhost", "localhost6", "ip6-localhost") or name.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


ROUTING = ["Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port",
           "X-Forwarded-Prefix", "X-Forwarded", "X-Original-URL", "X-Original-Host", "X-Rewrite-URL",
           "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override", "Via", "X-Real-IP", "X-Host"]
HOP_BY_HOP = ["Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Anything", "TE", "Trailer",
              "Transfer-Encoding", "Upgrade"]
NEAR_MISSES = ["Accept", "X-Request-Id", "Idempotency-Key", "X-Forward", "Forward", "Viaduct", "X-Originally",
               "X-Method", "X-Trailer-Id", "Keep", "X-Proxy", "User-Agent", "Prefer", "X-Forwarde", "Tee", "Upgrades",
               "Connections", "X-HTTP", "X-Via"]
_TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def header_refused_by_oracle(name: str) -> bool:
    key = name.lower().replace("_", "-")
    exact = {n.lower() for n in ROUTING + HOP_BY_HOP if not n.endswith("Anything")}
    return key in exact or key.startswith(("x-forwarded-", "x-original-", "proxy-"))


def crafted_header(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.15:
        return "".join(rng.choice(_TOKEN) for _ in range(rng.randint(1, 20)))
    name = rng.choice(ROUTING + HOP_BY_HOP + NEAR_MISSES)
    name = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in name)
    if rng.random() < 0.3:
        name = name.replace("-", "_")
    if rng.random() < 0.1:
        name += rng.choice(["-x", "s", "_", "-"])
    return name


# -- the areas -----------------------------------------------------------------------------------------
class Tally:
    def __init__(self) -> None:
        self.rows: dict[str, list[int]] = {}
        self.examples: dict[str, list[str]] = {}

    def count(self, area: str, failed: bool, what: str = "") -> None:
        row = self.rows.setdefault(area, [0, 0])
        row[0] += 1
        if failed:
            row[1] += 1
            self.examples.setdefault(area, []).append(what)

    def failures(self) -> int:
        return sum(f for _, f in self.rows.values())

    def report(self) -> str:
        lines = [f"{area}: {tries} tries, {failed} failures" for area, (tries, failed) in self.rows.items()]
        for area, examples in self.examples.items():
            lines += [f"  {area} failure: {e}" for e in examples[:5]]
        return "\n".join(lines)


def _numeric_loopback(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return False
    return ipaddress.ip_address(infos[0][4][0]).is_loopback


def sandbox_urls(tally: Tally, rng: random.Random, n: int) -> None:
    from relaykit import ConnectionConfigError, Runtime
    from urllib3.util import parse_url

    rt = Runtime()
    try:
        for _ in range(n):
            url = crafted_sandbox_url(rng)
            try:
                resolved = rt.resolve_connection("customerio-app", {"api_key": "adversary-key-0001",
                                                                    "sandbox_url": url})
            except ConnectionConfigError:
                tally.count("sandbox_url", False)
                continue
            try:
                host = (parse_url(resolved.base_url).host or "").strip("[]")
            except ValueError:  # accepted, yet not even a URL urllib3 can connect to
                host = ""
            tally.count("sandbox_url", not _numeric_loopback(host), f"{url!r} -> {resolved.base_url}")
    finally:
        rt.close()


def _relaykit_connections() -> tuple[Any, Any, type[BaseException]]:
    """relaykit's own connection classes and its peer refusal (the names before issue 12, for a baseline run)."""
    try:
        from relaykit.transport.adapter import _HTTPConnection, _HTTPSConnection
        from relaykit.transport.loopback import NotLoopbackPeer
    except ImportError:  # a tree before the fix: the classes lived in the watchdog, nothing refused a peer
        try:
            from relaykit.transport.watchdog import _WatchedHTTPConnection as _HTTPConnection  # type: ignore
            from relaykit.transport.watchdog import _WatchedHTTPSConnection as _HTTPSConnection  # type: ignore
        except ImportError:  # before the package layout
            from relaykit.watchdog import _WatchedHTTPConnection as _HTTPConnection  # type: ignore
            from relaykit.watchdog import _WatchedHTTPSConnection as _HTTPSConnection  # type: ignore

        class NotLoopbackPeer(Exception):  # type: ignore[no-redef]
            pass
    return _HTTPConnection, _HTTPSConnection, NotLoopbackPeer


def peers(tally: Tally, rng: random.Random, n: int) -> None:
    connection_class, _, refused_peer = _relaykit_connections()

    with tempfile.TemporaryDirectory() as folder:
        recorder = UnixRecorder(os.path.join(folder, "elsewhere.sock"))
        real = socket.getaddrinfo
        socket.getaddrinfo = hostile_getaddrinfo(recorder.path)  # type: ignore[assignment]
        try:
            tried = 0
            while tried < n:
                host = crafted_host(rng).strip()
                if not looks_loopback(host):
                    continue
                tried += 1
                before = len(recorder.received)
                conn = connection_class(host.strip("[]"), 8080, socket_options=[])
                outcome = "sent"
                try:
                    conn.request("GET", "/", headers={"Authorization": "Basic YWR2ZXJzYXJ5OmtleQ=="})
                except refused_peer:
                    outcome = "refused"
                except Exception as exc:  # refused earlier (a name urllib3 cannot parse): nothing reached it
                    outcome = type(exc).__name__
                finally:
                    conn.close()
                if outcome in ("refused", "sent"):  # the hostile answer was connected to: wait for its record
                    recorder.settle()
                tally.count("peer", len(recorder.received) > before, f"{host!r}: {outcome}")
        finally:
            socket.getaddrinfo = real  # type: ignore[assignment]
            recorder.close()


def debug_printing(tally: Tally, rng: random.Random, n: int, sandbox: Any) -> None:
    import urllib3.connection
    from relaykit import Runtime

    _HTTPConnection, _HTTPSConnection, _ = _relaykit_connections()
    classes = [http.client.HTTPConnection, http.client.HTTPSConnection, urllib3.connection.HTTPConnection,
               urllib3.connection.HTTPSConnection, _HTTPConnection, _HTTPSConnection]
    for _ in range(n):
        chosen = [c for c in classes if rng.random() < 0.5] or [rng.choice(classes)]
        level = rng.choice([1, 2, 5, True])
        saved = {c: c.__dict__.get("debuglevel", _MISSING) for c in chosen}
        out = io.StringIO()
        try:
            for c in chosen:
                c.debuglevel = level
            rt = Runtime(sleep=lambda s: None)
            with contextlib.redirect_stdout(out):
                try:
                    rt.run("customerio-track.track_event", {"identifier": "c1", "name": "adversary"},
                           sandbox.connection("customerio-track"))
                    rt.run("customerio-app.raw_http_request", {"method": "GET", "endpoint": "/customers/c1/attributes",
                                                               "fail_on_http_error": False},
                           sandbox.connection("customerio-app"))
                finally:
                    rt.close()
        finally:
            for c, value in saved.items():
                if value is _MISSING:
                    with contextlib.suppress(AttributeError):
                        del c.debuglevel
                else:
                    c.debuglevel = value
        text = out.getvalue()
        leaked = any(marker in text for marker in ("send:", "reply:", "header:", "Authorization"))
        tally.count("debug-print", leaked, f"{[c.__qualname__ for c in chosen]} = {level!r}")


_MISSING = object()


def traceback_locals(tally: Tally, rng: random.Random, n: int) -> None:
    from relaykit import ConnectionConfigError, RelaykitError, Runtime, hookimpl

    site = "adversary-site-0001"
    env: dict[str, str] = {}
    answers: dict[str, dict[str, Any]] = {}

    class Plugin:
        @hookimpl
        def resolve_connection(self, connector: str, reference: str) -> dict[str, Any] | None:
            return answers.get(reference)

    refusals = [("api_key", "{key} "), ("api_key", " {key}"), ("api_key", "{key}\n"), ("api_key", "{key}\t"),
                ("api_key", "{key}\x00"), ("region", "mars"), ("region", "US"), ("sandbox_url", "http://localhost.:1"),
                ("sandbox_url", "http://example.org"), ("sandbox_url", "http://[::1%25lo]:1"),
                ("sandbox_url", "http://127.0.0.1.:1"), ("site_id", " s")]
    rt = Runtime(environ=env, plugins=[Plugin()], sleep=lambda s: None)
    alphabet = [chr(c) for c in range(33, 127)]
    try:
        for _ in range(n):
            key = "adversary-" + "".join(rng.choice(alphabet) for _ in range(rng.randint(8, 32)))
            connector = rng.choice(["customerio-track", "customerio-app", "customerio-pipelines"])
            field, template = rng.choice(refusals)
            if field == "site_id" and connector != "customerio-track":
                field, template = "region", "mars"
            config = {"api_key": key, "region": "us", **({"site_id": site} if connector == "customerio-track" else {})}
            config[field] = template.format(key=key)
            source = rng.choice(["env-own", "env-ref", "plugin"])
            env.clear()
            answers.clear()
            reference: str | None
            if source == "plugin":
                reference = "vault"
                answers[reference] = config
            else:
                reference = None if source == "env-own" else "prod"
                prefix = "RELAYKIT_" + (reference or connector).upper().replace("-", "_") + "_"
                env.update({prefix + k.upper(): v for k, v in config.items()})
            entry = rng.choice(["resolve", "dry_run", "run"])
            op = {"customerio-track": ("customerio-track.track_event", {"identifier": "a", "name": "n"}),
                  "customerio-app": ("customerio-app.raw_http_request", {"method": "GET", "endpoint": "/x"}),
                  "customerio-pipelines": ("customerio-pipelines.identify", {"userId": "u"})}[connector]
            try:
                if entry == "resolve":
                    rt.resolve_connection(connector, reference)
                elif entry == "dry_run":
                    rt.dry_run(*op, reference)
                else:
                    rt.run(*op, reference)
            except ConnectionConfigError as exc:
                found = leaking_locals(exc, key, site, skip_file=__file__)
                tally.count("locals", bool(found), f"{source} {connector} {entry} {field}: {found}")
            except RelaykitError as exc:
                tally.count("locals", True, f"{source} {connector} {entry} {field}: not refused ({type(exc).__name__})")
            else:
                tally.count("locals", True, f"{source} {connector} {entry} {field}: accepted")
    finally:
        rt.close()


def headers(tally: Tally, rng: random.Random, n: int, sandbox: Any) -> None:
    from relaykit import InputValidationError, Runtime
    from relaykit.automation.webhook_step import header_problems
    from relaykit.call.render import check_header

    owned = {"authorization", "proxy-authorization", "cookie", "host", "content-length", "expect"}
    for _ in range(n):
        name = crafted_header(rng)
        valid = all(c in _TOKEN for c in name) and bool(name)
        refused = header_refused_by_oracle(name) or name.lower().replace("_", "-") in owned
        problem = check_header(name, "v", "/headers/h")
        if valid:
            tally.count("headers", (problem is None) == refused, f"{name!r}: {problem}")
            if refused and problem is not None:
                tally.count("headers-reason", "cannot be given: it " not in problem.message, f"{name!r}: {problem}")
            webhook = header_problems({name: "v"}, "/headers", literal_check=False)
            if header_refused_by_oracle(name):
                tally.count("webhook-headers", not webhook, f"{name!r} accepted")
            elif name.lower().replace("_", "-") not in ("host", "content-length"):
                tally.count("webhook-headers", bool(webhook), f"{name!r}: {webhook}")
    rt = Runtime(sleep=lambda s: None)
    try:
        for _ in range(max(1, n // 20)):
            name = crafted_header(rng)
            if not header_refused_by_oracle(name) or any(c not in _TOKEN for c in name):
                continue
            before = len(sandbox.journal())
            try:
                rt.run("customerio-app.raw_http_request", {"method": "GET", "endpoint": "/customers/c1/attributes",
                                                           "headers": {name: "127.0.0.1"}},
                       sandbox.connection("customerio-app"))
                sent = True
            except InputValidationError:
                sent = False
            tally.count("headers-wire", sent or len(sandbox.journal()) != before, f"{name!r} was sent")
    finally:
        rt.close()


def run(seed: int = 12, scale: float = 1.0, sandbox: Any = None) -> Tally:
    """Every area at `scale` (1: the recorded run); a sandbox is started unless one is given."""
    rng = random.Random(seed)
    tally = Tally()
    own = None
    if sandbox is None:
        from relaykit.sandbox import Sandbox

        own = sandbox = Sandbox(seed=seed, processing_delay=0.0).__enter__()
    try:
        sandbox_urls(tally, rng, int(20000 * scale))
        peers(tally, rng, int(400 * scale))
        debug_printing(tally, rng, int(60 * scale), sandbox)
        traceback_locals(tally, rng, int(3000 * scale))
        headers(tally, rng, int(20000 * scale), sandbox)
    finally:
        if own is not None:
            own.__exit__(None, None, None)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    tally = run(args.seed, args.scale)
    print(tally.report())
    return 1 if tally.failures() else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "tests"))
    sys.exit(main())
