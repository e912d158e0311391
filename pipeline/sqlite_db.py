"""The common shape of gympulse's small relational SQLite files (registry, journal,
accounts): one connection with the standard pragmas and the subclass's tables created if
missing. They share one file (``store.path``) and each owns its own tables."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import ClassVar

from gympulse.pipeline.stores.sqlite import connect


class SqliteDatabase:
    SCHEMA: ClassVar[str] = ""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn: sqlite3.Connection = connect(self.path)
        self.conn.executescript(self.SCHEMA)

    def close(self) -> None:
        self.conn.close()
