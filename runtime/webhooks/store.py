"""The webhook receiver's durable inbox: accepted events and the `event_id` dedupe set, on disk (SQLite, WAL).

With a store, `WebhookReceiver` answers 200 only after the event is committed here, and its
worker marks it finished after running it; a receiver started later on the same file queues what
was accepted and not finished before answering anything, and still answers a redelivery of a
finished `event_id` with "duplicate" (until the dedupe TTL passes, counted in wall-clock time so
that it survives restarts). Finished events keep only their id and expiry.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from ..durable import SqliteStore

__all__ = ["DurableInbox"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_events (
    event_id TEXT PRIMARY KEY,
    event TEXT,
    state TEXT NOT NULL,
    received REAL NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_events_pending ON webhook_events (state, received);
"""

PRUNE_EVERY = 1000  # accepts between two sweeps of expired ids


class DurableInbox:
    """Events accepted and not yet finished, plus the ids seen within the TTL, in one SQLite file."""

    def __init__(self, path: str | os.PathLike[str], *, ttl: float, sync: str = "full",
                 clock: Callable[[], float] = time.time) -> None:
        self.store = SqliteStore(path, SCHEMA, sync=sync, name="webhook store")
        self.path = self.store.path
        self.ttl = ttl
        self.clock = clock
        self._accepts = 0

    def accept(self, event_id: str, event: dict[str, Any]) -> bool:
        """Store a verified event; True once it is on disk, False when its id was seen within the TTL."""
        now = self.clock()
        text = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        self._accepts += 1
        prune = self._accepts % PRUNE_EVERY == 0

        def insert(conn: sqlite3.Connection) -> bool:
            if prune:
                conn.execute("DELETE FROM webhook_events WHERE expires <= ? AND state != 'queued'", (now,))
            row = conn.execute("SELECT expires, state FROM webhook_events WHERE event_id = ?", (event_id,)).fetchone()
            if row is not None and (row[0] > now or row[1] == "queued"):
                return False
            conn.execute("INSERT OR REPLACE INTO webhook_events (event_id, event, state, received, expires) "
                         "VALUES (?, ?, 'queued', ?, ?)", (event_id, text, now, now + self.ttl))
            return True

        return self.store.write(insert)

    def discard(self, event_id: str) -> None:
        """Forget an event that could not be handed to the worker (the sender is asked to retry)."""
        self.store.write(lambda conn: conn.execute(
            "DELETE FROM webhook_events WHERE event_id = ? AND state = 'queued'", (event_id,)))

    def finish(self, event_id: str, outcome: str) -> None:
        """The worker ran the event (`processed` or `failed`): keep only its id, for deduplication."""
        self.store.write(lambda conn: conn.execute(
            "UPDATE webhook_events SET state = ?, event = NULL WHERE event_id = ?", (outcome, event_id)))

    def unfinished(self) -> list[dict[str, Any]]:
        """Events accepted and not finished (a stop or a crash came first), oldest first."""
        rows = self.store.read(lambda conn: conn.execute(
            "SELECT event FROM webhook_events WHERE state = 'queued' ORDER BY received, rowid").fetchall())
        return [json.loads(text) for (text,) in rows]

    def close(self) -> None:
        self.store.close()

    def __repr__(self) -> str:
        return f"DurableInbox({str(self.path)!r})"
