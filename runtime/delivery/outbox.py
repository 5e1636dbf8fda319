"""The durable outbox: each submitted item on disk, with its dedupe id, until its outcome is final.

A `DeliveryQueue(..., store="outbox.db")` writes every accepted item here before `submit` returns
and removes it only once it is delivered or rejected (or moves it to `dead_letters` with the
reason); after a crash, the next queue on the same file resends what is left with the same ids,
so what had already landed is counted once. Items that must not be sent twice (unsafe operations:
transactional sends, broadcast triggers) are marked `sending` on disk before their request goes
out; one found marked after a crash may have landed, so it is dead-lettered, never resent.

The seam for other runners (`relaykit bulk`'s resume): `put(queue, items)` stores a batch and
returns its sequence numbers, `unfinished(queue)` lists what a stopped run left, in order, and
`settle(seq)` / `dead_letter(seq, outcome)` finish an item. `queue` is any name; a
`DeliveryQueue` uses its operation's.

Dead letters stay on disk until someone deals with them: `export_dead_letters` appends them to a
dead-letter JSONL file (the format `relaykit bulk` writes and reads back as input, each item with
its fixed id) and, with `forget=True`, removes them once that file is synced to disk.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..durable import SqliteStore, StoreError
from .dead_letters import dead_letter_record
from .pool import ItemOutcome

__all__ = ["DeadLetterRecord", "NotStorableError", "Outbox", "StoredItem"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    item TEXT NOT NULL,
    sending INTEGER NOT NULL DEFAULT 0,
    stored REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_by_queue ON outbox (queue, seq);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    item TEXT NOT NULL,
    error TEXT NOT NULL,
    message TEXT NOT NULL,
    retryable INTEGER NOT NULL,
    at REAL NOT NULL
);
"""


class NotStorableError(StoreError):
    """The item cannot be written as JSON (a set, bytes, NaN...): it was not stored, nor sent."""


@dataclass(frozen=True)
class StoredItem:
    """An unfinished item: its sequence number, the item as submitted (dedupe id included), maybe sent or not."""

    seq: int
    item: Any
    sending: bool


@dataclass(frozen=True)
class DeadLetterRecord:
    """A dead-lettered item as kept on disk: the item and why it did not make it."""

    seq: int
    queue: str
    item: Any
    error: str
    message: str
    retryable: bool
    at: float


def encode(item: Any) -> str:
    """The item as compact JSON; `NotStorableError` names the problem, never a value."""
    try:
        return json.dumps(item, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise NotStorableError(f"the item cannot be stored as JSON ({type(exc).__name__}); nothing was sent") from None


class Outbox:
    """Durable items per queue name in one SQLite file (see the module docstring); thread-safe."""

    def __init__(self, path: str | os.PathLike[str], *, sync: str = "full") -> None:
        self.store = SqliteStore(path, SCHEMA, sync=sync, name="outbox")
        self.path = self.store.path

    def put(self, queue: str, items: Iterable[Any]) -> list[int]:
        """Store `items` (in one group commit) and return their sequence numbers once they are on disk."""
        rows = [encode(item) for item in items]
        now = time.time()

        def insert(conn: sqlite3.Connection) -> list[int]:
            return [int(conn.execute("INSERT INTO outbox (queue, item, stored) VALUES (?, ?, ?)",
                                     (queue, row, now)).lastrowid or 0) for row in rows]

        return self.store.write(insert)

    def mark_sending(self, seq: int) -> None:
        """Record, durably, that `seq`'s request is about to go out (for items that must not be resent)."""
        self.store.write(lambda conn: conn.execute("UPDATE outbox SET sending = 1 WHERE seq = ?", (seq,)))

    def settle(self, seq: int) -> None:
        """`seq` is delivered or rejected: drop it (committed with the next group; a crash before resends it)."""
        self.store.write_later(lambda conn: conn.execute("DELETE FROM outbox WHERE seq = ?", (seq,)))

    def dead_letter(self, seq: int, outcome: ItemOutcome, *, wait: bool = False) -> None:
        """Move `seq` to `dead_letters` with its reason (committed with the next group unless `wait`)."""
        row = (outcome.error, outcome.message, int(outcome.retryable), time.time(), seq)

        def move(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR REPLACE INTO dead_letters (seq, queue, item, error, message, retryable, at) "
                         "SELECT seq, queue, item, ?, ?, ?, ? FROM outbox WHERE seq = ?", row)
            conn.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

        if wait:
            self.store.write(move)
        else:
            self.store.write_later(move)

    def unfinished(self, queue: str) -> list[StoredItem]:
        """What is still stored for `queue`, oldest first."""
        rows = self.store.read(lambda conn: conn.execute(
            "SELECT seq, item, sending FROM outbox WHERE queue = ? ORDER BY seq", (queue,)).fetchall())
        return [StoredItem(seq, json.loads(item), bool(sending)) for seq, item, sending in rows]

    def count(self, queue: str | None = None) -> int:
        """Items not yet final (for `queue`, or all)."""
        sql, args = ("SELECT COUNT(*) FROM outbox", ()) if queue is None else (
            "SELECT COUNT(*) FROM outbox WHERE queue = ?", (queue,))
        return int(self.store.read(lambda conn: conn.execute(sql, args).fetchone()[0]))

    def dead_letters(self, queue: str | None = None) -> list[DeadLetterRecord]:
        """The dead letters kept on disk, oldest first."""
        sql = "SELECT seq, queue, item, error, message, retryable, at FROM dead_letters"
        args: Sequence[Any] = ()
        if queue is not None:
            sql, args = sql + " WHERE queue = ?", (queue,)
        rows = self.store.read(lambda conn: conn.execute(sql + " ORDER BY seq", args).fetchall())
        return [DeadLetterRecord(seq, q, json.loads(item), error, message, bool(retryable), at)
                for seq, q, item, error, message, retryable, at in rows]

    def forget_dead_letters(self, seqs: Iterable[int]) -> int:
        """Remove these dead letters (handled: resent, exported or judged); returns how many were removed."""
        wanted = [int(seq) for seq in seqs]

        def delete(conn: sqlite3.Connection) -> int:
            return sum(conn.execute("DELETE FROM dead_letters WHERE seq = ?", (seq,)).rowcount for seq in wanted)

        return int(self.store.write(delete))

    def export_dead_letters(self, path: str | os.PathLike[str], queue: str | None = None, *,
                            forget: bool = False) -> int:
        """Append the dead letters (of `queue`, or all) to a dead-letter JSONL file; returns how many.

        The file is synced before anything is forgotten, so a crash in between leaves a letter in
        both places (a resend still lands it once, by its id), never in neither. `index` is the
        letter's sequence number in this store.
        """
        records = self.dead_letters(queue)
        with open(path, "a", encoding="utf-8") as out:
            for record in records:
                outcome = ItemOutcome(record.seq, record.error, record.message, record.retryable)
                out.write(json.dumps(dead_letter_record(record.item, outcome, 0), ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        if forget:
            self.forget_dead_letters(record.seq for record in records)
        return len(records)

    @property
    def closed(self) -> bool:
        return self.store.closed

    def close(self) -> None:
        """Commit what is queued and release the file. Idempotent."""
        self.store.close()

    def __repr__(self) -> str:
        return f"Outbox({str(self.path)!r}, closed={self.closed})"
