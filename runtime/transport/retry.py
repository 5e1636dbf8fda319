"""When to try again and how long to wait: the published retry table, backoff and Retry-After.

Pure functions with the clock and random source passed in, so every decision is testable without
sleeping. The table (also in docs/reliability.md):

| failure (client's view)                                          | safe | keyed | unsafe |
|------------------------------------------------------------------|------|-------|--------|
| not sent: connect refused, DNS, connect timeout, TLS handshake   | yes  | yes   | yes    |
| maybe sent: reset or EOF after the request left (the server's    | yes  | yes   | no     |
|   "reset before processing" and "reset after commit" look alike),|      |       |        |
|   read timeout, attempt budget exceeded, truncated body,         |      |       |        |
|   malformed response, reused pooled connection lost after send   |      |       |        |
| 408 Request Timeout, 429 Too Many Requests (not processed)       | yes  | yes   | yes    |
| 500, 502, 503, 504, 520-524                                      | yes  | yes   | no     |
| 409, any other 4xx, 501 and other 5xx, any 3xx                   | no   | no    | no     |
| TLS certificate that does not verify; response over the size cap| no   | no    | no     |

A pooled keep-alive connection the server has already closed is noticed by urllib3 before anything
is written (it polls the idle socket) and silently replaced, so it costs no attempt in any mode.
A `Retry-After` (or rate-limit wait) beyond `max_retry_after` or the call's remaining deadline
ends the call at once with `RateLimitError(retry_after=...)`.

`keyed` calls carry a dedupe id that stays fixed across attempts, so a resend after an unknown
outcome is absorbed by the server; `unsafe` calls (transactional sends, broadcast triggers) are
never resent once their bytes may have reached the server.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import fields
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({500, 502, 503, 504, 520, 521, 522, 523, 524})
NOT_PROCESSED_STATUSES = frozenset({408, 429})

NOT_SENT = "not_sent"      # the connection was never established
MAYBE_SENT = "maybe_sent"  # bytes may have reached the server; outcome unknown


def is_retryable_status(status: int, idempotency: str) -> bool:
    """Whether an HTTP status is worth another attempt for a call of this idempotency."""
    if status in NOT_PROCESSED_STATUSES:
        return True
    if status in RETRY_STATUSES:
        return idempotency in ("safe", "keyed")
    return False


NOT_RESENT = "(not retried: the request may have reached the server and this operation is not idempotent)"


def status_error_retryable(status: int, idempotency: str) -> tuple[bool, str]:
    """An error status's `retryable` flag for any layer above the transport, and a note for its message.

    The same table as the transport's own retries: a 5xx answered to an unsafe call may come after
    the server acted on it, so no caller (a step `retry:`, a queue, a host engine) may resend it.
    """
    if status in RETRY_STATUSES and idempotency not in ("safe", "keyed"):
        return False, NOT_RESENT
    return is_retryable_status(status, idempotency), ""


def is_retryable_failure(kind: str, idempotency: str) -> bool:
    """Whether a failure without a usable response is worth another attempt."""
    if kind == NOT_SENT:
        return True
    return idempotency in ("safe", "keyed")


def backoff_delay(attempt: int, *, initial: float, factor: float, cap: float, rng: random.Random) -> float:
    """Full jitter (AWS): uniform in [0, min(cap, initial * factor**(attempt-1))] for attempt >= 1."""
    ceiling = min(cap, initial * factor ** max(attempt - 1, 0))
    return rng.uniform(0.0, ceiling)


def parse_retry_after(value: str | None, now_epoch: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None when unusable.

    Negative, NaN and garbage values are None (normal backoff applies); a date in the past is 0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds < 0 or seconds == float("inf"):
            return None
        return seconds
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now_epoch)


def check_overrides(values: Mapping[str, float] | None, kind: type) -> dict[str, float]:
    """Runtime-wide overrides of `Timeouts` or `RetryPolicy` (`Runtime(timeouts=..., retry=...)`), checked early."""
    out = dict(values or {})
    names = [f.name for f in fields(kind)]
    for key, value in out.items():
        if key not in names:
            raise ValueError(f"unknown {kind.__name__} setting {key!r}; use one of: {', '.join(names)}")
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"{kind.__name__} setting {key!r} must be a positive number")
    if "max_attempts" in out and out["max_attempts"] != int(out["max_attempts"]):
        raise ValueError("max_attempts must be a whole number")
    return out
