"""Samples out of SQLite as Arrow columns (ADBC), for the analytics' large reads.

``sqlite3``'s ``fetchall`` builds a Python tuple and six Python objects per sample, then
polars takes them apart again: reading a week of 100 athletes that way spent about 80 % of
``gympulse analyze --full``. The ADBC SQLite driver steps the statement in C and appends each
value to an Arrow column, which polars adopts without copying (``bench/bench_sample_read.py``
measures both on the same store).

Rules this keeps (``gympulse.sqlite_owner``):

- **One owner per file per process.** The reader's connection is a second, *read-only*
  connection (``mode=ro``) of the store, opened, used and closed only inside work on the
  store's owner thread, so nothing reads on an event loop and nothing writes through it.
- **Committed data, one snapshot.** The file is in WAL mode, so the read sees what was
  committed when it began and never waits for the writer. A read is one ``BEGIN`` … ``ROLLBACK``
  on the reader's connection: the queries of one read (one per strap) share a snapshot, and the
  next read starts a new one (never a stale snapshot left open between reads).
- **Same frame.** The columns are cast to the row path's types and then go through the same
  expressions (:func:`gympulse.pipeline.stores.sqlite.samples_frame`), so the frame has
  :data:`SAMPLE_COLUMNS` and the same values (``tests/test_arrow_read.py`` compares both reads).

The strap's samples are read one strap at a time through the ``(sensor, ts)`` primary key
(a range scan already in order: no sort, and no per-sample ``sensor`` string to extract;
the strap id is one literal per part). Without a strap list the straps come from a loose
index scan of the key (one probe per strap), not from the ``ts`` index, which in a
``WITHOUT ROWID`` table costs a key lookup per sample plus a sort.

When the driver cannot say a column's type the way the row path does (its types come from
the values of the first batch: a column stored with a REAL or TEXT among INTEGERs), or the
driver fails, :meth:`ArrowReader.read` returns ``None`` and the store reads the rows as before:
slower, never different.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import adbc_driver_sqlite.dbapi as adbc_sqlite
import polars as pl
from adbc_driver_manager import Error as AdbcError

log = logging.getLogger(__name__)

# Rows per Arrow batch the driver builds (its default is 1,024; larger batches mean fewer
# chunks for polars to stitch and fewer type checks, at a few MB per batch).
BATCH_ROWS = 65_536
BUSY_MS = 30_000

# The raw column types the reader hands to samples_frame: what the driver reports for an
# INTEGER / TEXT column (an all-NULL column is reported as int64, also what we want).
_RAW: dict[str, pl.DataType] = {
    "athlete_id": pl.Int64(),
    "ts": pl.Int64(),
    "bpm": pl.Int64(),
    "rr": pl.String(),
    "contact": pl.Int64(),
}

# Every strap id in the store, in the key's order, one index probe each.
_SENSORS = (
    "WITH RECURSIVE s(sensor) AS (SELECT min(sensor) FROM samples UNION ALL"
    " SELECT (SELECT min(sensor) FROM samples WHERE sensor > s.sensor) FROM s"
    " WHERE s.sensor IS NOT NULL) SELECT sensor FROM s WHERE sensor IS NOT NULL"
)


class ArrowReader:
    """A read-only ADBC connection to one store file, used only on its owner thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: adbc_sqlite.AdbcSqliteConnection | None = None
        self._warned = False

    def _connection(self) -> adbc_sqlite.AdbcSqliteConnection:
        if self._conn is None:
            uri = self.path.resolve().as_uri() + "?mode=ro"
            conn = adbc_sqlite.connect(uri, autocommit=False)
            try:
                with conn.cursor() as cur:
                    cur.execute(f"PRAGMA busy_timeout={BUSY_MS}")
                    cur.fetchall()
                conn.rollback()
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def read(
        self,
        start_ms: int,
        end_ms: int,
        sensors: Sequence[str] | None,
        athlete_ids: Sequence[int] | None,
    ) -> pl.DataFrame | None:
        """The raw (sensor, athlete_id, ts, bpm, rr, contact) frame in (sensor, ts) order,
        or ``None`` when the row path has to read it (see the module docstring)."""
        try:
            return self._read(start_ms, end_ms, sensors, athlete_ids)
        except (AdbcError, OSError) as err:  # OSError: the Arrow stream's reader
            self.close()  # a fresh connection next time
            if not self._warned:
                log.warning("%s: columnar sample read failed (%s); reading rows", self.path, err)
                self._warned = True
            return None

    def _read(
        self,
        start_ms: int,
        end_ms: int,
        sensors: Sequence[str] | None,
        athlete_ids: Sequence[int] | None,
    ) -> pl.DataFrame | None:
        conn = self._connection()
        where = "sensor = ? AND ts >= ? AND ts < ?"
        extra: list[object] = []
        if athlete_ids is not None:
            whose = f"athlete_id IN ({','.join('?' * len(athlete_ids))})"
            where += f" AND {whose}"
            extra = list(athlete_ids)
        sql = f"SELECT athlete_id, ts, bpm, rr, contact FROM samples WHERE {where} ORDER BY ts"
        parts: list[pl.DataFrame] = []
        try:  # one snapshot for all straps of this read
            with conn.cursor() as cur:
                cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(BATCH_ROWS)})
                if sensors is None and athlete_ids is not None:
                    # Some athletes' samples: their (athlete_id, ts) index, as the row path.
                    cur.execute(
                        "SELECT sensor, athlete_id, ts, bpm, rr, contact FROM samples"
                        f" WHERE ts >= ? AND ts < ? AND {whose}"
                        " ORDER BY sensor, ts",
                        [start_ms, end_ms, *extra],
                    )
                    return _checked(pl.from_arrow(cur.fetch_arrow_table()), sensor=True)
                if sensors is None:
                    cur.execute(_SENSORS)
                    straps = [str(r[0]) for r in cur.fetchall()]
                else:
                    straps = sorted(set(sensors))  # code point order = SQLite's BINARY order
                for sensor in straps:
                    cur.execute(sql, [sensor, start_ms, end_ms, *extra])
                    part = _checked(pl.from_arrow(cur.fetch_arrow_table()), sensor=False)
                    if part is None:
                        return None
                    if part.height:
                        parts.append(part.with_columns(pl.lit(sensor, pl.String).alias("sensor")))
        finally:
            conn.rollback()
        if not parts:
            return _empty()
        return pl.concat(parts, rechunk=False).select("sensor", *_RAW)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except (AdbcError, OSError):
                log.debug("%s: closing the columnar reader failed", self.path, exc_info=True)


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema={"sensor": pl.String(), **_RAW})


def _checked(frame: pl.DataFrame | pl.Series, *, sensor: bool) -> pl.DataFrame | None:
    """The driver's frame when its columns have the raw types (an empty result has none
    to speak of), else ``None``: a value the driver types differently (the row path)."""
    assert isinstance(frame, pl.DataFrame)
    if frame.height == 0:
        return _empty() if sensor else frame
    want = {"sensor": pl.String(), **_RAW} if sensor else _RAW
    if any(frame.schema.get(c) != t for c, t in want.items()):
        return None
    return frame
