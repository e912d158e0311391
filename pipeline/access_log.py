"""The access log: who looked at, exported or erased whose data, and when
(``docs/privacy.md``, "Access log").

Written for every coach view of a person's data (a coach page or API answer about one
athlete), every export (the person's zip, a coach's CSV of a whole table: one entry per
person in it) and every erasure. A person's entries are part of her export; her erasure
deletes them and leaves one entry naming nobody: "erased on <date> by <who>".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gympulse import contract
from gympulse.pipeline.sqlite_db import SqliteDatabase, transaction

__all__ = ["CONSENT", "ERASURE", "EXPORT", "VIEW", "AccessLog", "Entry"]

VIEW = "view"
EXPORT = "export"
ERASURE = "erasure"
CONSENT = "consent"  # a coach recorded a consent decision for her


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    ts_ms: int
    actor: str
    athlete_id: int | None
    what: str
    detail: str


class AccessLog(SqliteDatabase):
    def record(self, actor: str, athlete_id: int | None, what: str, detail: str = "") -> None:
        self.conn.execute(
            "INSERT INTO access_log (ts_ms, actor, athlete_id, what, detail) VALUES (?,?,?,?,?)",
            (contract.now_ms(), actor, athlete_id, what, detail[:300]),
        )

    def record_many(
        self, actor: str, athlete_ids: Iterable[int], what: str, detail: str = ""
    ) -> None:
        now = contract.now_ms()
        with transaction(self.conn) as conn:
            conn.executemany(
                "INSERT INTO access_log (ts_ms, actor, athlete_id, what, detail)"
                " VALUES (?,?,?,?,?)",
                [(now, actor, a, what, detail[:300]) for a in athlete_ids],
            )

    def entries(self, *, athlete_id: int | None = None, limit: int = 200) -> list[Entry]:
        """The newest first; of one person when ``athlete_id`` is given."""
        sql = "SELECT id, ts_ms, actor, athlete_id, what, detail FROM access_log"
        params: tuple[object, ...] = ()
        if athlete_id is not None:
            sql += " WHERE athlete_id = ?"
            params = (athlete_id,)
        rows = self.conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [Entry(*row) for row in rows]

    def everyone(self) -> list[int]:
        """Every athlete's id (a whole-table export names each of them)."""
        return [int(a) for (a,) in self.conn.execute("SELECT id FROM athletes ORDER BY id")]
