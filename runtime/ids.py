"""ULIDs for dedupe ids: time-ordered, 26 characters, generated once per call and reused on retries.

Twelve lines of standard library beat a dependency: a ULID is a 48-bit millisecond timestamp and
80 random bits in Crockford's base32, and Customer.io accepts it as an event `id`.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(now: float | None = None, randomness: bytes | None = None) -> str:
    """A new ULID; `now` (seconds) and `randomness` (10 bytes) are injectable for tests."""
    millis = int((time.time() if now is None else now) * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(randomness if randomness is not None else os.urandom(10), "big")
    value = (millis << 80) | rand
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
