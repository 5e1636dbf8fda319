"""Tests for relaykit.retry: the published retry table cell by cell, the backoff envelope and Retry-After."""

from __future__ import annotations

import random
from email.utils import formatdate

import pytest
from relaykit.transport.retry import (
    MAYBE_SENT,
    NOT_SENT,
    backoff_delay,
    is_retryable_failure,
    is_retryable_status,
    parse_retry_after,
)

MODES = ("safe", "keyed", "unsafe")
ALL = {"safe": True, "keyed": True, "unsafe": True}
NOT_UNSAFE = {"safe": True, "keyed": True, "unsafe": False}
NONE = {"safe": False, "keyed": False, "unsafe": False}

STATUS_ROWS = [
    *(pytest.param(s, ALL, id=str(s)) for s in (408, 429)),
    *(pytest.param(s, NOT_UNSAFE, id=str(s)) for s in (500, 502, 503, 504, 520, 521, 522, 523, 524)),
    *(pytest.param(s, NONE, id=str(s)) for s in (
        409, 400, 401, 403, 404, 405, 413, 422, 451, 499,  # 4xx
        301, 302, 303, 307, 308,  # 3xx
        501, 505, 511, 519, 525, 599,  # 5xx outside the table
        200, 204,
    )),
]


@pytest.mark.parametrize(("status", "row"), STATUS_ROWS)
@pytest.mark.parametrize("mode", MODES)
def test_is_retryable_status(status: int, row: dict[str, bool], mode: str) -> None:
    assert is_retryable_status(status, mode) is row[mode]


@pytest.mark.parametrize(("kind", "row"), [
    pytest.param(NOT_SENT, ALL, id="not-sent"),
    pytest.param(MAYBE_SENT, NOT_UNSAFE, id="maybe-sent"),
])
@pytest.mark.parametrize("mode", MODES)
def test_is_retryable_failure(kind: str, row: dict[str, bool], mode: str) -> None:
    assert is_retryable_failure(kind, mode) is row[mode]


@pytest.mark.parametrize(("status", "kind"), [
    pytest.param(500, MAYBE_SENT, id="unknown-mode"),
])
@pytest.mark.parametrize("mode", ["", "SAFE", "bogus"])
def test_unknown_idempotency_is_treated_as_unsafe(status: int, kind: str, mode: str) -> None:
    assert is_retryable_status(status, mode) is False
    assert is_retryable_failure(kind, mode) is False
    assert is_retryable_status(429, mode) is True  # not processed: always worth another attempt


@pytest.mark.parametrize(("initial", "factor", "cap"), [
    pytest.param(0.5, 2.0, 8.0, id="connector-default"),
    pytest.param(1.0, 3.0, 30.0, id="steep"),
    pytest.param(0.1, 1.0, 5.0, id="flat"),
])
@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 8, 20])
def test_backoff_envelope(initial: float, factor: float, cap: float, attempt: int) -> None:
    rng = random.Random(attempt * 7919)
    ceiling = min(cap, initial * factor ** (attempt - 1))
    draws = [backoff_delay(attempt, initial=initial, factor=factor, cap=cap, rng=rng) for _ in range(10_000)]
    assert all(0.0 <= d <= ceiling for d in draws)
    # full jitter: the draws spread over the whole envelope, not bunched at either end
    assert min(draws) < 0.01 * ceiling and max(draws) > 0.99 * ceiling
    assert abs(sum(draws) / len(draws) - ceiling / 2) < 0.02 * ceiling


def test_backoff_attempt_zero_uses_initial() -> None:
    rng = random.Random(1)
    assert all(backoff_delay(0, initial=0.5, factor=2, cap=8, rng=rng) <= 0.5 for _ in range(1000))


def test_backoff_is_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[float]:
        rng = random.Random(seed)
        return [backoff_delay(n, initial=0.5, factor=2, cap=8, rng=rng) for n in range(1, 50)]

    assert run(42) == run(42)
    assert run(42) != run(43)


NOW = 1_700_000_000.0


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("0", 0.0, id="zero"),
    pytest.param("1", 1.0, id="one"),
    pytest.param("1.5", 1.5, id="fraction"),
    pytest.param(" 2 ", 2.0, id="padded"),
    pytest.param("999999999", 999999999.0, id="far-future-seconds"),
    pytest.param("-1", None, id="negative"),
    pytest.param("-0.5", None, id="negative-fraction"),
    pytest.param("abc", None, id="garbage"),
    pytest.param("", None, id="empty"),
    pytest.param("   ", None, id="blank"),
    pytest.param(None, None, id="absent"),
    pytest.param("nan", None, id="nan"),
    pytest.param("NaN", None, id="nan-upper"),
    pytest.param("inf", None, id="inf"),
    pytest.param("Infinity", None, id="infinity"),
    pytest.param("-inf", None, id="minus-inf"),
    pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", 0.0, id="date-in-past"),
    pytest.param(formatdate(NOW + 120, usegmt=True), 120.0, id="date-in-future"),
    pytest.param(formatdate(NOW, usegmt=True), 0.0, id="date-now"),
    pytest.param(formatdate(NOW + 10 * 365 * 86400, usegmt=True), 10 * 365 * 86400.0, id="date-far-future"),
    pytest.param("Wed, 32 Oct 2015 07:28:00 GMT", None, id="impossible-date"),
    pytest.param("Wed, 21 Oct 2015 07:28:00 -0000", None, id="date-without-zone"),
])
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected
