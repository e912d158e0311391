"""One owner per SQLite file per process.

A :class:`SqliteOwner` is one thread holding the one connection a process has to one file.
Everybody else hands it work: a function of the connection, run there to completion before
the next one starts, so a unit of work (a transaction, an ``INSERT ... RETURNING``) is never
interleaved with another caller's statements.

- threads (a web app's threadpool, a command) call :meth:`SqliteOwner.run` and wait;
- coroutines ``await`` :meth:`SqliteOwner.arun`, which never blocks the event loop;
- work already running on the owner's thread (one method calling another) runs directly.

:func:`open_owner` gives every user of a file in the process the same owner (counted; the
last :meth:`SqliteOwner.release` closes the connection and ends the thread), so the
registry, the journal, the accounts and the sample store of one ``store.path`` share it.

Why not one connection shared by threads (``check_same_thread=False``): ``lastrowid`` and
the open transaction belong to the connection, so two requests' inserts and transactions
cross (30 threads adding and reading back readings: most got another thread's row).

:func:`transaction` is the one way to write several statements together.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

DEFAULT_BUSY_MS = 30_000


def connect(path: str | Path, *, any_thread: bool = False) -> sqlite3.Connection:
    """A connection with the pragmas every gympulse SQLite user wants (autocommit mode:
    transactions are explicit, see :func:`transaction`)."""
    conn = sqlite3.connect(
        str(path), timeout=30, isolation_level=None, check_same_thread=not any_thread
    )
    _wal(conn)
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={DEFAULT_BUSY_MS}")
    # A deleted row's bytes are overwritten, not left in free pages (erasure, retention).
    conn.execute("PRAGMA secure_delete=ON")
    return conn


def _wal(conn: sqlite3.Connection) -> None:
    """``journal_mode=WAL``. Turning a new file to WAL takes an exclusive lock that SQLite
    does not wait for (no busy handler): two processes opening the same new file at once
    (ingest and the web app) got "database is locked". Retried until the busy timeout."""
    deadline = time.monotonic() + DEFAULT_BUSY_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # on the owner's thread, never on an event loop


@contextmanager
def transaction(conn: sqlite3.Connection, *, write: bool = True) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` (the write lock at once, so no reader-turned-writer deadlock;
    ``write=False``: a plain ``BEGIN``, one consistent snapshot for several reads),
    ``COMMIT`` on success, ``ROLLBACK`` on any exception (re-raised). Inside an open
    transaction it joins it: the outermost one commits or rolls back."""
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


_Job = tuple[Callable[[sqlite3.Connection], object], int, "Future[object]"]


class SqliteOwner:
    """The one thread that holds a process's connection to ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.users = 0
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._busy_ms = DEFAULT_BUSY_MS
        self._conn: sqlite3.Connection | None = None
        # Started without waiting (an event loop may be the one opening it): the thread
        # connects first, and a failure to open is every queued job's error.
        self._thread = threading.Thread(
            target=self._serve, name=f"sqlite-owner:{path.name}", daemon=True
        )
        self._thread.start()

    @property
    def on_owner_thread(self) -> bool:
        return threading.current_thread() is self._thread

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection; only on the owner's thread (inside work handed to it)."""
        if not self.on_owner_thread or self._conn is None:
            raise RuntimeError(f"{self.path}: the connection is used only by its owner thread")
        return self._conn

    def _serve(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = connect(self.path)
        except Exception as err:
            while (failed := self._jobs.get()) is not None:
                if failed[2].set_running_or_notify_cancel():
                    failed[2].set_exception(err)
            return
        conn = self._conn
        while (job := self._jobs.get()) is not None:
            fn, busy_ms, done = job
            if not done.set_running_or_notify_cancel():
                continue
            try:
                self._set_busy(conn, busy_ms)
                result = fn(conn)
            except BaseException as err:
                if conn.in_transaction:  # never leave a transaction open for the next job
                    conn.execute("ROLLBACK")
                done.set_exception(err)
            else:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                    done.set_exception(RuntimeError("work left a transaction open"))
                else:
                    done.set_result(result)
        conn.close()
        self._conn = None

    def _set_busy(self, conn: sqlite3.Connection, busy_ms: int) -> None:
        if busy_ms != self._busy_ms:
            conn.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            self._busy_ms = busy_ms

    def submit(
        self, fn: Callable[[sqlite3.Connection], T], *, busy_ms: int = DEFAULT_BUSY_MS
    ) -> Future[T]:
        """Queue ``fn(conn)`` for the owner's thread."""
        if not self._thread.is_alive():
            raise RuntimeError(f"{self.path}: the database is closed")
        done: Future[T] = Future()
        self._jobs.put((fn, busy_ms, done))  # type: ignore[arg-type]
        return done

    def run(self, fn: Callable[[sqlite3.Connection], T], *, busy_ms: int = DEFAULT_BUSY_MS) -> T:
        """Run ``fn(conn)`` on the owner's thread and wait for its result (from a thread)."""
        if self.on_owner_thread:
            return fn(self.conn)
        return self.submit(fn, busy_ms=busy_ms).result()

    async def arun(
        self, fn: Callable[[sqlite3.Connection], T], *, busy_ms: int = DEFAULT_BUSY_MS
    ) -> T:
        """Run ``fn(conn)`` on the owner's thread; the event loop goes on meanwhile."""
        return await asyncio.wrap_future(self.submit(fn, busy_ms=busy_ms))

    def release(self) -> None:
        """One user fewer; the last one closes the connection and ends the thread."""
        with _OWNERS_LOCK:
            self.users -= 1
            if self.users > 0:
                return
            _OWNERS.pop(self.path, None)
        self._jobs.put(None)
        if not self.on_owner_thread:
            self._thread.join()


_OWNERS: dict[Path, SqliteOwner] = {}
_OWNERS_LOCK = threading.Lock()


def open_owner(path: str | Path) -> SqliteOwner:
    """The process's owner of ``path`` (started on first use); pair with ``release()``."""
    key = Path(path).absolute().resolve()
    with _OWNERS_LOCK:
        owner = _OWNERS.get(key)
        if owner is None:
            owner = _OWNERS[key] = SqliteOwner(key)
        owner.users += 1
        return owner
