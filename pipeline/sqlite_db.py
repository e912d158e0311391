"""The common shape of gympulse's small relational SQLite files (registry, journal,
accounts, strength log): the file brought to its schema's latest version on open
(:mod:`gympulse.pipeline.store_schema`: one ordered list of steps for every table of the
file), every public method run as one unit of work on the file's owner thread
(:mod:`gympulse.sqlite_owner`).

They share one file (``store.path``) and each owns its own tables; they also share the
file's one owner with every other user in the process (the sample store included).

Every public method a subclass defines is wrapped at class creation (``__init_subclass__``):
called from any thread it runs on the owner thread and returns its result; called from the
owner thread (one method using another) it runs directly. So a new method cannot forget it.
Inside a method ``self.conn`` is the owner's connection; outside it raises. Write several
statements together with ``with transaction(self.conn):``; get new ids with
``INSERT ... RETURNING id`` (``lastrowid`` belongs to no request in particular).
Methods marked :func:`off_owner` hand over only their SQL. Coroutines call
:meth:`SqliteDatabase.arun` with a function of the connection, or
``asyncio.to_thread`` a method; never a method on the event loop.
"""

from __future__ import annotations

import functools
import inspect
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from gympulse.pipeline.store_schema import migrate_store
from gympulse.sqlite_owner import (
    DEFAULT_BUSY_MS,
    SqliteOwner,
    open_owner,
    transaction,
)

__all__ = ["SqliteDatabase", "new_id", "off_owner", "transaction"]

T = TypeVar("T")

# Not wrapped: lifecycle and the hand-over helpers themselves.
_UNWRAPPED = frozenset({"close", "run", "arun", "conn", "owner"})


def new_id(cur: sqlite3.Cursor) -> int:
    """The id of an ``INSERT ... RETURNING id``."""
    row = cur.fetchone()
    if row is None:
        raise sqlite3.IntegrityError("INSERT ... RETURNING id returned no row")
    return int(row[0])


def off_owner(method: Callable[..., T]) -> Callable[..., T]:
    """Leave this public method unwrapped: it does CPU work (a password hash) off the
    owner's thread and hands only its SQL to :meth:`SqliteDatabase.run`."""
    method._off_owner = True  # type: ignore[attr-defined]
    return method


def _owned(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def on_owner(self: SqliteDatabase, *args: Any, **kwargs: Any) -> T:
        return self.run(lambda _conn: method(self, *args, **kwargs))

    return on_owner


class SqliteDatabase:
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if name.startswith("_") or name in _UNWRAPPED or getattr(value, "_off_owner", False):
                continue
            if inspect.isfunction(value) and not inspect.iscoroutinefunction(value):
                setattr(cls, name, _owned(value))

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # A web app lowers this so a file another process holds locked answers 503 quickly.
        self.busy_ms = DEFAULT_BUSY_MS
        self._owner: SqliteOwner | None = open_owner(self.path)
        try:
            self.run(self._create)
        except BaseException:
            self.close()  # a file this release cannot open (SchemaTooNew) leaves no owner
            raise

    def _create(self, conn: sqlite3.Connection) -> None:
        """The schema's pending steps (:func:`migrate_store`); a subclass adds its seed rows."""
        migrate_store(conn, self.path)

    @property
    def owner(self) -> SqliteOwner:
        if self._owner is None:
            raise RuntimeError(f"{self.path}: database is closed")
        return self._owner

    @property
    def conn(self) -> sqlite3.Connection:
        """The owner's connection (only inside work running on the owner's thread)."""
        return self.owner.conn

    def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(conn)`` on the owner's thread, from a thread (waits for it)."""
        return self.owner.run(fn, busy_ms=self.busy_ms)

    async def arun(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(conn)`` on the owner's thread, from a coroutine (the loop goes on)."""
        return await self.owner.arun(fn, busy_ms=self.busy_ms)

    def close(self) -> None:
        owner, self._owner = self._owner, None
        if owner is not None:
            owner.release()
