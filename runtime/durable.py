"""One SQLite file (WAL) per durable store: an exclusive process lock and group commits.

The outbox, the webhook inbox and the automation run journal all need the same thing: "this write
is on disk" before they answer, at thousands of writes a second. A commit with
`synchronous=FULL` costs an fsync (about 0.3 ms here), so one commit per write would cap a store
at a few thousand writes a second. Here every write is a function of the connection; whatever
queued up while the previous commit ran goes into one transaction, so concurrent writers share one
fsync (a group commit), and each caller returns only after the commit that carries its write.
`sync="normal"` skips the fsync at commit: a SIGKILL of the process still loses nothing (the WAL
is in the kernel's page cache), a power cut may.

A second process opening the same store would resend the same items, so the store takes an
exclusive `flock` on `<path>.lock` (released by the kernel when the process dies, even by SIGKILL).
A new store file is created readable by its owner only (SQLite gives its `-wal` and `-shm` files
the same mode): the items in it carry personal data.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .errors import RelaykitError

__all__ = ["SYNC_MODES", "SqliteStore", "StoreError", "StoreLockedError"]

log = logging.getLogger("relaykit.delivery")

SYNC_MODES = {"full": "FULL", "normal": "NORMAL"}
T = TypeVar("T")
Write = Callable[[sqlite3.Connection], Any]

try:  # POSIX; elsewhere the store is not locked against a second process
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class StoreError(RelaykitError):
    """A durable store could not be opened, read or written; whatever the write was for did not happen."""

    kind = "store"


class StoreLockedError(StoreError):
    """Another process has the store open: two would send the same items."""


class _Pending:
    __slots__ = ("done", "error", "later", "result", "write")

    def __init__(self, write: Write, later: bool) -> None:
        self.write = write
        self.later = later  # nobody waits for it: the background committer takes it if no writer does
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False


class SqliteStore:
    """A SQLite file in WAL mode, locked to this process, written in group commits.

    `write(fn)` runs `fn(connection)` in a transaction and returns its result once that transaction
    is committed. Whoever writes while no commit is running leads: it commits everything queued, its
    own write included, in its own thread; writers arriving meanwhile queue up and the next of them
    leads the next group, so a lone writer pays no thread hand-off and concurrent ones share an
    fsync. `write_later(fn)` queues without waiting; a background thread commits such writes when no
    writer is leading. `read(fn)` runs `fn` on a separate reading connection. `close()` commits
    what is queued, then stops.
    """

    def __init__(self, path: str | os.PathLike[str], schema: str, *, sync: str = "full", name: str = "store") -> None:
        if sync not in SYNC_MODES:
            raise ValueError(f"sync must be one of {', '.join(SYNC_MODES)}")
        self.path = Path(path)
        self.name = name
        self._lock_file = self._take_lock()
        try:
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))  # items carry personal data: owner only
            self._conn = self._connect(SYNC_MODES[sync])
            self._conn.executescript(schema)
            self._reader = self._connect(SYNC_MODES[sync])
        except (sqlite3.Error, OSError) as exc:
            self._release_lock()
            raise StoreError(f"{name} {self.path}: cannot open ({type(exc).__name__}: {exc})") from None
        self._read_lock = threading.Lock()
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._leading = False  # a group is being committed (by a writer or the background thread)
        self._later = 0  # queued writes nobody waits for
        self._closing = False
        self.commits = 0  # transactions committed (the bench divides writes by it)
        self._thread = threading.Thread(target=self._background, name=f"relaykit-{name}-writer", daemon=True)
        self._thread.start()

    def _connect(self, synchronous: str) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        return conn

    def _take_lock(self) -> Any:
        if fcntl is None:  # pragma: no cover
            return None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = os.fdopen(os.open(f"{self.path}.lock", os.O_CREAT | os.O_RDWR, 0o600), "r+")  # held open
        except OSError as exc:
            raise StoreError(f"{self.name} {self.path}: cannot open ({exc.strerror or exc})") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise StoreLockedError(f"{self.name} {self.path}: another process has it open") from None
        return handle

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing the file releases the flock
            self._lock_file = None

    # -- writing --------------------------------------------------------------------------------
    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(connection)` in a group commit; return its result once it is on disk."""
        pending = _Pending(fn, later=False)
        batch = None
        with self._cond:
            if self._closing:
                raise StoreError(f"{self.name} {self.path}: closed")
            self._queue.append(pending)
            while not pending.done and self._leading:
                self._cond.wait()
            if not pending.done:
                batch = self._lead()
        if batch is not None:
            self._commit_and_release(batch)
        if pending.error is not None:
            raise StoreError(f"{self.name} {self.path}: write failed ({type(pending.error).__name__}: "
                             f"{pending.error})") from None
        return pending.result  # type: ignore[no-any-return]

    def write_later(self, fn: Write) -> None:
        """Queue `fn(connection)` for a coming group commit without waiting for it (failures are logged)."""
        with self._cond:
            if self._closing:
                raise StoreError(f"{self.name} {self.path}: closed")
            self._queue.append(_Pending(fn, later=True))
            self._later += 1
            if not self._leading:
                self._cond.notify_all()  # the background thread commits it, unless a writer leads first

    def _lead(self) -> list[_Pending]:
        """Under the lock: take everything queued as the next group."""
        self._leading = True
        self._later = 0
        batch, self._queue = self._queue, []
        return batch

    def _commit_and_release(self, batch: list[_Pending]) -> None:
        try:
            self._commit(batch)
        finally:
            with self._cond:
                for pending in batch:
                    pending.done = True
                self._leading = False
                self._cond.notify_all()  # its writers return; one of those queued meanwhile leads next

    def _background(self) -> None:
        while True:
            with self._cond:
                while not (self._queue and not self._leading and (self._later or self._closing)):
                    if self._closing and not self._queue and not self._leading:
                        return
                    self._cond.wait()
                batch = self._lead()
            self._commit_and_release(batch)

    def _commit(self, batch: Sequence[_Pending]) -> None:
        try:
            self._transaction(batch)
        except Exception:
            if len(batch) == 1:
                return
            for pending in batch:  # one write broke the group: commit the others, each on its own
                try:
                    self._transaction([pending])
                except Exception:
                    pass

    def _transaction(self, batch: Sequence[_Pending]) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            results = [pending.write(conn) for pending in batch]
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for pending in batch:
                pending.error = exc
            if len(batch) == 1:
                log.error("%s: a write failed (%s)", self.name, type(exc).__name__)
            raise
        self.commits += 1
        for pending, result in zip(batch, results, strict=True):
            pending.result, pending.error = result, None

    # -- reading and closing --------------------------------------------------------------------
    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` on the reading connection (it sees every committed write)."""
        with self._read_lock:
            try:
                return fn(self._reader)
            except sqlite3.Error as exc:
                raise StoreError(f"{self.name} {self.path}: read failed ({type(exc).__name__}: {exc})") from None

    @property
    def closed(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Commit what is queued, stop the writer, close the file and release the lock. Idempotent."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        with self._read_lock:
            self._reader.close()
        self._conn.close()
        self._release_lock()

    def __repr__(self) -> str:
        return f"SqliteStore({self.name!r}, {str(self.path)!r}, closed={self._closing})"
