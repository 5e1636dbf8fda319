"""Tests for relaykit.ids: ULIDs as dedupe ids."""

from __future__ import annotations

import random
import re

import pytest
from relaykit.call.ids import new_ulid

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")


def decode_time(ulid: str) -> int:
    value = 0
    for ch in ulid[:10]:
        value = value * 32 + CROCKFORD.index(ch)
    return value


@pytest.mark.parametrize(("now", "randomness", "expected"), [
    pytest.param(1469918176.385, bytes(10), "01ARYZ6S410000000000000000", id="spec-example-zero-randomness"),
    pytest.param(1469918176.385, b"\xff" * 10, "01ARYZ6S41ZZZZZZZZZZZZZZZZ", id="spec-example-max-randomness"),
    pytest.param(0.0, bytes(10), "0" * 26, id="epoch"),
    pytest.param(0.0, bytes(9) + b"\x01", "0" * 25 + "1", id="lowest-random-bit"),
    pytest.param(0.001, bytes(10), "0" * 9 + "1" + "0" * 16, id="one-millisecond"),
    pytest.param((2**48 - 1) / 1000, bytes(10), "7ZZZZZZZZZ" + "0" * 16, id="max-timestamp"),
])
def test_known_ulids(now: float, randomness: bytes, expected: str) -> None:
    assert new_ulid(now, randomness) == expected


@pytest.mark.parametrize("millis", [0, 1, 1469918176385, 1700000000125, 1700000000500, 2**47, 2**48 - 1])
def test_timestamp_round_trips(millis: int) -> None:
    assert decode_time(new_ulid(millis / 1000, bytes(10))) == millis


def test_shape_and_alphabet() -> None:
    rng = random.Random(7)
    for _ in range(1000):
        ulid = new_ulid(rng.uniform(0, 4e9), rng.randbytes(10))
        assert len(ulid) == 26 and ULID.match(ulid)
        assert not set(ulid) & set("ILOU")


def test_sortable_by_time() -> None:
    rng = random.Random(11)
    times = sorted(rng.uniform(1.6e9, 1.8e9) for _ in range(500))
    ulids = [new_ulid(t, rng.randbytes(10)) for t in times]
    shuffled = ulids[:]
    rng.shuffle(shuffled)
    assert [decode_time(u) for u in sorted(shuffled)] == [decode_time(u) for u in ulids]
    assert sorted(decode_time(u) for u in ulids) == [decode_time(u) for u in ulids]


def test_default_randomness_differs_per_call() -> None:
    ids = {new_ulid(1_700_000_000.0) for _ in range(100)}
    assert len(ids) == 100
    assert {u[:10] for u in ids} == {new_ulid(1_700_000_000.0, bytes(10))[:10]}


def test_default_clock_is_now() -> None:
    import time

    before = int(time.time() * 1000)
    ulid = new_ulid()
    after = int(time.time() * 1000)
    assert before <= decode_time(ulid) <= after
