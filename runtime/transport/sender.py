"""The only module that sends: one pooled session, timeouts, the retry loop, rate limits, size caps.

Guarantees, each a lesson from a peer's bug report:
- one retry layer (the HTTP adapter has `max_retries=0`, so urllib3 never retries underneath);
- redirects are never followed: a 3xx becomes `RegionMismatchError` when it points at the
  connector's other region, `RedirectError` otherwise, and credentials never reach a new host;
- `trust_env` is off (no `.netrc` credentials, no proxies from the environment);
- every attempt has connect and read timeouts, the call has a total deadline, and a Retry-After
  or rate-limit wait that would overrun it raises `RateLimitError(retry_after=...)` immediately;
- responses are streamed and capped, so a huge body cannot exhaust memory;
- the clock, sleep and random source are injected, so tests exercise all of it without sleeping.
"""

from __future__ import annotations

import http.client
import logging
import random
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions as urllib3_errors

from ..errors import (
    CallError,
    RateLimitError,
    RedirectError,
    RegionMismatchError,
    RequestTimeoutError,
    TransportError,
)
from ..redact import REDACTOR, mask_path, mask_template, show_path_as
from ..specs.models import RetryPolicy, Timeouts
from . import retry as retry_rules
from .adapter import RelaykitAdapter
from .loopback import NotLoopbackPeer
from .ratelimit import LimiterStore, MemoryStore, windows_for
from .waits import human_duration, log_wait
from .watchdog import WATCHDOG, AttemptHandle

if TYPE_CHECKING:
    from ..models import HttpRequest
    from ..specs.models import RateLimit, Settings
    from .auth import Auth

log = logging.getLogger("relaykit.transport")
_WIRE_LOG = logging.getLogger("urllib3.connectionpool")  # its DEBUG lines carry each request's path


@dataclass(frozen=True)
class RawResponse:
    """A response that arrived: status, headers, the capped body, and how it took to get it."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    attempts: int
    elapsed: float
    request_id: str | None = None


@dataclass(frozen=True)
class SendOptions:
    """Per-call transport settings derived from the operation and its connector."""

    settings: Settings
    rate_limit: RateLimit | None
    fingerprint: str
    region_bases: Mapping[str, str] = field(default_factory=dict)  # region -> base URL, for 3xx mapping
    request_id_header: str | None = None


def _safe_url(url: str) -> str:
    """Scheme, host and path only: query strings may carry identifiers or keys."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def display_url(request: HttpRequest) -> str:
    """The URL for errors and logs: base URL plus the path with its identifiers masked (`/customers/***`).

    Path parameters are people's ids and email addresses, so they stay out of messages (S4). A
    declared operation's rendered parameter is exactly one segment, so its template (masked)
    replaces the path's last segments; a raw endpoint's template is already masked
    (`redact.mask_path`), and a webhook step's is its whole URL, masked.
    """
    parts = urlsplit(request.url)
    origin = f"{parts.scheme}://{parts.netloc}"
    template = request.path_template
    if template.startswith(("http://", "https://")):
        return template
    if not template.startswith("/"):
        return origin + mask_path(parts.path)
    shown = mask_template(template)
    segments = parts.path.split("/")
    keep = len(segments) - template.count("/")
    if keep < 1:
        return origin + shown
    return origin + "/".join(segments[:keep]) + shown


