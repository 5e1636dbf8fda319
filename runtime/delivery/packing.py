"""Pack encoded batch items into request bodies within a batch operation's byte and count limits, exactly.

The body of a batch request is the batch operation's own rendering with the item list spliced in:
`prefix + item,item,... + suffix`. Items are encoded once, when they are read, so the size of a
body is known to the byte before it is built and no request is ever re-encoded to fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SENTINEL = "@relaykit.bulk.items@"  # stands for the item list while the envelope is rendered


@dataclass(frozen=True)
class Pending:
    """One item on its way: its input index, the input as sent (dedupe id fixed) and its encoded batch item."""

    index: int
    item: Any
    encoded: bytes
    where: str = ""  # file:line, for messages


@dataclass(frozen=True)
class Envelope:
    """The bytes around the item list of a batch body, and the limits one body must keep."""

    prefix: bytes
    suffix: bytes
    max_body_bytes: int | None = None
    max_item_bytes: int | None = None
    max_items: int | None = None

    @classmethod
    def split(cls, body: bytes, limits: Mapping[str, Any]) -> Envelope:
        """The envelope of a body rendered with `[SENTINEL]` as its item list."""
        marker = b'["' + SENTINEL.encode() + b'"]'
        if body.count(marker) != 1:
            raise ValueError("the batch operation's body does not carry its item list exactly once")
        prefix, _, suffix = body.partition(marker)
        return cls(prefix + b"[", b"]" + suffix, limits.get("max_body_bytes"), limits.get("max_item_bytes"),
                   limits.get("max_items"))

    @property
    def room(self) -> int | None:
        """Bytes left for items in an otherwise empty body."""
        if self.max_body_bytes is None:
            return None
        return self.max_body_bytes - len(self.prefix) - len(self.suffix)

    def item_problem(self, size: int) -> str | None:
        """Why an encoded item of `size` bytes can never be sent, or None."""
        if self.max_item_bytes is not None and size > self.max_item_bytes:
            return f"the batch item is {size} bytes; the limit per item is {self.max_item_bytes} bytes"
        room = self.room
        if room is not None and size > room:
            return f"the batch item is {size} bytes; a request has room for {room} bytes of items"
        return None

    def body(self, items: list[Pending]) -> bytes:
        return self.prefix + b",".join(p.encoded for p in items) + self.suffix


class Packer:
    """Collects items into one batch; `add` hands back the full batch the new item did not fit into."""

    def __init__(self, envelope: Envelope) -> None:
        self.envelope = envelope
        self._items: list[Pending] = []
        self._size = len(envelope.prefix) + len(envelope.suffix)

    def add(self, pending: Pending) -> list[Pending] | None:
        """Add `pending` (already checked with `item_problem`); the previous batch if it had to be closed."""
        env = self.envelope
        extra = len(pending.encoded) + (1 if self._items else 0)
        full = (env.max_body_bytes is not None and self._size + extra > env.max_body_bytes) or \
               (env.max_items is not None and len(self._items) >= env.max_items)
        done = None
        if full and self._items:
            done = self.flush()
            extra = len(pending.encoded)
        self._items.append(pending)
        self._size += extra
        return done

    def flush(self) -> list[Pending]:
        """The batch collected so far (maybe empty); the packer starts a new one."""
        done, self._items = self._items, []
        self._size = len(self.envelope.prefix) + len(self.envelope.suffix)
        return done

    @property
    def size(self) -> int:
        """The exact byte length the current batch's body would have."""
        return self._size

    def __len__(self) -> int:
        return len(self._items)
