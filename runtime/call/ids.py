"""ULIDs for dedupe ids: time-ordered, 26 characters, generated once per call and reused on retries.

Twelve lines of standard library beat a dependency: a ULID is a 48-bit millisecond timestamp and
80 random bits in Crockford's base32, and Customer.io accepts it as an event `id`.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = tuple(_ALPHABET[i >> 5] + _ALPHABET[i & 31] for i in range(1024))


def new_ulid(now: float | None = None, randomness: bytes | None = None) -> str:
    """A new ULID; `now` (seconds) and `randomness` (10 bytes) are injectable for tests."""
    millis = int((time.time() if now is None else now) * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(randomness if randomness is not None else os.urandom(10), "big")
    value = (millis << 80) | rand
    # 130 bits (128 + 2 leading zero bits) = 13 ten-bit chunks, two characters each
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in range(120, -1, -10)])