class Transport:
    """Sends `HttpRequest`s with auth, limits and retries; one instance (and session) per `Runtime`."""

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        observers: Any = None,
        timeouts: Mapping[str, float] | None = None,
        retry: Mapping[str, float] | None = None,
        rate_limit_store: LimiterStore | None = None,
    ) -> None:
        self.session = session or self._new_session()
        self.timeouts = retry_rules.check_overrides(timeouts, Timeouts)  # every operation's connect/read/total seconds
        self.retry = retry_rules.check_overrides(retry, RetryPolicy)  # every operation's max_attempts, backoff, ceiling
        self.clock = clock
        self.wall_clock = wall_clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.limits: LimiterStore = rate_limit_store if rate_limit_store is not None else MemoryStore(clock)
        self.observers = observers

    @staticmethod
    def _new_session() -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        adapter = RelaykitAdapter(max_retries=0, pool_connections=8, pool_maxsize=32)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def close(self) -> None:
        self.session.close()

    # -- the retry loop -----------------------------------------------------------------------
    def send(self, request: HttpRequest, auth: Auth, options: SendOptions) -> RawResponse:
        """Send with retries; return the final response (any status) or raise a `CallError`."""
        if http.client.HTTPConnection.debuglevel > 0:
            http.client.HTTPConnection.debuglevel = 0  # it would print() the Authorization header
        policy = options.settings.retry
        timeouts = options.settings.timeout
        if self.timeouts:
            timeouts = replace(timeouts, **self.timeouts)
        if self.retry:
            policy = replace(policy, **self.retry)
        start = self.clock()
        deadline = start + timeouts.total
        headers = _merge_headers(self.session.headers, request.headers, auth.headers())
        bucket = f"{options.fingerprint}:{request.rate_limit_class or ''}"
        hold = timeouts.connect + timeouts.read + 1.0  # the watchdog ends every attempt within connect + read
        attempt = 0
        while True:
            attempt += 1
            lease = self._take_place(request, options, bucket, deadline, attempt, hold)
            try:
                remaining = deadline - self.clock()
                if remaining <= 0:
                    raise self._error(RequestTimeoutError, request, "the call's total deadline ran out", attempt - 1)
                timeout = (min(timeouts.connect, remaining), min(timeouts.read, remaining))
                budget = min(remaining, timeouts.connect + timeouts.read)
                self._notify_request(request, attempt)
                sent_at = self.clock()
                failure_kind, error, response = self._attempt(request, headers, timeout, options, attempt, deadline,
                                                              budget)
            finally:
                if lease is not None:
                    self._store_call(request, attempt, self.limits.release, bucket, lease)
            if response is not None:
                status = response.status
                wait, reason = None, ""
                retry = retry_rules.is_retryable_status(status, request.idempotency) and attempt < policy.max_attempts
                retry_after = backoff = None
                if retry or status == 429:
                    retry_after = retry_rules.parse_retry_after(response.headers.get("Retry-After"), self.wall_clock())
                if retry or (status == 429 and retry_after is None):
                    backoff = retry_rules.backoff_delay(attempt, initial=policy.initial, factor=policy.factor,
                                                        cap=policy.max, rng=self.rng)
                if status == 429 and options.rate_limit is not None:
                    # Everyone on this credential holds back, but never past the policy's ceiling: one
                    # `Retry-After: 999999999` must not stop the credential for 31 years (issue 12, item 6).
                    pause = min(retry_after if retry_after is not None else backoff or 0.0, policy.max_retry_after)
                    self._store_call(request, attempt, self.limits.pause, bucket, pause)
                if retry:
                    assert backoff is not None
                    wait = max(backoff, retry_after or 0.0)
                    if retry_after is not None and (retry_after > policy.max_retry_after
                                                    or self.clock() + retry_after > deadline):
                        self._notify_response(request, attempt, response, sent_at, False, None)
                        raise self._error(RateLimitError, request, "the server asked to wait longer than this call "
                                          "may; reschedule it", attempt, retry_after=retry_after, status=status)
                    reason = f"status {status}"
                final = wait is None or self.clock() + wait > deadline
                self._notify_response(request, attempt, response, sent_at, not final, wait)
                if final:
                    return RawResponse(response.status, response.headers, response.body, attempt,
                                       self.clock() - start, response.request_id)
                assert wait is not None  # not final
                log_wait(log, wait, "%s.%s: attempt %d of %d got %s; retrying", request.connector,
                         request.operation, attempt, policy.max_attempts, reason, retry=True)
                self.sleep(wait)
                continue
            assert error is not None
            permanent = not error.retryable  # e.g. a response over the size cap: resending will not shrink it
            retryable = not permanent and retry_rules.is_retryable_failure(failure_kind, request.idempotency)
            wait = retry_rules.backoff_delay(attempt, initial=policy.initial, factor=policy.factor,
                                             cap=policy.max, rng=self.rng)
            will_retry = retryable and attempt < policy.max_attempts and self.clock() + wait < deadline
            self._notify_failure(request, attempt, error, will_retry, wait)
            if not will_retry:
                error.attempts = attempt
                if not retryable and not permanent:
                    error.retryable = False
                    error.message += " " + retry_rules.NOT_RESENT
                raise error
            log_wait(log, wait, "%s.%s: attempt %d of %d failed (%s: %s); retrying", request.connector,
                     request.operation, attempt, policy.max_attempts, type(error).__name__, error.message, retry=True)
            self.sleep(wait)

    def _take_place(self, request: HttpRequest, options: SendOptions, bucket: str, deadline: float,
                    attempt: int, hold: float) -> str | None:
        """Wait for a place in the class's windows (see `relaykit.transport.ratelimit`); its lease, None when unlimited.

        A wait that would end past the deadline takes nothing and raises `RateLimitError` at once,
        with the store's own estimate of when a place frees as `retry_after`.
        """
        limit = options.rate_limit
        if limit is None:
            return None
        windows = windows_for(limit)
        while True:
            remaining = max(deadline - self.clock(), 0.0)
            decision = self._store_call(request, attempt - 1, self.limits.acquire, bucket, windows,
                                        max_wait=remaining, hold=hold)
            if decision.lease is not None:
                if decision.wait > 0:
                    log_wait(log, decision.wait, "%s.%s: client-side rate limit %r (%s per %s)", request.connector,
                             request.operation, request.rate_limit_class, _requests(limit.requests),
                             human_duration(limit.per))
                    try:
                        self.sleep(decision.wait)
                    except BaseException:
                        self._store_call(request, attempt - 1, self.limits.release, bucket, decision.lease)
                        raise
                return decision.lease
            if not decision.busy:
                raise self._error(RateLimitError, request, f"client-side rate limit for {request.rate_limit_class!r} "
                                  "would delay this call past its deadline", attempt - 1,
                                  retry_after=decision.wait, status=429)
            self.limits.wait_for_release(bucket, decision.wait)

    def _store_call(self, request: HttpRequest, attempts: int, method: Callable[..., Any], *args: Any,
                    **kwargs: Any) -> Any:
        """A call to the rate-limit store; a shared store that fails becomes a `TransportError` (nothing is sent)."""
        try:
            return method(*args, **kwargs)
        except TransportError as exc:
            raise self._error(TransportError, request, exc.message, attempts) from None

    # -- one attempt --------------------------------------------------------------------------
    def _attempt(self, request: HttpRequest, headers: dict[str, str], timeout: tuple[float, float],
                 options: SendOptions, attempt: int, deadline: float,
                 budget: float) -> tuple[str, CallError | None, Any]:
        """One request on the wire, bounded by the watchdog to `budget` seconds from now (headers included)."""
        handle = WATCHDOG.arm(budget)
        wire_log = _WIRE_LOG.isEnabledFor(logging.DEBUG)
        if wire_log:
            show_path_as(urlsplit(request.url).path, urlsplit(display_url(request)).path)
        try:
            return self._attempt_guarded(request, headers, timeout, options, attempt, deadline, handle)
        finally:
            WATCHDOG.disarm(handle)
            if wire_log:
                show_path_as("", "")

    def _attempt_guarded(self, request: HttpRequest, headers: dict[str, str], timeout: tuple[float, float],
                         options: SendOptions, attempt: int, deadline: float,
                         handle: AttemptHandle) -> tuple[str, CallError | None, Any]:
        try:
            resp = self._send_prepared(request, headers, timeout)
        except NotLoopbackPeer as exc:  # the socket was closed before a byte left; a resolver will not reform
            return retry_rules.NOT_SENT, self._error(TransportError, request, str(exc), attempt,
                                                     retryable=False), None
        except requests.exceptions.ConnectTimeout:
            return retry_rules.NOT_SENT, self._error(RequestTimeoutError, request, "connect timeout", attempt), None
        except requests.exceptions.ReadTimeout:
            return retry_rules.MAYBE_SENT, self._error(RequestTimeoutError, request, "read timeout", attempt), None
        except requests.exceptions.SSLError as exc:
            if _cert_failure(exc):  # a certificate that does not verify will not verify on the next try
                return retry_rules.NOT_SENT, self._error(TransportError, request, "TLS certificate verification "
                                                         "failed", attempt, retryable=False), None
            return retry_rules.NOT_SENT, self._error(TransportError, request, "TLS handshake failed", attempt), None
        except requests.exceptions.ConnectionError as exc:
            if handle.fired:
                return retry_rules.MAYBE_SENT, self._budget_error(request, attempt), None
            kind = retry_rules.NOT_SENT if _never_connected(exc) else retry_rules.MAYBE_SENT
            what = "could not connect" if kind == retry_rules.NOT_SENT else "connection lost before a response"
            return kind, self._error(TransportError, request, what, attempt), None
        except requests.exceptions.RequestException as exc:
            if handle.fired:
                return retry_rules.MAYBE_SENT, self._budget_error(request, attempt), None
            return retry_rules.MAYBE_SENT, self._error(TransportError, request,
                                                       f"request failed ({type(exc).__name__})", attempt), None
        if 300 <= resp.status_code < 400 and not handle.fired:
            # Never followed, so its body is never wanted: the connection is dropped unread.
            resp.close()
            raise self._redirect(request, resp.status_code, resp.headers.get("Location", ""), options, attempt)
        try:
            body = self._read_capped(resp, options.settings.max_response_bytes, deadline)
        except CallError as exc:
            exc.connector, exc.operation = request.connector, request.operation
            exc.method, exc.url, exc.attempts = request.method, display_url(request), attempt
            return retry_rules.MAYBE_SENT, exc, None
        except (requests.exceptions.RequestException, OSError, http.client.HTTPException, urllib3_errors.HTTPError):
            if handle.fired:
                return retry_rules.MAYBE_SENT, self._budget_error(request, attempt), None
            return retry_rules.MAYBE_SENT, self._error(TransportError, request, "response body was cut short",
                                                       attempt), None
        finally:
            resp.close()
        if handle.fired:
            # A shut-down socket reads as end-of-file, which http.client may take for the end of the
            # headers or of an unsized body: whatever arrived is not trustworthy.
            return retry_rules.MAYBE_SENT, self._budget_error(request, attempt), None
        header_map = dict(resp.headers)
        request_id = header_map.get(options.request_id_header or "X-Request-Id")
        return "", None, _Response(resp.status_code, header_map, body, request_id)

    def _send_prepared(self, request: HttpRequest, headers: dict[str, str],
                       timeout: tuple[float, float]) -> requests.Response:
        """One request through the session's mounted adapter, skipping `Session.request`.

        `Session.request` would merge environment settings, run a cookie jar shared by every
        credential, dispatch hooks and, for a 3xx, read the whole redirect body outside the size cap
        (even with redirects off). relaykit wants none of that, and skipping it saves about 250 µs a
        call. The URL and body are already final (render percent-encoded and checked them), so the
        prepared request is filled in directly. An embedder's session still contributes its adapters
        (TLS, pools), `verify`, `cert`, `proxies` and default headers; never its `auth` or cookies.
        """
        session = self.session
        prepared = requests.PreparedRequest()
        prepared.method = request.method
        prepared.url = request.url
        prepared.headers = headers  # type: ignore[assignment]
        body = request.body
        if body is not None:
            prepared.headers["Content-Length"] = str(len(body))
        elif request.method not in ("GET", "HEAD"):
            prepared.headers["Content-Length"] = "0"
        prepared.body = body
        adapter = session.get_adapter(request.url)
        return adapter.send(prepared, stream=True, timeout=timeout, verify=session.verify, cert=session.cert,
                            proxies=session.proxies or None)

    def _budget_error(self, request: HttpRequest, attempt: int) -> CallError:
        return self._error(RequestTimeoutError, request, "the server was too slow: the attempt ran past its time "
                           "budget (connect + read timeout, or the call's remaining deadline)", attempt)

    def _read_capped(self, resp: requests.Response, cap: int, deadline: float) -> bytes:
        """The decoded body, refused as soon as it would pass `cap` bytes (a gzip bomb stops early too)."""
        declared = resp.headers.get("Content-Length", "")
        encoded = resp.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
        if declared.isdigit() and int(declared) > cap and not encoded:
            raise TransportError(f"response of {int(declared)} bytes is larger than the {cap}-byte cap",
                                 retryable=False)
        if declared.isdigit() and not encoded:
            # The common case (a small, sized, unencoded body): one read of exactly that many bytes,
            # ~60 µs cheaper than the chunk generator. urllib3 enforces the length, so a short body
            # raises (IncompleteRead) instead of passing as complete.
            body = resp.raw.read(int(declared), decode_content=False)
            if len(body) != int(declared):
                raise TransportError("response body was cut short")
            return body
        chunks, size = [], 0
        # urllib3 >= 2.6 bounds each decompression step by the requested amount, so a chunk is at
        # most 64 KiB of decoded data and the cap is checked on decoded bytes.
        for chunk in resp.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > cap:
                raise TransportError(f"response larger than the {cap}-byte cap", retryable=False)
            if self.clock() > deadline:
                raise RequestTimeoutError("the call's total deadline ran out while reading the response")
            chunks.append(chunk)
        return b"".join(chunks)

    def _redirect(self, request: HttpRequest, status: int, location: str, options: SendOptions,
                  attempt: int) -> CallError:
        target = location.strip()
        for region, base in options.region_bases.items():
            base_parts, loc_parts = urlsplit(base), urlsplit(target)
            if (loc_parts.scheme, loc_parts.netloc) == (base_parts.scheme, base_parts.netloc) and \
                    loc_parts.path.startswith(base_parts.path) and not request.url.startswith(base):
                return self._error(RegionMismatchError, request,
                                   f"the account lives in region {region!r}; set the connection's region to "
                                   f"{region!r}", attempt, region=region, status=status)
        host = urlsplit(target).hostname or "an unknown host"
        return self._error(RedirectError, request, f"the server redirected ({status}) to {host}; redirects are "
                           "never followed with credentials", attempt, status=status)

    def _error(self, cls: type[CallError], request: HttpRequest, message: str, attempts: int, **kw: Any) -> CallError:
        return cls(REDACTOR.scrub(message), connector=request.connector, operation=request.operation,
                   method=request.method, url=display_url(request), attempts=attempts, **kw)

    # -- observers ----------------------------------------------------------------------------
    def _notify_request(self, request: HttpRequest, attempt: int) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s.%s attempt %d: %s %s", request.connector, request.operation, attempt, request.method,
                      display_url(request))
        if self.observers is not None:
            _safely(self.observers.on_request, request=request, context=self._context(request, attempt))

    def _notify_response(self, request: HttpRequest, attempt: int, response: _Response, sent_at: float,
                         will_retry: bool, wait: float | None) -> None:
        log.debug("%s.%s attempt %d: status %d", request.connector, request.operation, attempt, response.status)
        if self.observers is not None:
            view = {"status": response.status, "headers": _redacted_headers(response.headers),
                    "elapsed": self.clock() - sent_at, "request_id": response.request_id}
            context = {**self._context(request, attempt), "will_retry": will_retry, "wait": wait}
            _safely(self.observers.on_response, response=view, context=context)

    def _notify_failure(self, request: HttpRequest, attempt: int, error: CallError, will_retry: bool,
                        wait: float) -> None:
        if self.observers is not None:
            context = {**self._context(request, attempt), "will_retry": will_retry, "wait": wait}
            _safely(self.observers.on_response, response={"error": type(error).__name__}, context=context)

    @staticmethod
    def _context(request: HttpRequest, attempt: int) -> dict[str, Any]:
        return {"connector": request.connector, "operation": request.operation, "attempt": attempt,
                "rate_limit_class": request.rate_limit_class}


