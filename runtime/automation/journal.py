"""The automation run journal: each finished step's result on disk, so a run stopped by a crash resumes.

`run_automation(..., journal="runs.db", run_id="...")` records, per run, a step's result when the
step finishes and, before a call goes out, that it started and with which input (a keyed
operation's dedupe id already fixed in it). Running the same `run_id` again resumes: finished steps
are not run again (their recorded results feed later templates), a started keyed or safe call is
sent again with its recorded input (so the API counts it once), and a started unsafe call (a
broadcast trigger, a transactional send, a POST webhook) is never sent again: it fails with
`MaybeSent`, and the caller checks. Webhook step inputs are not recorded, since their headers may
carry credentials; they are rendered again.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..durable import SqliteStore, StoreError

__all__ = ["Record", "RunJournal"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    automation TEXT NOT NULL,
    inputs TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    started REAL NOT NULL,
    finished REAL
);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL,
    key TEXT NOT NULL,
    state TEXT NOT NULL,
    input TEXT,
    result TEXT,
    at REAL NOT NULL,
    PRIMARY KEY (run_id, key)
);
"""


@dataclass(frozen=True)
class Record:
    """One journal entry: a step (`step:<id>`) or one call (`call:<id>` / `call:<id>[i]`), started or done."""

    state: str  # started | done
    input: Any = None
    result: Any = None


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


class RunJournal:
    """Automation runs and their steps in one SQLite file (WAL, group commits, one process at a time)."""

    def __init__(self, path: str | os.PathLike[str], *, sync: str = "full") -> None:
        self.store = SqliteStore(path, SCHEMA, sync=sync, name="run journal")
        self.path = self.store.path

    def open_run(self, run_id: str, automation: str, inputs: Mapping[str, Any]) -> tuple[dict[str, Any], bool,
                                                                                        dict[str, Record]]:
        """Start or resume `run_id`: (its inputs as first recorded, whether it finished, its records)."""

        def begin(conn: sqlite3.Connection) -> tuple[str, str, int]:
            conn.execute("INSERT OR IGNORE INTO runs (run_id, automation, inputs, started) VALUES (?, ?, ?, ?)",
                         (run_id, automation, _dumps(dict(inputs)), time.time()))
            return conn.execute("SELECT automation, inputs, done FROM runs WHERE run_id = ?", (run_id,)).fetchone()

        name, stored_inputs, done = self.store.write(begin)
        if name != automation:
            raise StoreError(f"run journal {self.path}: run {run_id!r} belongs to automation {name!r}")
        rows = self.store.read(lambda conn: conn.execute(
            "SELECT key, state, input, result FROM steps WHERE run_id = ?", (run_id,)).fetchall())
        records = {key: Record(state, None if given is None else json.loads(given),
                               None if result is None else json.loads(result)) for key, state, given, result in rows}
        return json.loads(stored_inputs), bool(done), records

    def started(self, run_id: str, key: str, given: Any) -> None:
        """Record, durably, that a call is about to go out with `given` as its input (None: not recorded)."""
        self.store.write(lambda conn: conn.execute(
            "INSERT OR REPLACE INTO steps (run_id, key, state, input, at) VALUES (?, ?, 'started', ?, ?)",
            (run_id, key, None if given is None else _dumps(given), time.time())))

    def finished(self, run_id: str, key: str, result: Mapping[str, Any]) -> None:
        """Record, durably, a finished call or step and its result."""
        self.store.write(lambda conn: conn.execute(
            "INSERT OR REPLACE INTO steps (run_id, key, state, result, at) VALUES (?, ?, 'done', ?, ?)",
            (run_id, key, _dumps(dict(result)), time.time())))

    def finish_run(self, run_id: str) -> None:
        self.store.write(lambda conn: conn.execute("UPDATE runs SET done = 1, finished = ? WHERE run_id = ?",
                                                   (time.time(), run_id)))

    def unfinished_runs(self) -> list[str]:
        """Runs that were started and not finished (a crash): resume each with its `run_id`."""
        rows = self.store.read(lambda conn: conn.execute(
            "SELECT run_id FROM runs WHERE done = 0 ORDER BY started").fetchall())
        return [run_id for (run_id,) in rows]

    def close(self) -> None:
        self.store.close()

    def __repr__(self) -> str:
        return f"RunJournal({str(self.path)!r})"
