"""One owner per SQLite file per process, under many threads at once: every caller gets
its own row back (``RETURNING id``), transactions never interleave, a failing unit of work
rolls back only itself, and every user of a file in the process shares one owner."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gympulse.dashboards.accounts import Accounts
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.sqlite import SqliteStore
from gympulse.sqlite_owner import open_owner, transaction

THREADS = 30
ROUNDS = 20


def test_many_threads_each_read_back_their_own_reading(tmp_path: Path) -> None:
    db = tmp_path / "gympulse.db"
    registry = Registry(db)
    ids = [registry.add_athlete(f"Guest {i}") for i in range(THREADS)]
    journal = Journal(db)
    start = threading.Barrier(THREADS)

    def guest(i: int) -> int:
        wrong = 0
        for r in range(ROUNDS):
            start.wait()
            t0 = 1_000_000 * (i + 1) + r * 1000
            reading_id = journal.add_reading(ids[i], t0, t0 + 500, method="guest", rmssd=float(i))
            got = journal.reading(reading_id)
            wrong += got is None or got.athlete_id != ids[i] or got.start_ms != t0
        return wrong

    with ThreadPoolExecutor(THREADS) as pool:
        wrong = sum(pool.map(guest, range(THREADS)))
    assert wrong == 0
    assert len(journal.morning_recordings()) == THREADS * ROUNDS
    journal.close()
    registry.close()


def test_transactions_of_many_threads_never_interleave(tmp_path: Path) -> None:
    db = tmp_path / "gympulse.db"
    registry = Registry(db)
    athlete = registry.add_athlete("Ann")
    accounts = Accounts(db)
    start = threading.Barrier(THREADS)

    def issue(i: int) -> str:
        start.wait()
        return accounts.issue_guest_token(athlete, 2**60, secret=b"s" * 32)

    with ThreadPoolExecutor(THREADS) as pool:
        tokens = list(pool.map(issue, range(THREADS)))
    stored = accounts.guest_tokens(athlete)
    assert len(stored) == len(set(tokens)) == THREADS
    assert accounts.showable_guest_links() == {t.id for t in stored}
    accounts.close()
    registry.close()


def test_a_failing_unit_rolls_back_only_itself(tmp_path: Path) -> None:
    owner = open_owner(tmp_path / "x.db")
    owner.run(lambda c: c.execute("CREATE TABLE t (v INTEGER NOT NULL)"))

    def half_done(conn: sqlite3.Connection) -> None:
        with transaction(conn):
            conn.execute("INSERT INTO t VALUES (1)")
            conn.execute("INSERT INTO t VALUES (NULL)")  # NOT NULL: the unit fails

    with pytest.raises(sqlite3.IntegrityError):
        owner.run(half_done)
    owner.run(lambda c: c.execute("INSERT INTO t VALUES (2)"))
    assert owner.run(lambda c: c.execute("SELECT v FROM t").fetchall()) == [(2,)]
    with pytest.raises(RuntimeError, match="owner thread"):
        _ = owner.conn  # not on the owner's thread
    owner.release()


def test_every_user_of_a_file_shares_one_owner(tmp_path: Path) -> None:
    db = tmp_path / "gympulse.db"
    registry, journal = Registry(db), Journal(db)
    store = SqliteStore(db)

    async def from_the_loop() -> set[int]:
        await store.open()
        try:
            seen = await asyncio.gather(
                *(store.execute("SELECT 1") for _ in range(5)),
                journal.arun(lambda c: c.execute("SELECT 1").fetchall()),
            )
            assert all(rows == [(1,)] for rows in seen)
            return {
                registry.run(lambda c: threading.get_ident()),
                await journal.arun(lambda c: threading.get_ident()),
                await store._run(threading.get_ident),
            }
        finally:
            await store.close()

    threads = asyncio.run(from_the_loop())
    assert len(threads) == 1 and threading.get_ident() not in threads
    assert registry.owner is journal.owner
    journal.close()
    registry.close()