def _requests(count: float) -> str:
    return f"{count:g} request" + ("" if count == 1 else "s")


@dataclass(frozen=True)
class _Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    request_id: str | None


def _cert_failure(exc: BaseException) -> bool:
    """True when a TLS error is a certificate that does not verify (permanent), not a dropped handshake."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        reason = getattr(current, "reason", None)
        nested = [a for a in (reason, *getattr(current, "args", ())) if isinstance(a, BaseException)]
        current = nested[0] if nested else (current.__cause__ or current.__context__)
    return False


def _never_connected(exc: BaseException) -> bool:
    """True when the failure happened while establishing the connection (nothing was sent)."""
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = type(current).__name__
        if name in ("NewConnectionError", "ConnectTimeoutError", "NameResolutionError", "ConnectionRefusedError"):
            return True
        for arg in getattr(current, "args", ()):
            if isinstance(arg, BaseException) and id(arg) not in seen:
                if _never_connected_single(arg):
                    return True
        current = getattr(current, "reason", None) or current.__cause__ or current.__context__
    return False


def _never_connected_single(exc: BaseException) -> bool:
    name = type(exc).__name__
    if name in ("NewConnectionError", "ConnectTimeoutError", "NameResolutionError", "ConnectionRefusedError"):
        return True
    reason = getattr(exc, "reason", None)
    return isinstance(reason, BaseException) and type(reason).__name__ in (
        "NewConnectionError", "ConnectTimeoutError", "NameResolutionError", "ConnectionRefusedError")


_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


class _WireHeaders(dict):  # type: ignore[type-arg]
    """The headers one call sends, credentials included, as a plain dict for requests.

    Masked in its repr, so a traceback rendered with locals (Sentry, `pytest --showlocals`, rich)
    shows no credential.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(_redacted_headers(self))

    __str__ = __repr__


def _merge_headers(*sources: Mapping[str, str | None]) -> _WireHeaders:
    """Header mappings merged in order (later wins), one key per name whatever its case.

    The session's defaults come first, then the request's, then the credentials; as in requests,
    a value set to None removes the name.
    """
    out = _WireHeaders()
    names: dict[str, str] = {}
    for source in sources:
        for key, value in source.items():
            lower = key.lower()
            previous = names.get(lower)
            if previous is not None:
                del out[previous]
            if value is None:
                names.pop(lower, None)
                continue
            out[key] = value
            names[lower] = key
    return out


def _redacted_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: ("***" if k.lower() in _SENSITIVE_HEADERS else REDACTOR.scrub(v)) for k, v in headers.items()}


def _safely(hook: Callable[..., Any], **kwargs: Any) -> None:
    try:
        hook(**kwargs)
    except Exception:  # observers never break a call
        log.warning("an on_request/on_response observer raised; ignored", exc_info=False)
