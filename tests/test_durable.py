"""`relaykit.durable.SqliteStore`: group commits give every writer its own result, and one bad write spoils no other."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from relaykit.durable import SqliteStore, StoreError

SCHEMA = "CREATE TABLE IF NOT EXISTS t (v INTEGER NOT NULL);"


def insert(value):
    return lambda conn: conn.execute("INSERT INTO t (v) VALUES (?)", (value,)).lastrowid


def values(path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return sorted(v for (v,) in conn.execute("SELECT v FROM t"))


def test_concurrent_writers_each_get_their_own_result_once_committed(tmp_path, figures):
    store = SqliteStore(tmp_path / "s.db", SCHEMA)
    start, results = threading.Barrier(64), {}

    def writer(n: int) -> None:
        start.wait()
        for k in range(10):
            results[n * 10 + k] = store.write(insert(n * 10 + k))
            assert n * 10 + k in values(tmp_path / "s.db")  # on disk when write returns: another connection sees it

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 640 and len(set(results.values())) == 640  # one row id each
    figures.add("durable", f"640 writes from 64 threads in {store.commits} commits")
    store.write_later(insert(-1))  # nobody waits for it: committed in the background, at the latest by close()
    store.close()
    assert values(tmp_path / "s.db") == [-1, *range(640)]


def test_a_failing_write_fails_alone_and_the_rest_of_its_group_commits(tmp_path):
    store = SqliteStore(tmp_path / "s.db", SCHEMA)
    start, outcomes = threading.Barrier(16), {}

    def writer(n: int) -> None:
        start.wait()
        try:
            outcomes[n] = store.write(insert(None if n == 7 else n))  # NULL breaks NOT NULL
        except StoreError as exc:
            outcomes[n] = exc

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert isinstance(outcomes[7], StoreError) and "write failed" in str(outcomes[7])
    assert all(isinstance(outcomes[n], int) for n in range(16) if n != 7)
    store.close()
    assert values(tmp_path / "s.db") == [n for n in range(16) if n != 7]
    with pytest.raises(StoreError, match="closed"):
        store.write(insert(99))
